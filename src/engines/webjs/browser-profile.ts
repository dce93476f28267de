import { constants } from 'node:fs';
import { access, lstat, mkdir, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Where whatsapp-web.js's LocalAuth keeps a session (it names the folder `session-<clientId>`). */
export function profileDirOf(authPath: string, sessionId: string): string {
  return join(resolve(authPath), `session-${sessionId}`);
}

/** True when `path` is an executable file. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Chromium's single-instance guards. A browser killed with SIGKILL leaves them behind and the next start fails. */
const SINGLETON_FILES = ['SingletonLock', 'SingletonSocket', 'SingletonCookie'];

/** Creates the profile dir and removes stale Chromium locks (only call when no browser of this session runs). */
export async function prepareProfile(profileDir: string): Promise<string[]> {
  await mkdir(profileDir, { recursive: true });
  const removed: string[] = [];
  for (const name of SINGLETON_FILES) {
    const file = join(profileDir, name);
    try {
      await lstat(file); // SingletonLock is a dangling symlink: lstat, not stat.
    } catch {
      continue;
    }
    await unlink(file);
    removed.push(name);
  }
  return removed;
}

export async function removeProfile(profileDir: string): Promise<void> {
  await rm(profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

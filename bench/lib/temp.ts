import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<string>();
let exitHookInstalled = false;

/**
 * Registers a directory to be removed if this process exits before its owner removes it (an
 * exception, or Ctrl-C handled by run-all's signal handler, which skips `finally` blocks).
 */
export function trackDir(dir: string): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const path of live) rmSync(path, { recursive: true, force: true });
    });
  }
  live.add(dir);
  return () => {
    live.delete(dir);
  };
}

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

/** A fresh directory under the OS temp dir, removed by `remove()` or, failing that, at exit. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const untrack = trackDir(path);
  return {
    path,
    remove: async () => {
      await rm(path, { recursive: true, force: true });
      untrack();
    },
  };
}

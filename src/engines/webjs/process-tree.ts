import { readdir, readFile } from 'node:fs/promises';

export interface ProcessInfo {
  pid: number;
  pgid: number;
  /** Resident memory in bytes. */
  rssBytes: number;
  cmdline: string;
}

/** Reads /proc/<pid>/stat fields after the command name (which may contain spaces and parentheses). */
async function readStat(pid: number): Promise<{ state: string; pgid: number; rssPages: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', pgid: Number(fields[2]), rssPages: Number(fields[21]) };
  } catch {
    return null;
  }
}

/**
 * Live (not zombie) processes whose command line contains `needle` — e.g. a session's Chromium
 * profile directory. Linux only (/proc); elsewhere it finds nothing.
 */
export async function findProcesses(needle: string): Promise<ProcessInfo[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const found: ProcessInfo[] = [];
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (entry) => {
        const pid = Number(entry);
        let cmdline: string;
        try {
          cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
        } catch {
          return;
        }
        if (!cmdline.includes(needle)) return;
        const stat = await readStat(pid);
        if (!stat || stat.state === 'Z' || stat.state === 'X') return;
        found.push({ pid, pgid: stat.pgid, rssBytes: stat.rssPages * 4096, cmdline });
      }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs a whole process group (Chromium and its zygote, renderers, GPU process). */
export function killProcessGroup(pgid: number): void {
  for (const target of [-pgid, pgid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

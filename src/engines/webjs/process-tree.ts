import { readdir, readFile } from 'node:fs/promises';

export interface ProcessInfo {
  pid: number;
  pgid: number;
  args: string[];
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
 * Live (not zombie) processes whose command line contains `needle` — e.g. a directory every
 * browser of a test runs under — with every process of their process groups (Chromium's GPU and
 * utility processes do not name the profile). Linux only (/proc); elsewhere it finds nothing.
 */
export async function findProcesses(needle: string): Promise<ProcessInfo[]> {
  return findGroupsOf((args) => isBrowser(args) && args.some((arg) => arg.includes(needle)));
}

/** Only a browser's groups are expanded: a test's redis-server shares the test runner's group. */
function isBrowser(args: string[]): boolean {
  return /chrom(e|ium)/i.test(args[0] ?? '');
}

async function findGroupsOf(member: (args: string[]) => boolean): Promise<ProcessInfo[]> {
  const all = await findProcessesWhere(() => true);
  const groups = new Set(all.filter((p) => member(p.args)).map((p) => p.pgid));
  return all.filter((p) => groups.has(p.pgid));
}

/**
 * The live processes of the Chromium whose profile is exactly `profileDir` (session `a` never
 * matches `ab`): the processes carrying `--user-data-dir=<profileDir>` and every process of their
 * process groups (the GPU and utility processes do not carry the flag).
 */
export async function findBrowserProcesses(profileDir: string): Promise<ProcessInfo[]> {
  const flag = `--user-data-dir=${profileDir}`;
  return findGroupsOf((args) => isBrowser(args) && args.includes(flag));
}

async function findProcessesWhere(match: (args: string[]) => boolean): Promise<ProcessInfo[]> {
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
        let args: string[];
        try {
          args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
        } catch {
          return;
        }
        if (!match(args)) return;
        const cmdline = args.join(' ');
        const stat = await readStat(pid);
        if (!stat || stat.state === 'Z' || stat.state === 'X') return;
        found.push({ pid, pgid: stat.pgid, args, rssBytes: stat.rssPages * 4096, cmdline });
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

/** Proportional set size of one process in bytes (shared pages divided among their users), or 0 when gone. */
export async function readPssBytes(pid: number): Promise<number> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Processes and summed PSS of the Chromium running on `profileDir` (a session's profile). */
export async function browserMemoryOf(profileDir: string): Promise<{ processes: number; pssBytes: number; rssBytes: number }> {
  const processes = await findBrowserProcesses(profileDir);
  const pss = await Promise.all(processes.map((p) => readPssBytes(p.pid)));
  return {
    processes: processes.length,
    pssBytes: pss.reduce((a, b) => a + b, 0),
    rssBytes: processes.reduce((a, p) => a + p.rssBytes, 0),
  };
}

/**
 * Waits until no process of the Chromium on `profileDir` is alive (checking every 25 ms), killing
 * the groups of any that remain; returns what is still there after `timeoutMs`.
 */
export async function waitUntilGone(profileDir: string, timeoutMs: number): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await findBrowserProcesses(profileDir);
    if (left.length === 0 || Date.now() >= deadline) return left;
    for (const p of left) killProcessGroup(p.pgid);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

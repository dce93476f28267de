/**
 * Reading the memory of a Chromium's whole process tree, and making sure no Chromium a benchmark
 * started outlives it. Linux only (/proc).
 *
 * A session's Chromium is a process group: puppeteer spawns the browser detached, so it leads its
 * own group, and its zygotes, renderers, GPU and utility processes inherit that group. The tree of
 * a browser is every live process of that group plus, in case one ever left it, every descendant
 * of the leader by parent pid.
 *
 * This is read independently of src's `findBrowserProcesses(profileDir)` (which expands the
 * groups of the processes carrying `--user-data-dir=<profileDir>`), so that the benchmark can
 * cross-check it: both must find the same processes while a session runs, and none after stop().
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { sleep } from './stats.js';

export interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  /** Arguments joined with spaces (a rewritten Chromium child has one string already). */
  cmdline: string;
  /** Arguments as the kernel has them, NUL-separated. */
  argv: string[];
}

function parseStat(stat: string): { state: string; ppid: number; pgid: number } {
  // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgid: Number(fields[2]) };
}

/** Every live (not zombie) process. */
export async function listProcesses(): Promise<ProcEntry[]> {
  const entries = (await readdir('/proc')).filter((e) => /^\d+$/.test(e));
  const found = await Promise.all(
    entries.map(async (entry): Promise<ProcEntry | null> => {
      const pid = Number(entry);
      try {
        const [stat, raw] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/cmdline`, 'utf8')]);
        const { state, ppid, pgid } = parseStat(stat);
        if (state === 'Z' || state === 'X') return null;
        const argv = raw.split('\0').filter((a) => a.length > 0);
        return { pid, ppid, pgid, state, cmdline: argv.join(' '), argv };
      } catch {
        return null; // ended meanwhile
      }
    }),
  );
  return found.filter((p): p is ProcEntry => p !== null).sort((a, b) => a.pid - b.pid);
}

/** The processes of the tree led by `leader`: its process group plus its descendants by parent pid. */
export function treeOf(leader: number, processes: readonly ProcEntry[]): ProcEntry[] {
  const inTree = new Set<number>();
  for (const p of processes) if (p.pid === leader || p.pgid === leader) inTree.add(p.pid);
  // Descendants by ppid, to a fixed point (a process that left the group is still counted).
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of processes) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        grew = true;
      }
    }
  }
  return processes.filter((p) => inTree.has(p.pid));
}

export interface SmapsRollup {
  rss: number;
  pss: number;
  pssAnon: number;
  pssFile: number;
  pssShmem: number;
  /** Private_Clean + Private_Dirty: the unique set size (what killing the process frees). */
  uss: number;
  swap: number;
}

/** /proc/<pid>/smaps_rollup in bytes, or null when the process is gone. */
export async function readSmapsRollup(pid: number): Promise<SmapsRollup | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
  };
  return {
    rss: field('Rss'),
    pss: field('Pss'),
    pssAnon: field('Pss_Anon'),
    pssFile: field('Pss_File'),
    pssShmem: field('Pss_Shmem'),
    uss: field('Private_Clean') + field('Private_Dirty'),
    swap: field('Swap'),
  };
}

/** What a Chromium process is: browser, zygote, gpu-process, renderer(webui), utility:network… */
export function chromiumProcessType(cmdline: string): string {
  // A SIGKILLed process whose memory is already gone shows an empty command line until it is reaped.
  if (cmdline === '') return 'exiting';
  const type = /--type=(\S+)/.exec(cmdline)?.[1];
  if (type === undefined) return 'browser';
  if (type === 'renderer' && cmdline.includes('--top-chrome-webui')) return 'renderer(webui)';
  if (type === 'renderer' && cmdline.includes('--extension-process')) return 'renderer(extension)';
  if (type === 'utility') {
    const sub = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1];
    return `utility:${(sub ?? '?').replace(/\.mojom\..*$/, '')}`;
  }
  return type;
}

export interface ProcessMemory extends SmapsRollup {
  pid: number;
  type: string;
}

export interface TreeMemory {
  leader: number;
  processes: ProcessMemory[];
  totals: SmapsRollup & { count: number };
}

const ZERO: SmapsRollup = { rss: 0, pss: 0, pssAnon: 0, pssFile: 0, pssShmem: 0, uss: 0, swap: 0 };

function add(a: SmapsRollup, b: SmapsRollup): SmapsRollup {
  return {
    rss: a.rss + b.rss,
    pss: a.pss + b.pss,
    pssAnon: a.pssAnon + b.pssAnon,
    pssFile: a.pssFile + b.pssFile,
    pssShmem: a.pssShmem + b.pssShmem,
    uss: a.uss + b.uss,
    swap: a.swap + b.swap,
  };
}

/** Memory of every process of each tree, read from one listing of /proc. */
export async function treesMemory(leaders: readonly number[]): Promise<{ trees: TreeMemory[]; all: ProcEntry[] }> {
  const all = await listProcesses();
  const trees = await Promise.all(
    leaders.map(async (leader): Promise<TreeMemory> => {
      const members = treeOf(leader, all);
      const read = await Promise.all(
        members.map(async (p): Promise<ProcessMemory | null> => {
          const smaps = await readSmapsRollup(p.pid);
          return smaps ? { pid: p.pid, type: chromiumProcessType(p.cmdline), ...smaps } : null;
        }),
      );
      const processes = read.filter((p): p is ProcessMemory => p !== null);
      const sum = processes.reduce<SmapsRollup>((acc, p) => add(acc, p), ZERO);
      return { leader, processes, totals: { ...sum, count: processes.length } };
    }),
  );
  return { trees, all };
}

/** The executable a process runs (e.g. /usr/lib/chromium/chromium behind the /usr/bin wrapper), or null. */
export async function exeOf(pid: number): Promise<string | null> {
  try {
    return await readlink(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/**
 * Live processes running `exe` that are not in `ours`: another Chromium on the machine shares the
 * binary's file pages, which lowers our PSS (PSS divides a shared page among all its users).
 */
export async function foreignProcessesOf(exe: string, ours: ReadonlySet<number>, all?: readonly ProcEntry[]): Promise<number> {
  const processes = all ?? (await listProcesses());
  const candidates = processes.filter((p) => !ours.has(p.pid) && (p.argv[0] ?? '').includes('chrom'));
  const exes = await Promise.all(candidates.map((p) => exeOf(p.pid)));
  return exes.filter((e) => e === exe).length;
}

/**
 * Defaults of {@link settle}: at least 2 s after a launch, then reads 500 ms apart until two
 * consecutive pairs differ by < 2 % with the same process count (one pair can pass while a
 * renderer is still loading), at most 20 s.
 */
export const SETTLE = { minMs: 2_000, intervalMs: 500, tolerance: 0.02, pairs: 2, maxMs: 20_000 } as const;

export interface Settled<T> {
  value: T;
  /** True when the reads settled (see {@link settle}) before the deadline. */
  stable: boolean;
  settleMs: number;
  reads: number;
  /** Relative difference between the last two reads. */
  lastChange: number;
}

/**
 * Waits `minMs`, then reads every `intervalMs` until `pairs` consecutive pairs of reads have the
 * same process count and values within `tolerance` of each other, or `maxMs` has passed.
 */
export async function settle<T>(
  read: () => Promise<T>,
  measure: (value: T) => { value: number; count: number },
  options: { minMs?: number; intervalMs?: number; tolerance?: number; pairs?: number; maxMs?: number } = {},
): Promise<Settled<T>> {
  const { minMs = SETTLE.minMs, intervalMs = SETTLE.intervalMs, tolerance = SETTLE.tolerance, pairs = SETTLE.pairs, maxMs = SETTLE.maxMs } = options;
  const started = performance.now();
  await sleep(minMs);
  let previous = await read();
  let reads = 1;
  let stablePairs = 0;
  for (;;) {
    await sleep(intervalMs);
    const current = await read();
    reads++;
    const a = measure(previous);
    const b = measure(current);
    const change = a.value > 0 ? Math.abs(b.value - a.value) / a.value : Number.POSITIVE_INFINITY;
    stablePairs = a.count === b.count && change < tolerance ? stablePairs + 1 : 0;
    const elapsed = performance.now() - started;
    if (stablePairs >= pairs || elapsed >= maxMs) {
      return { value: current, stable: stablePairs >= pairs, settleMs: elapsed, reads, lastChange: change };
    }
    previous = current;
  }
}

/** SIGKILLs a process group and its leader; true when something was signalled. */
export function killGroup(pgid: number): boolean {
  let signalled = false;
  for (const target of [-pgid, pgid]) {
    try {
      process.kill(target, 'SIGKILL');
      signalled = true;
    } catch {
      // already gone
    }
  }
  return signalled;
}

/** This process's own group: never signalled (a worker started from a shell shares its shell's group). */
function ownGroup(): number {
  try {
    return parseStat(readFileSync('/proc/self/stat', 'utf8')).pgid;
  } catch {
    return process.pid;
  }
}

/**
 * Synchronously kills every Chromium process (argv[0] mentions "chrom") whose command line
 * mentions `dir` — every browser of a benchmark runs with its profile under its temp dir — with its
 * whole process group. Safe in a process 'exit' handler. Returns the pids found.
 */
export function sweepSync(dir: string): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  const own = ownGroup();
  for (const entry of entries) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const argv0 = cmdline.split(/[\0 ]/, 1)[0] ?? '';
      if (!argv0.includes('chrom') || !cmdline.includes(dir)) continue;
      const { pgid, state } = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (state === 'Z' || state === 'X') continue;
      found.push(pid);
      if (pgid !== own && pgid > 1) killGroup(pgid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

/** Kills everything under `dir` until nothing is left (bounded); returns the pids it had to kill. */
export async function sweep(dir: string, timeoutMs = 5_000): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = sweepSync(dir);
    for (const pid of found) killed.add(pid);
    if (found.length === 0 || Date.now() >= deadline) return [...killed];
    await sleep(50);
  }
}

const guarded = new Set<string>();
let exitHook = false;

/** Registers `dir`: whatever Chromium still runs under it when this process exits is killed. */
export function guardDir(dir: string): () => void {
  if (!exitHook) {
    exitHook = true;
    // Before the temp-dir hook removes the directory the browsers still write to.
    process.prependListener('exit', () => {
      for (const d of guarded) sweepSync(d);
    });
  }
  guarded.add(dir);
  return () => {
    guarded.delete(dir);
  };
}

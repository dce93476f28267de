import { readdir, readFile } from 'node:fs/promises';
import { sleep } from './stats.js';

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/**
 * Collects garbage (the process must run with --expose-gc) a few times, letting pending timers
 * and finalizers run in between, then reads process.memoryUsage().
 */
export async function settledMemory(): Promise<MemorySample> {
  const collect = globalThis.gc;
  if (!collect) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) {
    collect();
    await sleep(25);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** VmRSS / VmHWM of another process, in bytes, from /proc/<pid>/status (Linux). */
export async function procStatusMemory(pid: number): Promise<{ vmRss: number; vmHwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]) * 1024;
  };
  return { vmRss: field('VmRSS'), vmHwm: field('VmHWM') };
}

/** Pids whose parent is `pid` (helpers a process started, e.g. an esbuild service). */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

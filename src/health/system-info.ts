import { cpus, freemem, loadavg, totalmem, uptime as systemUptime } from 'node:os';
import { resolve, sep } from 'node:path';
import si from 'systeminformation';
import { messageOf } from './deadline.js';
import { round } from './latency-window.js';

/** What `systeminformation` measured at the last background check (PERFORMANCE_MONITORING=true). */
export interface CostlySystemSample {
  /** Whole-machine CPU busy share over the last check interval, 0–100. */
  cpuLoadPercent: number | null;
  disk: DiskUsage | null;
  /** Why a part is missing, if one is. */
  error: string | null;
  collectedAt: string;
}

export interface DiskUsage {
  /** Mount point of the file system holding SESSIONS_PATH. */
  mount: string;
  fs: string;
  type: string;
  sizeBytes: number;
  usedBytes: number;
  availableBytes: number;
  usedPercent: number;
}

/**
 * The costly collectors: `currentLoad` (the CPU share since its previous call — each background
 * check — read from /proc/stat) and `fsSize` (runs `df`), for the file system of `sessionsPath`
 * (auth data, media, the embedded registry: what fills up).
 */
export async function sampleCostlySystem(sessionsPath: string): Promise<CostlySystemSample> {
  const [load, sizes] = await Promise.allSettled([si.currentLoad(), si.fsSize()]);
  const errors: string[] = [];
  if (load.status === 'rejected') errors.push(`cpu load: ${messageOf(load.reason)}`);
  if (sizes.status === 'rejected') errors.push(`disk: ${messageOf(sizes.reason)}`);
  const disk = sizes.status === 'fulfilled' ? diskOf(sizes.value, sessionsPath) : null;
  if (sizes.status === 'fulfilled' && disk === null) errors.push('disk: no file system holds SESSIONS_PATH');
  return {
    cpuLoadPercent: load.status === 'fulfilled' ? round(load.value.currentLoad) : null,
    disk,
    error: errors.length === 0 ? null : errors.join('; '),
    collectedAt: new Date().toISOString(),
  };
}

/** The file system whose mount point is the longest prefix of `path`. */
export function diskOf(sizes: readonly { fs: string; type: string; size: number; used: number; available: number; mount: string }[], path: string): DiskUsage | null {
  const target = resolve(path);
  const holds = (mount: string): boolean => mount === '/' || target === mount || target.startsWith(mount.endsWith(sep) ? mount : mount + sep);
  const best = sizes.filter((s) => s.mount !== '' && holds(s.mount)).sort((a, b) => b.mount.length - a.mount.length)[0];
  if (!best) return null;
  return {
    mount: best.mount,
    fs: best.fs,
    type: best.type,
    sizeBytes: best.size,
    usedBytes: best.used,
    availableBytes: best.available,
    usedPercent: best.size > 0 ? round((best.used / best.size) * 100) : 0,
  };
}

/**
 * The gateway process's CPU share between two `sample()` calls (the background checks), from
 * process.cpuUsage(): 100 = every core busy with this process, like the machine-wide figure.
 */
export class ProcessCpu {
  private previous = { usage: process.cpuUsage(), at: performance.now() };
  private percent: number | null = null;

  sample(): number | null {
    const now = { usage: process.cpuUsage(), at: performance.now() };
    const elapsedUs = (now.at - this.previous.at) * 1_000;
    if (elapsedUs > 0) {
      const busyUs = now.usage.user - this.previous.usage.user + (now.usage.system - this.previous.usage.system);
      this.percent = round((busyUs / elapsedUs / Math.max(1, cpus().length)) * 100);
    }
    this.previous = now;
    return this.percent;
  }

  /** The share measured at the last sample (null before the first). */
  last(): number | null {
    return this.percent;
  }
}

/** The cheap values (node:os, process), read when asked. */
export function cheapSystem(): {
  cores: number;
  loadAverage: number[];
  memory: { totalBytes: number; freeBytes: number; usedBytes: number; usedPercent: number };
  process: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
  uptime: number;
  systemUptime: number;
} {
  const total = totalmem();
  const free = freemem();
  const mem = process.memoryUsage();
  return {
    cores: cpus().length,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    memory: { totalBytes: total, freeBytes: free, usedBytes: total - free, usedPercent: round(((total - free) / total) * 100) },
    process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external },
    uptime: Math.round(process.uptime() * 10) / 10,
    systemUptime: Math.round(systemUptime()),
  };
}

/**
 * The parent's side of the send benchmarks: starts a server under test
 * (bench/workers/send-server.worker.ts, gateway or bare BullMQ), talks to its control port, runs
 * the load generator (bench/workers/load-client.worker.ts) as a process of its own, and measures a
 * phase: the client's figures plus the server's and redis-server's CPU over the same window.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { z } from 'zod';
import type { CompiledSources } from './compile.js';
import { gatewayEnv } from './gateway-env.js';
import { LoadResult, LoadSpec, Percentiles } from './load.js';
import { runWorker, startNode, tail, type NodeChild } from './processes.js';
import { redisCpuSeconds } from './redis.js';
import { sleep } from './stats.js';
import { tempDir, type TempDir } from './temp.js';

export const READY_MARKER = '@@BENCH_READY@@';
const SERVER_WORKER = 'bench/workers/send-server.worker.ts';
const CLIENT_WORKER = 'bench/workers/load-client.worker.ts';
const STARTUP_TIMEOUT_MS = 90_000;

/**
 * Pacing off, fast simulator acks, a rate limit no run reaches: what the send benchmarks run with.
 * A QR code lives 30 minutes: the sessions P1 leaves waiting for their scan (created together) would
 * otherwise all render a new QR PNG in the same turn once a minute — 10 renders, 60–120 ms of CPU
 * that lands in whatever phase runs then (an open-loop p99 of 244 ms once), work that has nothing
 * to do with accepting sends.
 */
export const SEND_BENCH_ENV = {
  SEND_MIN_INTERVAL_MS: '0',
  SEND_JITTER_MS: '0',
  SIMULATOR_ACK_DELAYS_MS: '5,10,15',
  RATE_LIMIT_MAX: '1000000',
  WHATSAPP_QR_TIMEOUT: '30m',
} as const;

const Ready = z.object({ port: z.number(), controlPort: z.number(), sessions: z.array(z.string()), pid: z.number() });

export const ServerStats = z.object({
  accepted: z.number(),
  sent: z.number(),
  dropped: z.number(),
  violations: z.number(),
  duplicates: z.number(),
  refused: z.number(),
  acceptIndex: z.number(),
  sendIndex: z.number(),
  cpuUs: z.number(),
  cpuSystemUs: z.number(),
  eluActiveMs: z.number(),
  eluIdleMs: z.number(),
  rssBytes: z.number(),
  epochMs: z.number(),
});
export type ServerStats = z.infer<typeof ServerStats>;

export const Drain = z.object({
  drained: z.boolean(),
  backlog: z.number(),
  waitedMs: z.number(),
  sentMs: z.number().optional(),
  dropped: z.number().optional(),
});
export type Drain = z.infer<typeof Drain>;

export const Summary = z.object({
  accepted: z.number(),
  sent: z.number(),
  unmatched: z.number(),
  spanMs: z.number(),
  e2eThroughput: z.preprocess((v) => (v === null ? Number.NaN : v), z.number().or(z.nan())),
  latencyMs: Percentiles,
});
export type Summary = z.infer<typeof Summary>;

export type ServerKind = 'gateway' | 'bare' | 'durable' | 'contract';

export interface SendServer {
  readonly kind: ServerKind;
  readonly origin: string;
  readonly pid: number;
  readonly prefix: string;
  /** The ready sessions (gateway) or queues (bare) the load goes to. */
  readonly sessions: string[];
  readonly apiKey: string | null;
  /** The compiled build it runs from (null: from source through tsx); its load generator runs the same way. */
  readonly compiled: CompiledSources | null;
  stats(): Promise<ServerStats>;
  drain(timeoutMs?: number): Promise<Drain>;
  summary(fromAccept: number, fromSend: number): Promise<Summary>;
  pending(n: number): Promise<string[]>;
  scanPending(): Promise<number>;
  stop(): Promise<void>;
}

async function call(port: number, method: 'GET' | 'POST', path: string): Promise<unknown> {
  const { statusCode, body } = await request(`http://127.0.0.1:${port}${path}`, { method, headersTimeout: 180_000, bodyTimeout: 180_000 });
  const json = await body.json();
  if (statusCode !== 200) throw new Error(`control ${method} ${path}: ${statusCode} ${JSON.stringify(json)}`);
  return json;
}

async function waitForReady(node: NodeChild, what: string): Promise<z.infer<typeof Ready>> {
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  const state = { exited: false };
  void node.exited.then(() => {
    state.exited = true;
  });
  for (;;) {
    const line = node.stdout().split('\n').find((l) => l.startsWith(READY_MARKER));
    if (line !== undefined) return Ready.parse(JSON.parse(line.slice(READY_MARKER.length)));
    if (state.exited) throw new Error(`${what} exited before it was ready\n${tail(node.stderr())}\n${tail(node.stdout())}`);
    if (performance.now() > deadline) throw new Error(`${what}: not ready after ${STARTUP_TIMEOUT_MS} ms\n${tail(node.stderr())}`);
    await sleep(50);
  }
}

export interface StartOptions {
  kind: ServerKind;
  sessions: number;
  /** bare only: a BullMQ Worker per queue. */
  workers: boolean;
  redisUrl: string;
  prefix: string;
  /** Extra node flags for the server (e.g. --cpu-prof for an investigation). */
  nodeFlags?: readonly string[];
  /** Run the server (and the load generator of its phases) from this build under plain node; from source through tsx without. */
  compiled?: CompiledSources | null;
}

/** Starts a server under test and waits until it listens (gateway: with its sessions ready). */
export async function startSendServer(options: StartOptions): Promise<SendServer> {
  const dir: TempDir = await tempDir(`wagw-bench-${options.kind}-`);
  const env = gatewayEnv({ sessionsPath: dir.path, redis: { url: options.redisUrl, prefix: options.prefix }, extra: { ...SEND_BENCH_ENV } });
  const spec = { mode: options.kind, sessions: options.sessions, workers: options.workers };
  const compiled = options.compiled ?? null;
  const script = compiled ? compiled.script(SERVER_WORKER) : SERVER_WORKER;
  const node = startNode(script, [JSON.stringify(spec)], { env, maxOutput: 50_000, nodeFlags: options.nodeFlags ?? [], plainNode: compiled !== null });
  try {
    const ready = await waitForReady(node, `${options.kind} server`);
    const c = ready.controlPort;
    return {
      kind: options.kind,
      origin: `http://127.0.0.1:${ready.port}`,
      pid: ready.pid,
      prefix: options.prefix,
      sessions: ready.sessions,
      apiKey: options.kind === 'gateway' ? (env.API_KEY ?? null) : null,
      compiled,
      stats: async () => ServerStats.parse(await call(c, 'GET', '/stats')),
      drain: async (timeoutMs = 90_000) => Drain.parse(await call(c, 'POST', `/drain?timeoutMs=${timeoutMs}`)),
      summary: async (fromAccept, fromSend) => Summary.parse(await call(c, 'GET', `/summary?fromAccept=${fromAccept}&fromSend=${fromSend}`)),
      pending: async (n) => z.object({ ids: z.array(z.string()) }).parse(await call(c, 'POST', `/pending?n=${n}`)).ids,
      scanPending: async () => z.object({ scanned: z.number() }).parse(await call(c, 'POST', '/pending/scan')).scanned,
      stop: async () => {
        await node.stop(12_000);
        await dir.remove();
      },
    };
  } catch (error) {
    await node.stop(1_000);
    await dir.remove();
    throw error;
  }
}

/** Runs the load generator in a process of its own (from `compiled` under plain node, or through tsx) and returns what it measured. */
export async function runLoad(spec: LoadSpec, compiled: CompiledSources | null = null): Promise<LoadResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production' };
  const script = compiled ? compiled.script(CLIENT_WORKER) : CLIENT_WORKER;
  const raw = await runWorker(script, [JSON.stringify(LoadSpec.parse(spec))], { env, timeoutMs: spec.maxMs + spec.graceMs + 30_000, plainNode: compiled !== null });
  return LoadResult.parse(raw);
}

export interface PhaseCpu {
  /** Server process CPU (user + system), ms. */
  serverCpuMs: number;
  /** Of which in the kernel (system time: syscalls, loopback TCP), ms. */
  serverSystemCpuMs: number;
  /** redis-server CPU, ms. */
  redisCpuMs: number;
  /** Share of the window the server's event loop was busy. */
  serverElu: number;
  windowMs: number;
  /** CPU the whole machine used in the window (/proc/stat, all CPUs), ms. */
  machineCpuMs: number;
  /**
   * Machine CPU not used by this benchmark (server, redis-server, load generator, this process),
   * in cores: other work on a shared machine that competed with the measurement.
   */
  foreignCores: number;
}

/** Busy and total jiffies of all CPUs (/proc/stat; USER_HZ = 100 on Linux). */
function machineJiffies(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}
const JIFFY_MS = 10;

const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

/**
 * Waits (at most `maxMs`) until the machine is quiet — less than `cores` CPUs busy over 500 ms —
 * so that a phase does not start in the middle of someone else's burst. Returns how long it
 * waited and the load last seen, in cores.
 */
export async function waitForQuiet(maxMs = 2_000, cores = 0.3): Promise<{ waitedMs: number; busyCores: number }> {
  const started = performance.now();
  for (;;) {
    const a = machineJiffies();
    await sleep(500);
    const b = machineJiffies();
    const busyCores = ((b.busy - a.busy) * JIFFY_MS) / 500;
    const waitedMs = performance.now() - started;
    if (!(busyCores >= cores) || waitedMs >= maxMs) return { waitedMs: Math.round(waitedMs), busyCores: Math.round(busyCores * 100) / 100 };
  }
}

export interface Phase {
  /** The wait for a quiet machine before the phase. */
  quiet: { waitedMs: number; busyCores: number };
  load: LoadResult;
  /** Server stats at the start of the phase (the window of its sends starts at acceptIndex/sendIndex). */
  before: ServerStats;
  after: ServerStats;
  /** During the load. */
  cpu: PhaseCpu;
  /** From the start of the load until every send was sent (null when not drained in the phase). */
  cpuToDrained: PhaseCpu | null;
  drain: Drain | null;
}

interface CpuMark {
  server: ServerStats;
  redisSeconds: number;
  machine: { busy: number; total: number };
  ownMs: number;
  t: number;
}

async function cpuMark(server: SendServer, redis: Redis): Promise<CpuMark> {
  const [stats, redisSeconds] = await Promise.all([server.stats(), redisCpuSeconds(redis)]);
  return { server: stats, redisSeconds, machine: machineJiffies(), ownMs: ownCpuMs(), t: performance.now() };
}

function cpuBetween(a: CpuMark, b: CpuMark, clientCpuMs: number): PhaseCpu {
  const active = b.server.eluActiveMs - a.server.eluActiveMs;
  const idle = b.server.eluIdleMs - a.server.eluIdleMs;
  const serverCpuMs = (b.server.cpuUs - a.server.cpuUs) / 1_000;
  const redisCpuMs = (b.redisSeconds - a.redisSeconds) * 1_000;
  const machineCpuMs = (b.machine.busy - a.machine.busy) * JIFFY_MS;
  const windowMs = b.t - a.t;
  const foreignMs = machineCpuMs - serverCpuMs - redisCpuMs - clientCpuMs - (b.ownMs - a.ownMs);
  return {
    serverCpuMs,
    serverSystemCpuMs: (b.server.cpuSystemUs - a.server.cpuSystemUs) / 1_000,
    redisCpuMs,
    serverElu: active + idle > 0 ? active / (active + idle) : Number.NaN,
    windowMs,
    machineCpuMs,
    foreignCores: Math.round((Math.max(0, foreignMs) / windowMs) * 100) / 100,
  };
}

/**
 * One measured phase: a wait for a quiet machine, server/Redis/machine CPU read, the load run,
 * read again; then (unless `drain` is false) the server drained and the CPU read a third time.
 */
export async function measurePhase(server: SendServer, redis: Redis, spec: LoadSpec, drain = true): Promise<Phase> {
  const quiet = await waitForQuiet();
  const start = await cpuMark(server, redis);
  const load = await runLoad(spec, server.compiled);
  const end = await cpuMark(server, redis);
  const cpu = cpuBetween(start, end, load.clientProcessCpuMs);
  if (!drain) return { quiet, load, before: start.server, after: end.server, cpu, cpuToDrained: null, drain: null };
  const drained = await server.drain();
  const done = await cpuMark(server, redis);
  return { quiet, load, before: start.server, after: done.server, cpu, cpuToDrained: cpuBetween(start, done, load.clientProcessCpuMs), drain: drained };
}

/** A compact view of a phase for the logs. */
export function describePhase(kind: ServerKind, phase: Phase): string {
  const l = phase.load;
  const lat = l.latencyMs;
  const statuses = Object.entries(l.byStatus)
    .filter(([s]) => s !== '202')
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  const errors = Object.values(l.errors).reduce((s, n) => s + n, 0);
  const drain = phase.drain ? `, drain ${(phase.drain.waitedMs / 1000).toFixed(1)} s (backlog ${phase.drain.backlog})` : '';
  const warmup = l.warmupLatencyMs ? ` (warm-up p99 ${l.warmupLatencyMs.p99.toFixed(1)})` : '';
  return `${kind.padEnd(7)} ${l.throughput.toFixed(0).padStart(5)} req/s  p50 ${lat.p50.toFixed(1)} p99 ${lat.p99.toFixed(1)} max ${lat.max.toFixed(1)} ms${warmup}  (${l.ok} ok${statuses ? ` ${statuses}` : ''}${errors > 0 ? ` ${errors} errors` : ''}${l.unfinished > 0 ? ` ${l.unfinished} unfinished` : ''}) server CPU ${(phase.cpu.serverCpuMs / Math.max(1, l.ok) * 1000).toFixed(0)} µs/req, ELU ${phase.cpu.serverElu.toFixed(2)}${drain}, other load ${phase.cpu.foreignCores.toFixed(2)} cores`;
}

/**
 * Benchmark P3 (issue #5 "Measure") — inbound event → signed webhook: a simulator inbound message
 * until its Standard Webhooks POST reaches a local `node:http` receiver, in Redis mode, against a
 * bare undici POST loop to the same kind of receiver in the same run.
 *
 * One real redis-server (bench/lib/redis.ts). The gateway is built in this process
 * (`buildApp(loadConfig(env))`, Redis mode, APP_WEBHOOK_URL → the receiver, APP_WEBHOOK_EVENTS=message,
 * one WEBHOOK_SECRET) with a few ready simulator sessions; the receiver runs in a worker thread of
 * this process (workers/webhook-receiver.worker.ts), off the gateway's event loop as the monolith
 * is in production, and both read the same wall clock at sub-millisecond resolution. An event is
 * injected with the simulator engine's `receive()` (the text is its sequence number); the receiver
 * reads the envelope's `data.body`,
 * stamps the time the POST's body was complete and answers 200. The bare baseline POSTs the same
 * number of bytes (a captured gateway envelope with another sequence number) signed with the same
 * secret by src/webhooks/webhook-signer.ts, through a keep-alive undici Agent, to the same receiver.
 * Every 50th delivery of both is verified with the `standardwebhooks` package.
 *
 * Phases, each side in turn, each after a wait (≤ 2 s) for the machine to be quiet: warm-up (500
 * events), an open loop at a fixed rate (500/s for 20 s, scheduled on a clock: event i is due at
 * t0 + i/rate, whatever the deliveries do), then the ceiling: a closed loop with a window of
 * events in flight (a new one is injected whenever one is received), for a bounded count. The
 * ceilings run before the open loops, the gateway's open loop last (up to 90 s to drain).
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { SimulatorEngine } from '../src/engines/simulator/simulator-engine.js';
import { signWebhook } from '../src/webhooks/webhook-signer.js';
import { installSignalCleanup, isMain, runStandalone, numericFlag as flag } from './lib/cli.js';
import { BENCH_API_KEY, gatewayEnv } from './lib/gateway-env.js';
import { percentiles, type Percentiles } from './lib/load.js';
import { connectRedis, redisCpuSeconds, startRedis, type BenchRedis } from './lib/redis.js';
import { row, type BenchResult } from './lib/result.js';
import { waitForQuiet } from './lib/send-harness.js';
import { round, sleep } from './lib/stats.js';
import { tempDir, type TempDir } from './lib/temp.js';
import type { ReceiverMessage, ReceiverStats } from './workers/webhook-receiver.worker.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const CONTACT = '5511977776666@c.us';
const SESSIONS = 4;
const VERIFY_EVERY = 50;
const GOAL_P99_MS = 25;
/** How long the gateway's open loop may take to drain after its last injection. */
const OPEN_GRACE_MS = 90_000;
const AUTH = { 'x-api-key': BENCH_API_KEY };

type Kind = 'gateway' | 'bare';

export interface WebhookLatencyOptions {
  rate?: number;
  seconds?: number;
  warmupCount?: number;
  ceilingCount?: number;
  ceilingWindow?: number;
}

/** What the receiver (a worker thread, see workers/webhook-receiver.worker.ts) saw, by sequence number. */
interface Receiver {
  url: string;
  /** seq → wall-clock ms of reception (`wallNow()` of the receiver's thread). */
  received: Map<number, number>;
  /** Called on each first reception, once its message reaches this thread. */
  onReceive: ((seq: number) => void) | null;
  stats(): Promise<ReceiverStats>;
  close(): Promise<void>;
}

/** Wall-clock milliseconds, sub-millisecond resolution, comparable between threads. */
const wallNow = (): number => performance.timeOrigin + performance.now();

async function startReceiver(): Promise<Receiver> {
  // The thread registers tsx first (threads do not inherit it), then loads the TypeScript module.
  const entry = new URL('./workers/webhook-receiver.worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { secret: SECRET, verifyEvery: VERIFY_EVERY } });
  const received = new Map<number, number>();
  let statsWaiter: ((stats: ReceiverStats) => void) | null = null;
  const receiver: Receiver = {
    url: '',
    received,
    onReceive: null,
    stats: () =>
      new Promise<ReceiverStats>((resolve) => {
        statsWaiter = resolve;
        worker.postMessage({ type: 'stats' });
      }),
    close: async () => {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'close' });
      await Promise.race([exited, sleep(5_000)]);
      await worker.terminate();
    },
  };
  const ready = new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: ReceiverMessage) => {
      if (message.type === 'received') {
        received.set(message.seq, message.at);
        receiver.onReceive?.(message.seq);
      } else if (message.type === 'ready') resolve(message.port);
      else {
        const { type: _type, ...stats } = message;
        statsWaiter?.(stats);
        statsWaiter = null;
      }
    });
  });
  receiver.url = `http://127.0.0.1:${await ready}`;
  return receiver;
}

/** Machine CPU (all cores, user+nice+system+irq+softirq+steal) in ms, from /proc/stat. */
function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy * 10;
}

const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

interface PhaseResult {
  label: string;
  mode: 'open' | 'closed';
  injected: number;
  received: number;
  lost: number;
  /** inject → received. */
  latencyMs: Percentiles;
  /** Open loop: how late injections ran against their schedule. */
  injectLagMs: Percentiles | null;
  /** received / (last reception − first injection). */
  deliveredPerSec: number;
  spanMs: number;
  quiet: { waitedMs: number; busyCores: number };
  cpu: { benchProcessCores: number; redisCores: number; otherLoadCores: number; benchCpuUsPerEvent: number; redisCpuUsPerEvent: number };
}

interface Side {
  kind: Kind;
  /** Injects event `seq` now. */
  inject(seq: number): void;
}

const seqState = { next: 1 };

async function runPhase(side: Side, receiver: Receiver, redis: Redis, label: string, input: { mode: 'open'; rate: number; count: number } | { mode: 'closed'; window: number; count: number }, graceMs = 15_000): Promise<PhaseResult> {
  const quiet = await waitForQuiet();
  const first = seqState.next;
  seqState.next += input.count;
  const injectedAt = new Float64Array(input.count).fill(Number.NaN);
  const lag: number[] = [];
  let receivedCount = 0;
  let allReceived: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allReceived = resolve;
  });
  let nextIndex = 0;
  const injectOne = (): void => {
    const i = nextIndex++;
    injectedAt[i] = wallNow();
    side.inject(first + i);
  };
  receiver.onReceive = (seq) => {
    const i = seq - first;
    if (i < 0 || i >= input.count) return;
    receivedCount += 1;
    if (input.mode === 'closed' && nextIndex < input.count) injectOne();
    if (receivedCount === input.count) allReceived();
  };
  const redisBefore = await redisCpuSeconds(redis);
  const machineBefore = machineBusyMs();
  const ownBefore = ownCpuMs();
  const t0 = wallNow();
  if (input.mode === 'open') {
    const interval = 1_000 / input.rate;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = wallNow();
        while (nextIndex < input.count && t0 + nextIndex * interval <= now) {
          const due = t0 + nextIndex * interval;
          injectOne();
          lag.push((injectedAt[nextIndex - 1] ?? due) - due);
        }
        if (nextIndex >= input.count) resolve();
        else setTimeout(tick, Math.max(0, Math.min(1, t0 + nextIndex * interval - wallNow())));
      };
      tick();
    });
  } else {
    for (let k = 0; k < Math.min(input.window, input.count); k++) injectOne();
  }
  await Promise.race([done, sleep(input.mode === 'open' ? graceMs : 60_000)]);
  const t1 = wallNow();
  const redisAfter = await redisCpuSeconds(redis);
  const machineMs = machineBusyMs() - machineBefore;
  const ownMs = ownCpuMs() - ownBefore;
  receiver.onReceive = null;
  const latencies: number[] = [];
  let lastReceive = t0;
  for (let i = 0; i < input.count; i++) {
    const at = receiver.received.get(first + i);
    const sent = injectedAt[i] ?? Number.NaN;
    if (at === undefined || Number.isNaN(sent)) continue;
    latencies.push(at - sent);
    if (at > lastReceive) lastReceive = at;
  }
  const windowMs = t1 - t0;
  const redisMs = (redisAfter - redisBefore) * 1_000;
  const spanMs = lastReceive - t0;
  const result: PhaseResult = {
    label,
    mode: input.mode,
    injected: nextIndex,
    received: latencies.length,
    lost: input.count - latencies.length,
    latencyMs: percentiles(latencies),
    injectLagMs: input.mode === 'open' ? percentiles(lag) : null,
    deliveredPerSec: round((latencies.length / spanMs) * 1_000, 1),
    spanMs: round(spanMs, 0),
    quiet,
    cpu: {
      benchProcessCores: round(ownMs / windowMs, 2),
      redisCores: round(redisMs / windowMs, 2),
      otherLoadCores: round(Math.max(0, machineMs - ownMs - redisMs) / windowMs, 2),
      benchCpuUsPerEvent: round((ownMs / Math.max(1, latencies.length)) * 1_000, 0),
      redisCpuUsPerEvent: round((redisMs / Math.max(1, latencies.length)) * 1_000, 0),
    },
  };
  const l = result.latencyMs;
  console.log(
    `    ${side.kind.padEnd(7)} ${label.padEnd(10)} ${result.received}/${input.count} received, ${result.deliveredPerSec.toFixed(0)} ev/s, inject→received p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} max ${l.max.toFixed(1)} ms` +
      `${result.injectLagMs ? `, inject lag p99 ${result.injectLagMs.p99.toFixed(2)} ms` : ''}; CPU bench ${result.cpu.benchProcessCores} redis ${result.cpu.redisCores} other ${result.cpu.otherLoadCores} cores`,
  );
  return result;
}

interface Gateway {
  app: FastifyInstance;
  dir: TempDir;
  side: Side;
}

async function startGateway(redisUrl: string, receiverUrl: string): Promise<Gateway> {
  const dir = await tempDir('wagw-bench-webhook-');
  const env = gatewayEnv({
    sessionsPath: dir.path,
    redis: { url: redisUrl, prefix: `wh${randomBytes(3).toString('hex')}` },
    extra: {
      APP_WEBHOOK_URL: `${receiverUrl}/hook`,
      APP_WEBHOOK_EVENTS: 'message',
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_TIMEOUT: '5s',
      RATE_LIMIT_MAX: '1000000',
    },
  });
  const app = await buildApp(loadConfig(env));
  try {
    await app.ready();
    const engines: SimulatorEngine[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const id = `wh${i}`;
      const created = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id, engine: 'simulator' } });
      if (created.statusCode >= 300) throw new Error(`create session ${id}: ${created.statusCode} ${created.body}`);
      await app.gateway.sessions.waitForStatus(id, ['qr'], 2_000);
      const scanned = await app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/scan`, headers: AUTH, payload: {} });
      if (scanned.statusCode >= 300) throw new Error(`scan session ${id}: ${scanned.statusCode} ${scanned.body}`);
      await app.gateway.sessions.waitForStatus(id, ['ready'], 5_000);
      const engine = app.gateway.sessions.readyEngine(id);
      if (!(engine instanceof SimulatorEngine)) throw new Error(`session ${id}: not a simulator engine`);
      engines.push(engine);
    }
    const side: Side = {
      kind: 'gateway',
      inject: (seq) => {
        engines[seq % engines.length]?.receive({ from: CONTACT, type: 'text', text: String(seq) });
      },
    };
    return { app, dir, side };
  } catch (error) {
    await app.close();
    await dir.remove();
    throw error;
  }
}

/** The bare baseline: sign (webhook-signer.ts) a body of the gateway's size and POST it with undici. */
function bareSide(receiverUrl: string, template: string, errors: { count: number }): { side: Side; agent: Agent } {
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: null });
  const url = `${receiverUrl}/bare`;
  const parsed = JSON.parse(template) as { id?: string; data?: { body?: string } };
  const side: Side = {
    kind: 'bare',
    inject: (seq) => {
      // Same envelope, another sequence number: the same size give or take a few digits.
      const envelope = { ...parsed, id: `evt_bare_${seq}`, data: { ...parsed.data, body: String(seq) } };
      const body = JSON.stringify(envelope);
      const headers = signWebhook({ id: `evt_bare_${seq}`, timestamp: Math.floor(Date.now() / 1000), body, secrets: [SECRET] });
      request(url, { method: 'POST', dispatcher: agent, body, headers: { ...headers, 'content-type': 'application/json' } })
        .then((res) => res.body.dump())
        .catch(() => {
          errors.count += 1;
        });
    },
  };
  return { side, agent };
}

interface SideResult {
  warmup: PhaseResult;
  open: PhaseResult;
  ceiling: PhaseResult;
}

export async function runWebhookLatency(options: WebhookLatencyOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const rate = options.rate ?? 500;
  const seconds = options.seconds ?? 20;
  const warmupCount = options.warmupCount ?? 500;
  const ceilingCount = options.ceilingCount ?? 3_000;
  const ceilingWindow = options.ceilingWindow ?? 200;

  let redisServer: BenchRedis | null = null;
  let observer: Redis | null = null;
  let receiver: Receiver | null = null;
  let gateway: Gateway | null = null;
  let agent: Agent | null = null;
  try {
    redisServer = await startRedis();
    observer = await connectRedis(redisServer.url);
    receiver = await startReceiver();
    console.log(`  webhook-latency: redis-server, receiver ${receiver.url}, gateway in process (${SESSIONS} ready simulator sessions)…`);
    gateway = await startGateway(redisServer.url, receiver.url);
    const redis = observer;
    const recv = receiver;
    const gw = gateway.side;
    const results: Partial<Record<Kind, Partial<SideResult>>> = { gateway: {}, bare: {} };

    console.log(`  webhook-latency: warm-up (${warmupCount} events each), open loop ${rate}/s for ${seconds} s, ceiling (closed, ${ceilingWindow} in flight, ${ceilingCount} events)`);
    results.gateway = { warmup: await runPhase(gw, recv, redis, 'warm-up', { mode: 'closed', window: 50, count: warmupCount }) };
    const sample = (await recv.stats()).sample;
    if (sample === null) throw new Error('no gateway webhook received during the warm-up');
    const bareErrors = { count: 0 };
    const bare = bareSide(recv.url, sample, bareErrors);
    agent = bare.agent;
    results.bare = { warmup: await runPhase(bare.side, recv, redis, 'warm-up', { mode: 'closed', window: 50, count: warmupCount }) };

    const open = { mode: 'open' as const, rate, count: rate * seconds };
    const closed = { mode: 'closed' as const, window: ceilingWindow, count: ceilingCount };
    // Ceilings first: an open loop the gateway cannot keep up with leaves a backlog behind it, so the
    // gateway's open loop runs last, with a long grace to drain (what is still missing then is counted).
    results.gateway.ceiling = await runPhase(gw, recv, redis, 'ceiling', closed);
    results.bare.ceiling = await runPhase(bare.side, recv, redis, 'ceiling', closed);
    results.bare.open = await runPhase(bare.side, recv, redis, 'open', open);
    results.gateway.open = await runPhase(gw, recv, redis, 'open', open, OPEN_GRACE_MS);

    const g = results.gateway as SideResult;
    const b = results.bare as SideResult;
    const seen = await recv.stats();
    const sizes = [...seen.bodyBytes].sort((x, y) => x - y);
    return report(g, b, performance.now() - started, {
      settings: { rate, seconds, warmupCount, ceilingCount, ceilingWindow, sessions: SESSIONS, verifyEvery: VERIFY_EVERY },
      receiver: { duplicates: seen.duplicates, unparsed: seen.unparsed, verified: seen.verified, verifyFailures: seen.verifyFailures, bodyBytes: { min: sizes[0] ?? 0, max: sizes[sizes.length - 1] ?? 0 } },
      bareRequestErrors: bareErrors.count,
    });
  } finally {
    if (gateway) {
      await gateway.app.close().catch(() => undefined);
      await gateway.dir.remove().catch(() => undefined);
    }
    await agent?.close().catch(() => undefined);
    await receiver?.close();
    await observer?.quit().catch(() => undefined);
    observer?.disconnect();
    await redisServer?.stop();
  }
}

function report(g: SideResult, b: SideResult, durationMs: number, extra: { settings: Record<string, number>; receiver: Record<string, unknown>; bareRequestErrors: number }): BenchResult {
  const rate = extra.settings.rate ?? 0;
  const fixed = (v: number): [number, number] => [round(v, 2), round(v, 2)];
  const usPer = (p: PhaseResult): number => round(1e6 / p.deliveredPerSec, 1);
  const rows = [
    row({
      metric: `inbound → signed webhook at ${rate} ev/s open loop: p99 (goal ≤ ${GOAL_P99_MS} ms)`,
      unit: 'ms',
      value: round(g.open.latencyMs.p99, 2),
      baseline: round(b.open.latencyMs.p99, 2),
      baselineLabel: 'bare signed undici POST, same receiver',
      goal: GOAL_P99_MS,
      spread: fixed(g.open.latencyMs.p99),
      runs: 1,
    }),
    row({
      metric: `inbound → signed webhook at ${rate} ev/s open loop: p50 (informational)`,
      unit: 'ms',
      value: round(g.open.latencyMs.p50, 2),
      baseline: round(b.open.latencyMs.p50, 2),
      baselineLabel: 'bare signed undici POST, same receiver',
      goal: null,
      spread: fixed(g.open.latencyMs.p50),
      runs: 1,
    }),
    row({
      metric: `webhook ceiling, closed loop ${extra.settings.ceilingWindow} in flight: µs per event (1/throughput, informational)`,
      unit: 'µs',
      value: usPer(g.ceiling),
      baseline: usPer(b.ceiling),
      baselineLabel: `bare ${round(b.ceiling.deliveredPerSec, 0)} ev/s; gateway ${round(g.ceiling.deliveredPerSec, 0)} ev/s`,
      goal: null,
      spread: fixed(usPer(g.ceiling)),
      runs: 1,
    }),
    row({
      metric: `signature failures (standardwebhooks, every ${VERIFY_EVERY}th delivery, ${String(extra.receiver.verified)} checked) + events not received in time`,
      unit: '',
      value: Number(extra.receiver.verifyFailures) + g.open.lost + g.ceiling.lost + g.warmup.lost,
      baseline: b.open.lost + b.ceiling.lost + b.warmup.lost,
      baselineLabel: 'bare events not received in time',
      goal: 0,
      spread: fixed(Number(extra.receiver.verifyFailures)),
      runs: 1,
    }),
  ];
  return {
    name: 'webhook-latency',
    rows,
    raw: {
      ...extra,
      gateway: g,
      bare: b,
      ratios: {
        openP99: round(g.open.latencyMs.p99 / b.open.latencyMs.p99, 2),
        openP50: round(g.open.latencyMs.p50 / b.open.latencyMs.p50, 2),
        ceilingThroughput: round(g.ceiling.deliveredPerSec / b.ceiling.deliveredPerSec, 3),
        p99VsGoal: round(g.open.latencyMs.p99 / GOAL_P99_MS, 3),
      },
    },
    durationMs,
  };
}


if (isMain(import.meta.url)) {
  installSignalCleanup();
  const options: WebhookLatencyOptions = {};
  for (const key of ['rate', 'seconds', 'warmupCount', 'ceilingCount', 'ceilingWindow'] as const) {
    const value = flag(key);
    if (value !== undefined) options[key] = value;
  }
  await runStandalone(() => runWebhookLatency(options));
}

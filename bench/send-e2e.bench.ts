/**
 * Benchmark P2 (issue #4 "Measure") — sends end to end, accepted → engine send, across 100
 * simulator sessions in Redis mode with pacing off, against bare BullMQ add → process in the same run.
 *
 * One real redis-server serves the four servers, each a process of its own with its own key
 * prefix, all started up front and measured in turn:
 * - gateway: the real app, 100 ready simulator sessions (100 send lanes: each job parked in
 *   its lane's BullMQ queue and made from memory, see src/queue/parked-send-queue.ts),
 *   SEND_MIN_INTERVAL_MS=0, SEND_JITTER_MS=0, simulator acks after 5/10/15 ms (stored by the
 *   pipeline, like production);
 * - bare: the fair baseline keeps the same ordering guarantee — 100 BullMQ queues (`send-<id>`),
 *   one Worker with concurrency 1 each, on one shared producer and one shared worker connection
 *   (the gateway's layout), a Fastify route that only does `queue.add`, a processor that only
 *   records the job. One queue with one worker would serialise all sessions; one queue with 100
 *   concurrent workers would not keep a session's order;
 * - durable: the bare layout plus the least the issue asks of every design — a record stored before
 *   the 202 (SET + history ZADD, one Lua script), jobs carrying the id only, the processor reading
 *   the record for the text and writing it back `sent`. durable/bare is the ceiling of the
 *   goal's ratio for a design that keeps records (no events, acks or idempotency in it);
 * - contract: the durable minimum plus the rest of the contract's own work per send, the leanest
 *   way we could write it (bench/fixtures/contract-minimum.ts): the attempt recorded before the engine
 *   call, three acks after 5/10/15 ms, five record writes and seven events (`message.status` ×4,
 *   `message_ack` ×3) appended with their seq. contract/bare is the cost of the contract's work for
 *   every design; gateway/contract is the gateway's own overhead.
 * The load generator is a third process (undici, 50 connections, each owning 2 sessions, so that a
 * session never has two requests in flight and the order it sent them is the order they were
 * accepted). "Accepted" is when the server wrote the 202; "sent" when the engine's send() was
 * called (bare: when the processor ran). Each text carries its per-session sequence number; a
 * send whose number is below its session's previous one is an order violation.
 *
 * Phases, each server in turn, each after a wait (≤ 2 s) for the machine to be quiet: warm-up
 * (2,000), 2 × a burst of 10,000 sends as fast as the
 * server takes them (end-to-end rate = sends / (last send − first accept), latency accept → send,
 * dominated by the backlog), 1 × an open loop at a fixed 300 msg/s (latency accept → send when
 * not saturated), and last the Redis commands of 1,000 sends end to end, counted with MONITOR.
 * All servers and the load generator run compiled by tsc under plain node, the way the Docker image
 * runs the gateway (`--tsx`: from source through tsx instead, like `npm start`; tsx's transform costs
 * the gateway 6–7 % of its CPU per accept, benchmarks §19).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { installSignalCleanup, isMain, runStandalone, numericFlag as flag } from './lib/cli.js';
import { runFrom, sendBenchBuild, type CompiledSources } from './lib/compile.js';
import type { LoadSpec } from './lib/load.js';
import { perRunRatios, referenceRow, row, type BenchResult } from './lib/result.js';
import { commandCalls, connectRedis, diffCounts, perUnit, withoutObserver, startMonitor, startRedis, type BenchRedis, type MonitorCounts } from './lib/redis.js';
import { describePhase, measurePhase, startSendServer, type Phase, type SendServer, type ServerKind, type Summary } from './lib/send-harness.js';
import { max, median, min, round } from './lib/stats.js';

const SESSIONS = 100;
const CONNECTIONS = 50;
const GOAL_THROUGHPUT_RATIO = 0.8;
const COUNT_SENDS = 1_000;

export interface SendE2eOptions {
  runs?: number;
  burstCount?: number;
  fixedRate?: number;
  fixedSeconds?: number;
  warmupCount?: number;
  /** Run the servers and the load generator from source through tsx instead of compiled. */
  fromSource?: boolean;
}

interface Measured {
  phase: Phase;
  summary: Summary;
  violations: number;
  duplicates: number;
}

interface KindResult {
  kind: ServerKind;
  warmup: Measured;
  bursts: Measured[];
  fixed: Measured;
  count: {
    messages: number;
    perMessageTotal: number;
    perMessage: Record<string, number>;
    inScriptsPerMessage: Record<string, number>;
    monitor: MonitorCounts;
    commandstats: Record<string, number>;
  };
  totals: { accepted: number; sent: number; violations: number; duplicates: number };
}

const seq = { next: 1 };

function spec(server: SendServer, label: string, input: Partial<LoadSpec> & Pick<LoadSpec, 'mode' | 'count' | 'maxMs'>): LoadSpec {
  return {
    label,
    origin: server.origin,
    apiKey: server.apiKey,
    sessions: server.sessions,
    connections: CONNECTIONS,
    graceMs: 10_000,
    partition: input.mode === 'closed',
    seqBase: seq.next,
    ...input,
  };
}

async function measured(server: SendServer, redis: Redis, s: LoadSpec): Promise<Measured> {
  const phase = await measurePhase(server, redis, s);
  seq.next = Math.max(seq.next, phase.load.nextSeqBase);
  if (phase.drain && !phase.drain.drained) throw new Error(`${server.kind} ${s.label}: not drained after ${round(phase.drain.waitedMs / 1000, 1)} s`);
  const summary = await server.summary(phase.before.acceptIndex, phase.before.sendIndex);
  const result: Measured = {
    phase,
    summary,
    violations: phase.after.violations - phase.before.violations,
    duplicates: phase.after.duplicates - phase.before.duplicates,
  };
  const l = summary.latencyMs;
  console.log(
    `    ${s.label.padEnd(10)} ${describePhase(server.kind, phase)}\n` +
      `               e2e ${summary.e2eThroughput.toFixed(0)} msg/s (${summary.sent}/${summary.accepted} sent), accept→send p50 ${l.p50.toFixed(1)} p99 ${l.p99.toFixed(1)} ms, order violations ${result.violations}, duplicates ${result.duplicates}`,
  );
  return result;
}

async function countCommands(server: SendServer, redisUrl: string, observer: Redis): Promise<KindResult['count']> {
  const statsBefore = await commandCalls(observer);
  const monitor = await startMonitor(redisUrl);
  const phase = await measurePhase(server, observer, spec(server, 'count', { mode: 'closed', count: COUNT_SENDS, maxMs: 60_000 }));
  seq.next = Math.max(seq.next, phase.load.nextSeqBase);
  const counts = await monitor.stop(server.prefix);
  const commandstats = withoutObserver(diffCounts(await commandCalls(observer), statsBefore));
  if (phase.load.ok !== COUNT_SENDS || phase.drain?.drained !== true) throw new Error(`${server.kind}: the ${COUNT_SENDS} counted sends were not all accepted and sent`);
  return {
    messages: COUNT_SENDS,
    perMessageTotal: round(counts.topLevelTotal / COUNT_SENDS, 2),
    perMessage: perUnit(counts.topLevel, COUNT_SENDS),
    inScriptsPerMessage: perUnit(counts.inScripts, COUNT_SENDS),
    monitor: counts,
    commandstats,
  };
}

export async function runSendE2e(options: SendE2eOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const runs = options.runs ?? 2;
  const burstCount = options.burstCount ?? 10_000;
  const fixedRate = options.fixedRate ?? 300;
  const fixedSeconds = options.fixedSeconds ?? 8;
  const warmupCount = options.warmupCount ?? 2_000;

  let redisServer: BenchRedis | null = null;
  let observer: Redis | null = null;
  let compiled: CompiledSources | null = null;
  const servers: SendServer[] = [];
  try {
    compiled = await sendBenchBuild('send-e2e', options.fromSource === true);
    redisServer = await startRedis();
    observer = await connectRedis(redisServer.url);
    const run = randomBytes(3).toString('hex');
    console.log(`  send-e2e: starting redis-server, gateway (${SESSIONS} ready simulator sessions), bare BullMQ, durable minimum and contract minimum (${SESSIONS} queues + workers each)…`);
    const [bare, durable, contract, gateway] = await Promise.all([
      startSendServer({ kind: 'bare', sessions: SESSIONS, workers: true, redisUrl: redisServer.url, prefix: `bare${run}`, compiled }),
      startSendServer({ kind: 'durable', sessions: SESSIONS, workers: true, redisUrl: redisServer.url, prefix: `dur${run}`, compiled }),
      startSendServer({ kind: 'contract', sessions: SESSIONS, workers: true, redisUrl: redisServer.url, prefix: `con${run}`, compiled }),
      startSendServer({ kind: 'gateway', sessions: SESSIONS, workers: true, redisUrl: redisServer.url, prefix: `gw${run}`, compiled }),
    ]);
    servers.push(bare, durable, contract, gateway);
    const byKind = { bare, durable, contract, gateway };
    const redis = observer;
    // Each run starts with another server: bare, durable, contract, gateway; durable, contract, gateway, bare; …
    const kinds: ServerKind[] = ['bare', 'durable', 'contract', 'gateway'];
    const order = (i: number): ServerKind[] => kinds.map((_, k) => kinds[(i + k) % kinds.length] ?? 'bare');
    const partial: Record<ServerKind, Partial<KindResult>> = {
      bare: { kind: 'bare', bursts: [] },
      durable: { kind: 'durable', bursts: [] },
      contract: { kind: 'contract', bursts: [] },
      gateway: { kind: 'gateway', bursts: [] },
    };

    console.log(`  send-e2e: warm-up (${warmupCount} sends each)`);
    for (const kind of order(0)) partial[kind].warmup = await measured(byKind[kind], redis, spec(byKind[kind], 'warm-up', { mode: 'closed', count: warmupCount, maxMs: 30_000 }));
    console.log(`  send-e2e: bursts of ${burstCount} sends, ${CONNECTIONS} connections, ${runs} runs each`);
    for (let i = 0; i < runs; i++) {
      for (const kind of order(i)) partial[kind].bursts?.push(await measured(byKind[kind], redis, spec(byKind[kind], `burst ${i + 1}`, { mode: 'closed', count: burstCount, maxMs: 30_000 })));
    }
    console.log(`  send-e2e: open loop at ${fixedRate} msg/s for ${fixedSeconds} s`);
    for (const kind of order(1)) {
      const s = spec(byKind[kind], 'fixed rate', { mode: 'open', rate: fixedRate, count: fixedRate * fixedSeconds, maxMs: fixedSeconds * 1_000 + 1_000 });
      partial[kind].fixed = await measured(byKind[kind], redis, s);
    }
    console.log(`  send-e2e: counting Redis commands (MONITOR) of ${COUNT_SENDS} sends end to end`);
    for (const kind of order(0)) partial[kind].count = await countCommands(byKind[kind], redisServer.url, redis);
    for (const kind of order(0)) {
      const s = await byKind[kind].stats();
      partial[kind].totals = { accepted: s.accepted, sent: s.sent, violations: s.violations, duplicates: s.duplicates };
    }
    const complete = (kind: ServerKind): KindResult => {
      const { warmup, bursts, fixed, count, totals } = partial[kind];
      if (!warmup || !bursts || !fixed || !count || !totals) throw new Error(`${kind}: a phase's results are missing`);
      return { kind, warmup, bursts, fixed, count, totals };
    };
    return report(complete('gateway'), complete('bare'), complete('durable'), complete('contract'), performance.now() - started, { runs, burstCount, fixedRate, fixedSeconds, warmupCount, runFrom: runFrom(compiled) });
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await observer?.quit().catch(() => undefined);
    observer?.disconnect();
    await redisServer?.stop();
    await compiled?.remove();
  }
}

function view(k: KindResult): Record<string, unknown> {
  const m = (x: Measured): Record<string, unknown> => ({
    acceptThroughput: x.phase.load.throughput,
    e2eThroughput: round(x.summary.e2eThroughput, 1),
    accepted: x.summary.accepted,
    sent: x.summary.sent,
    unmatched: x.summary.unmatched,
    spanMs: round(x.summary.spanMs, 0),
    acceptToSendMs: x.summary.latencyMs,
    httpLatencyMs: x.phase.load.latencyMs,
    dispatchLagMs: x.phase.load.dispatchLagMs,
    byStatus: x.phase.load.byStatus,
    errors: x.phase.load.errors,
    violations: x.violations,
    duplicates: x.duplicates,
    drain: x.phase.drain,
    serverCpuUsPerMsg: x.phase.cpuToDrained ? round((x.phase.cpuToDrained.serverCpuMs / x.summary.sent) * 1_000, 0) : null,
    serverKernelShare: x.phase.cpuToDrained ? round(x.phase.cpuToDrained.serverSystemCpuMs / x.phase.cpuToDrained.serverCpuMs, 2) : null,
    redisCpuUsPerMsg: x.phase.cpuToDrained ? round((x.phase.cpuToDrained.redisCpuMs / x.summary.sent) * 1_000, 0) : null,
    clientCpuUsPerMsg: round((x.phase.load.clientCpuMs / Math.max(1, x.phase.load.ok)) * 1_000, 0),
    serverRssMB: round(x.phase.after.rssBytes / 1024 / 1024, 1),
    otherLoadCores: x.phase.cpu.foreignCores,
    quietWait: x.phase.quiet,
  });
  return {
    medians: {
      e2eThroughput: round(median(k.bursts.map((b) => b.summary.e2eThroughput)), 1),
      acceptThroughput: round(median(k.bursts.map((b) => b.phase.load.throughput)), 1),
      burstAcceptToSendP50Ms: round(median(k.bursts.map((b) => b.summary.latencyMs.p50)), 1),
      burstAcceptToSendP99Ms: round(median(k.bursts.map((b) => b.summary.latencyMs.p99)), 1),
      serverCpuUsPerMsg: round(median(k.bursts.map((b) => ((b.phase.cpuToDrained?.serverCpuMs ?? Number.NaN) / b.summary.sent) * 1_000)), 0),
      redisCpuUsPerMsg: round(median(k.bursts.map((b) => ((b.phase.cpuToDrained?.redisCpuMs ?? Number.NaN) / b.summary.sent) * 1_000)), 0),
      fixedAcceptToSendP50Ms: k.fixed.summary.latencyMs.p50,
      fixedAcceptToSendP99Ms: k.fixed.summary.latencyMs.p99,
    },
    totals: k.totals,
    warmup: m(k.warmup),
    bursts: k.bursts.map(m),
    fixed: m(k.fixed),
    redisCommandsPerSend: { total: k.count.perMessageTotal, byCommand: k.count.perMessage, inScripts: k.count.inScriptsPerMessage },
    countWindow: { ...k.count.monitor, commandstats: k.count.commandstats },
  };
}

function report(g: KindResult, b: KindResult, d: KindResult, c: KindResult, durationMs: number, settings: Record<string, number | string>): BenchResult {
  const thr = (k: KindResult): number[] => k.bursts.map((x) => x.summary.e2eThroughput);
  const us = (values: number[]): number[] => values.map((v) => 1e6 / v);
  const gUs = us(thr(g));
  const bareUs = median(us(thr(b)));
  // Same-run ratios, burst by burst.
  const perRun = (x: KindResult, y: KindResult): number[] => perRunRatios(thr(x), thr(y));
  const fixedRate = settings.fixedRate ?? 0;
  const rows = [
    row({
      metric: `sends end to end, ${SESSIONS} sessions: µs per message (1/throughput; goal ≥ ${GOAL_THROUGHPUT_RATIO}× bare msg/s)`,
      unit: 'µs',
      value: round(median(gUs), 1),
      baseline: round(bareUs, 1),
      baselineLabel: `bare BullMQ add→process, ${SESSIONS} queues × 1 worker, ${round(median(thr(b)), 0)} msg/s; gateway ${round(median(thr(g)), 0)} msg/s`,
      goal: round(bareUs / GOAL_THROUGHPUT_RATIO, 1),
      spread: [round(min(gUs), 1), round(max(gUs), 1)],
      runs: gUs.length,
    }),
    referenceRow({
      metric: `  durable minimum (bare + a record stored before 202, read and written \`sent\` by the worker): µs per message — the ceiling of every design that keeps records`,
      name: 'durable',
      rate: 'msg/s',
      reference: thr(d),
      bare: thr(b),
      gateway: thr(g),
    }),
    referenceRow({
      metric: `  contract minimum (durable + the attempt recorded, 3 acks, 5 record writes and 7 events per send, lean): µs per message — what the contract's own work costs`,
      name: 'contract',
      rate: 'msg/s',
      reference: thr(c),
      bare: thr(b),
      gateway: thr(g),
    }),
    row({
      metric: `per-session order violations, all phases (${g.totals.sent} sends)`,
      unit: '',
      value: g.totals.violations,
      baseline: b.totals.violations,
      baselineLabel: `bare, ${b.totals.sent} sends; durable ${d.totals.violations} of ${d.totals.sent}; contract ${c.totals.violations} of ${c.totals.sent}`,
      goal: 0,
      spread: [g.totals.violations, g.totals.violations],
      runs: 1,
    }),
    row({
      metric: `accept → engine send at ${fixedRate} msg/s: p50 (informational)`,
      unit: 'ms',
      value: round(g.fixed.summary.latencyMs.p50, 2),
      baseline: round(b.fixed.summary.latencyMs.p50, 2),
      baselineLabel: 'bare BullMQ add→process',
      goal: null,
      spread: [round(g.fixed.summary.latencyMs.p50, 2), round(g.fixed.summary.latencyMs.p50, 2)],
      runs: 1,
    }),
    row({
      metric: `accept → engine send at ${fixedRate} msg/s: p99 (informational)`,
      unit: 'ms',
      value: round(g.fixed.summary.latencyMs.p99, 2),
      baseline: round(b.fixed.summary.latencyMs.p99, 2),
      baselineLabel: 'bare BullMQ add→process',
      goal: null,
      spread: [round(g.fixed.summary.latencyMs.p99, 2), round(g.fixed.summary.latencyMs.p99, 2)],
      runs: 1,
    }),
  ];
  return {
    name: 'send-e2e',
    rows,
    raw: {
      settings: { ...settings, sessions: SESSIONS, connections: CONNECTIONS, countSends: COUNT_SENDS },
      gateway: view(g),
      bare: view(b),
      durable: view(d),
      contract: view(c),
      ratios: {
        e2eThroughput: round(median(thr(g)) / median(thr(b)), 3),
        e2eThroughputPerRun: perRun(g, b).map((r) => round(r, 3)),
        durableE2eThroughput: round(median(thr(d)) / median(thr(b)), 3),
        durableE2eThroughputPerRun: perRun(d, b).map((r) => round(r, 3)),
        gatewayToDurablePerRun: perRun(g, d).map((r) => round(r, 3)),
        contractE2eThroughput: round(median(thr(c)) / median(thr(b)), 3),
        contractE2eThroughputPerRun: perRun(c, b).map((r) => round(r, 3)),
        gatewayToContractPerRun: perRun(g, c).map((r) => round(r, 3)),
      },
    },
    durationMs,
  };
}


if (isMain(import.meta.url)) {
  installSignalCleanup();
  const options: SendE2eOptions = {};
  for (const key of ['runs', 'burstCount', 'fixedRate', 'fixedSeconds', 'warmupCount'] as const) {
    const value = flag(key);
    if (value !== undefined) options[key] = value;
  }
  if (process.argv.includes('--tsx')) options.fromSource = true;
  await runStandalone(() => runSendE2e(options));
}

/**
 * Benchmark P1 (issue #4 "Measure") — accept throughput and latency of POST /api/v1/sessions/:id/messages
 * in Redis mode, against a bare Fastify route that only does a BullMQ `queue.add`, in the same run.
 *
 * One real redis-server (own port and directory, no persistence) serves the three servers, each a
 * process of its own with its own key prefix, all started up front and measured in turn (those
 * not measured sit idle):
 * - gateway: the real app with 10 ready simulator sessions and 10 left waiting for their QR
 *   scan, pacing off, the BullMQ lane workers in the same process — as in production;
 * - bare: Fastify + one BullMQ Queue per session on one shared ioredis connection, no workers
 *   (its jobs are deleted between phases);
 * - durable: the bare server plus the least the issue asks of every design before the 202 — the
 *   message record stored (one Lua script: SET + ZADD to a history index), the job carrying its
 *   id, the 202 carrying the record. bare → durable is what storing the record costs on this
 *   machine whatever the design: durable/bare is the ceiling of the goal's ratio.
 * The load generator is a third process (undici, 50 keep-alive connections), spread over the 10
 * sessions round robin. All three and redis-server share the machine's cores.
 *
 * Phases, each server in turn, the first one rotating between runs, each after a wait (≤ 2 s) for
 * the machine to be quiet: warm-up (closed, 4,000, to the ready sessions), then 3 × closed loop at
 * 50 connections, 8,000 requests (throughput, latency), then 3 × open loop at a fixed 1,000 req/s
 * for 6 s (latency from the scheduled time), each after 1 s at that rate that is not counted (the
 * load generator's own warm-up, reported apart). In these headline phases the gateway's sends go to the
 * sessions waiting for their scan: each lane's first job waits for `ready`, so the lanes do not take
 * the CPU from the accepts — as in production, where pacing (1 s + up to 2 s per send by default)
 * keeps 10 sessions at about 5 sends a second. Then the waiting sessions are scanned and their
 * backlog sent. Informational, gateway only: a closed (5,000) and an open (3 s) load to the ready
 * sessions with pacing off, so that the same process accepts and sends flat out, drained after each.
 * Last, the Redis commands of 1,000 accepts are counted with MONITOR (gateway: again to sessions
 * waiting for their scan), then, for the gateway, the commands of processing them (the sessions
 * scanned, the backlog sent, the acks stored).
 * Every phase also records how much CPU the rest of the machine used meanwhile (`otherLoadCores`).
 * All servers and the load generator run compiled by tsc under plain node, the way the Docker image
 * runs the gateway (`--tsx`: from source through tsx instead, like `npm start`; tsx's transform costs
 * the gateway 6–7 % of its CPU per accept, benchmarks §19).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { installSignalCleanup, isMain, runStandalone, numericFlag as flag } from './lib/cli.js';
import { runFrom, sendBenchBuild, type CompiledSources } from './lib/compile.js';
import type { LoadSpec } from './lib/load.js';
import { perRunRatios, referenceRow, row, type BenchResult, type BenchRow } from './lib/result.js';
import { commandCalls, connectRedis, diffCounts, perUnit, withoutObserver, startMonitor, startRedis, type BenchRedis, type MonitorCounts } from './lib/redis.js';
import { describePhase, measurePhase, runLoad, startSendServer, type Phase, type SendServer, type ServerKind } from './lib/send-harness.js';
import { max, median, min, round } from './lib/stats.js';

const SESSIONS = 10;
const CONNECTIONS = 50;
const OPEN_RATE = 1_000;
/**
 * Each open-loop phase first offers the same rate for this long, not counted: the load generator
 * is a fresh process per phase, and its cold start (interpreted undici, connections being opened)
 * made the first few hundred ms decide a 6 s run's p99, bare and gateway alike (benchmarks §19).
 */
const OPEN_WARMUP_MS = 1_000;
const GOAL_OPEN_P99_MS = 25;
const GOAL_THROUGHPUT_RATIO = 0.8;
const GOAL_P99_RATIO = 1.5;
const COUNT_SENDS = 1_000;
/** The servers P1 measures (the contract minimum is P2's: its cost is in the sends and acks, not the accept). */
type AcceptKind = Exclude<ServerKind, 'contract'>;

export interface SendAcceptOptions {
  runs?: number;
  openRuns?: number;
  closedCount?: number;
  openSeconds?: number;
  warmupCount?: number;
  /** Requests of the gateway's informational closed-loop phase while sending flat out (0: both such phases skipped). */
  sendingCount?: number;
  /** Seconds of the gateway's informational open-loop phase while sending flat out. */
  sendingSeconds?: number;
  /** Write a V8 CPU profile of the gateway process into this directory (investigations). */
  cpuProfDir?: string;
  /** Run the servers and the load generator from source through tsx instead of compiled. */
  fromSource?: boolean;
}

interface KindResult {
  kind: AcceptKind;
  warmup: Phase;
  closed: Phase[];
  open: Phase[];
  /** gateway, informational: closed and open loop to ready sessions with pacing off — accepting while the same process sends flat out. */
  whileSending: { closed: Phase; open: Phase } | null;
  counts: { accept: CountWindow; process: CountWindow | null };
}

interface CountWindow {
  messages: number;
  /** Top-level commands per message, by command. */
  perMessage: Record<string, number>;
  perMessageTotal: number;
  /** Commands run inside Lua scripts per message. */
  inScriptsPerMessage: Record<string, number>;
  monitor: MonitorCounts;
  /** INFO commandstats delta over the same window (top-level and in-script calls together). */
  commandstats: Record<string, number>;
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
    partition: false,
    seqBase: seq.next,
    ...input,
  };
}

/** An open-loop load at OPEN_RATE: OPEN_WARMUP_MS not counted, then `seconds` measured. */
function openLoad(seconds: number): Pick<LoadSpec, 'mode' | 'rate' | 'warmupMs' | 'count' | 'maxMs'> {
  const totalMs = OPEN_WARMUP_MS + seconds * 1_000;
  return { mode: 'open', rate: OPEN_RATE, warmupMs: OPEN_WARMUP_MS, count: (OPEN_RATE * totalMs) / 1_000, maxMs: totalMs + 1_000 };
}

async function phase(server: SendServer, redis: Redis, s: LoadSpec, drain = true): Promise<Phase> {
  const result = await measurePhase(server, redis, s, drain);
  seq.next = Math.max(seq.next, result.load.nextSeqBase);
  console.log(`    ${s.label.padEnd(14)} ${describePhase(server.kind, result)}`);
  return result;
}

async function countWindow(redisUrl: string, observer: Redis, prefix: string, messages: number, work: () => Promise<void>): Promise<CountWindow> {
  const statsBefore = await commandCalls(observer);
  const monitor = await startMonitor(redisUrl);
  await work();
  const counts = await monitor.stop(prefix);
  const statsAfter = await commandCalls(observer);
  // The observer's own INFO and CLIENT LIST calls, and MONITOR's, are not the servers'.
  const commandstats = withoutObserver(diffCounts(statsAfter, statsBefore));
  return {
    messages,
    perMessage: perUnit(counts.topLevel, messages),
    perMessageTotal: round(counts.topLevelTotal / messages, 2),
    inScriptsPerMessage: perUnit(counts.inScripts, messages),
    monitor: counts,
    commandstats,
  };
}

/** Redis commands of COUNT_SENDS accepts, then (gateway) of processing them. */
async function countCommands(server: SendServer, redisUrl: string, observer: Redis): Promise<KindResult['counts']> {
  // Gateway: sessions waiting for their QR scan, so that the accepts are counted without the
  // lanes working (each lane's first job waits for `ready`: 10 jobs' first step).
  const targets = server.kind === 'gateway' ? await server.pending(SESSIONS) : server.sessions;
  const load: LoadSpec = { ...spec(server, 'count', { mode: 'closed', count: COUNT_SENDS, maxMs: 60_000 }), sessions: targets, connections: 10 };
  let accepted = 0;
  const accept = await countWindow(redisUrl, observer, server.prefix, COUNT_SENDS, async () => {
    const result = await runLoad(load, server.compiled);
    seq.next = Math.max(seq.next, result.nextSeqBase);
    accepted = result.ok;
  });
  if (accepted !== COUNT_SENDS) throw new Error(`${server.kind}: ${accepted} of ${COUNT_SENDS} counted sends accepted`);
  if (server.kind !== 'gateway') {
    await server.drain();
    return { accept, process: null };
  }
  const processed = await countWindow(redisUrl, observer, server.prefix, COUNT_SENDS, async () => {
    await server.scanPending();
    const drained = await server.drain();
    if (!drained.drained) throw new Error('gateway: the counted sends were not all sent');
  });
  return { accept, process: processed };
}

export async function runSendAccept(options: SendAcceptOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const runs = options.runs ?? 3;
  // Three, so that the median does not hang on one run: a major GC of the gateway's heap inside a
  // 6 s window moves that run's p99 by itself (benchmarks §19).
  const openRuns = options.openRuns ?? 3;
  const closedCount = options.closedCount ?? 8_000;
  const openSeconds = options.openSeconds ?? 6;
  const warmupCount = options.warmupCount ?? 4_000;
  const sendingCount = options.sendingCount ?? 5_000;
  const sendingSeconds = options.sendingSeconds ?? 3;

  let redisServer: BenchRedis | null = null;
  let observer: Redis | null = null;
  let compiled: CompiledSources | null = null;
  const servers: SendServer[] = [];
  try {
    compiled = await sendBenchBuild('send-accept', options.fromSource === true);
    redisServer = await startRedis();
    observer = await connectRedis(redisServer.url);
    const run = randomBytes(3).toString('hex');
    console.log(`  send-accept: starting redis-server, gateway (${SESSIONS} ready simulator sessions), bare BullMQ server and durable-minimum server…`);
    const [bare, durable, gateway] = await Promise.all([
      startSendServer({ kind: 'bare', sessions: SESSIONS, workers: false, redisUrl: redisServer.url, prefix: `bare${run}`, compiled }),
      startSendServer({ kind: 'durable', sessions: SESSIONS, workers: false, redisUrl: redisServer.url, prefix: `dur${run}`, compiled }),
      startSendServer({
        kind: 'gateway',
        sessions: SESSIONS,
        workers: true,
        redisUrl: redisServer.url,
        prefix: `gw${run}`,
        compiled,
        nodeFlags: options.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`],
      }),
    ]);
    servers.push(bare, durable, gateway);
    const byKind = { bare, durable, gateway };
    const results: Record<AcceptKind, Omit<KindResult, 'warmup' | 'counts'>> = {
      bare: { kind: 'bare', closed: [], open: [], whileSending: null },
      durable: { kind: 'durable', closed: [], open: [], whileSending: null },
      gateway: { kind: 'gateway', closed: [], open: [], whileSending: null },
    };
    const warmups: Partial<Record<AcceptKind, Phase>> = {};
    const counted: Partial<Record<AcceptKind, KindResult['counts']>> = {};
    const redis = observer;
    // Each run starts with another server: bare, durable, gateway; durable, gateway, bare; …
    const kinds: AcceptKind[] = ['bare', 'durable', 'gateway'];
    const order = (i: number): AcceptKind[] => kinds.map((_, k) => kinds[(i + k) % kinds.length] ?? 'bare');

    console.log(`  send-accept: warm-up (closed, ${warmupCount} requests each)`);
    for (const kind of order(0)) warmups[kind] = await phase(byKind[kind], redis, spec(byKind[kind], 'warm-up', { mode: 'closed', count: warmupCount, maxMs: 20_000 }));
    // Headline (the P1): the accept path. The gateway's sends go to sessions waiting for
    // their QR scan, so its workers do not compete for the CPU — as in production, where pacing
    // (SEND_MIN_INTERVAL_MS 1 s + up to SEND_JITTER_MS 2 s by default) lets 10 sessions send about
    // 5 messages a second while they accept thousands. Each lane's first job waits for `ready`
    // (past 1,000 held jobs a lane's later ones wait in BullMQ); the backlog is sent after the
    // informational phases.
    const pending = await gateway.pending(SESSIONS);
    const headline = (server: SendServer, label: string, input: Parameters<typeof spec>[2]): Promise<Phase> =>
      server.kind === 'gateway' ? phase(server, redis, { ...spec(server, label, input), sessions: pending }, false) : phase(server, redis, spec(server, label, input));
    console.log(`  send-accept: closed loop, ${CONNECTIONS} connections, ${closedCount} requests, ${runs} runs each (gateway: workers waiting, as when paced)`);
    for (let i = 0; i < runs; i++) {
      for (const kind of order(i)) results[kind].closed.push(await headline(byKind[kind], `closed ${i + 1}`, { mode: 'closed', count: closedCount, maxMs: 20_000 }));
    }
    console.log(`  send-accept: open loop, ${OPEN_RATE} req/s for ${openSeconds} s, ${openRuns} runs each`);
    for (let i = 0; i < openRuns; i++) {
      for (const kind of order(i)) {
        results[kind].open.push(await headline(byKind[kind], `open ${i + 1}`, openLoad(openSeconds)));
      }
    }
    // The waiting sessions are scanned and their backlog sent before anything else is drained.
    await gateway.scanPending();
    await gateway.drain(180_000);
    if (sendingCount > 0) {
      // Informational, harsher than production: the same process also sends flat out (pacing
      // off, ready sessions), so accepting and sending share its core; drained after each phase.
      console.log(`  send-accept: gateway accepting while sending flat out (pacing off): closed ${sendingCount}, then ${OPEN_RATE} req/s for ${sendingSeconds} s`);
      const closed = await phase(gateway, redis, spec(gateway, 'sending closed', { mode: 'closed', count: sendingCount, maxMs: 20_000 }));
      const open = await phase(gateway, redis, spec(gateway, 'sending open', openLoad(sendingSeconds)));
      results.gateway.whileSending = { closed, open };
    }
    console.log(`  send-accept: counting Redis commands (MONITOR) of ${COUNT_SENDS} accepts`);
    for (const kind of order(0)) counted[kind] = await countCommands(byKind[kind], redisServer.url, redis);

    const complete = (kind: AcceptKind): KindResult => {
      const warmup = warmups[kind];
      const counts = counted[kind];
      if (!warmup || !counts) throw new Error(`${kind}: warm-up or command counts missing`);
      return { ...results[kind], warmup, counts };
    };
    return report({ bare: complete('bare'), durable: complete('durable'), gateway: complete('gateway') }, performance.now() - started, { runs, openRuns, closedCount, openSeconds, warmupCount, sendingCount, sendingSeconds, runFrom: runFrom(compiled) });
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await observer?.quit().catch(() => undefined);
    observer?.disconnect();
    await redisServer?.stop();
    await compiled?.remove();
  }
}

const perMsg = (cpuMs: number, n: number): number => (n > 0 ? round((cpuMs / n) * 1_000, 0) : Number.NaN);

function phaseView(p: Phase): Record<string, unknown> {
  return {
    throughput: p.load.throughput,
    ok: p.load.ok,
    byStatus: p.load.byStatus,
    errors: p.load.errors,
    unfinished: p.load.unfinished,
    durationMs: p.load.durationMs,
    latencyMs: p.load.latencyMs,
    warmupLatencyMs: p.load.warmupLatencyMs,
    dispatchLagMs: p.load.dispatchLagMs,
    clientCpuUsPerReq: perMsg(p.load.clientCpuMs, p.load.ok),
    serverCpuUsPerReqDuringLoad: perMsg(p.cpu.serverCpuMs, p.load.ok),
    redisCpuUsPerReqDuringLoad: perMsg(p.cpu.redisCpuMs, p.load.ok),
    serverEluDuringLoad: round(p.cpu.serverElu, 3),
    serverCpuUsPerReqToDrained: p.cpuToDrained ? perMsg(p.cpuToDrained.serverCpuMs, p.load.ok) : null,
    serverKernelShare: round(p.cpu.serverSystemCpuMs / p.cpu.serverCpuMs, 2),
    redisCpuUsPerReqToDrained: p.cpuToDrained ? perMsg(p.cpuToDrained.redisCpuMs, p.load.ok) : null,
    drain: p.drain,
    serverRssMB: round(p.after.rssBytes / 1024 / 1024, 1),
    otherLoadCores: p.cpu.foreignCores,
    machineCpuMsDuringLoad: round(p.cpu.machineCpuMs, 0),
    quietWait: p.quiet,
  };
}

function report(results: Record<AcceptKind, KindResult>, durationMs: number, settings: Record<string, number | string>): BenchResult {
  const g = results.gateway;
  const b = results.bare;
  const d = results.durable;
  const thr = (k: KindResult): number[] => k.closed.map((p) => p.load.throughput);
  const usPerSend = (values: number[]): number[] => values.map((v) => 1e6 / v);
  const p99 = (ps: Phase[]): number[] => ps.map((p) => p.load.latencyMs.p99);
  const warmupP99 = (ps: Phase[]): number[] => ps.map((p) => p.load.warmupLatencyMs?.p99 ?? Number.NaN);
  /** A latency row: the gateway's median over its phases against bare's, with the durable minimum's in the label. */
  const latencyRow = (metric: string, values: (k: KindResult) => number[], goal: number | null): BenchRow =>
    row({
      metric,
      unit: 'ms',
      value: round(median(values(g)), 1),
      baseline: round(median(values(b)), 1),
      baselineLabel: `bare Fastify + BullMQ queue.add; durable minimum ${round(median(values(d)), 1)} ms`,
      goal,
      spread: [round(min(values(g)), 1), round(max(values(g)), 1)],
      runs: values(g).length,
    });
  const gUs = usPerSend(thr(g));
  const bUs = usPerSend(thr(b));
  const bareUs = median(bUs);
  // Same-run ratios, run by run (the servers of one run were measured back to back).
  const perRun = (x: KindResult, y: KindResult): number[] => perRunRatios(thr(x), thr(y));
  const rows = [
    row({
      metric: `POST /messages, ${CONNECTIONS} conns: µs per accepted send (1/throughput; goal ≥ ${GOAL_THROUGHPUT_RATIO}× bare req/s; workers paced/waiting)`,
      unit: 'µs',
      value: round(median(gUs), 1),
      baseline: round(bareUs, 1),
      baselineLabel: `bare Fastify + BullMQ queue.add, ${round(median(thr(b)), 0)} req/s; gateway ${round(median(thr(g)), 0)} req/s`,
      goal: round(bareUs / GOAL_THROUGHPUT_RATIO, 1),
      spread: [round(min(gUs), 1), round(max(gUs), 1)],
      runs: gUs.length,
    }),
    referenceRow({
      metric: `  durable minimum (bare + storing the record before 202, no worker): µs per accepted send — the ceiling of every design that stores the record`,
      name: 'durable',
      rate: 'req/s',
      reference: thr(d),
      bare: thr(b),
      gateway: thr(g),
    }),
    latencyRow(`POST /messages, ${CONNECTIONS} conns: p99 latency (goal ≤ ${GOAL_P99_RATIO}× bare p99)`, (k) => p99(k.closed), round(median(p99(b.closed)) * GOAL_P99_RATIO, 1)),
    latencyRow(`POST /messages, open loop ${OPEN_RATE} req/s: p99 latency from scheduled time`, (k) => p99(k.open), GOAL_OPEN_P99_MS),
    latencyRow(
      `  open loop ${OPEN_RATE} req/s: p99 of the first ${OPEN_WARMUP_MS / 1_000} s, not counted above (the load generator's cold start; informational)`,
      (k) => warmupP99(k.open),
      null,
    ),
  ];
  if (g.whileSending) {
    const { closed, open } = g.whileSending;
    rows.push(
      row({
        metric: `  µs per accepted send while the same process sends flat out (pacing off; informational)`,
        unit: 'µs',
        value: round(1e6 / closed.load.throughput, 1),
        baseline: round(bareUs, 1),
        baselineLabel: `bare; gateway ${round(closed.load.throughput, 0)} req/s, p99 ${round(closed.load.latencyMs.p99, 1)} ms`,
        goal: null,
        spread: [round(1e6 / closed.load.throughput, 1), round(1e6 / closed.load.throughput, 1)],
        runs: 1,
      }),
      row({
        metric: `  open loop ${OPEN_RATE} req/s p99 while sending flat out (pacing off; informational)`,
        unit: 'ms',
        value: round(open.load.latencyMs.p99, 1),
        baseline: round(median(p99(b.open)), 1),
        baselineLabel: 'bare Fastify + BullMQ queue.add',
        goal: null,
        spread: [round(open.load.latencyMs.p99, 1), round(open.load.latencyMs.p99, 1)],
        runs: 1,
      }),
    );
  }
  const view = (k: KindResult): Record<string, unknown> => ({
    medians: {
      closedThroughput: round(median(thr(k)), 1),
      closedP50Ms: round(median(k.closed.map((p) => p.load.latencyMs.p50)), 2),
      closedP99Ms: round(median(p99(k.closed)), 2),
      openP50Ms: round(median(k.open.map((p) => p.load.latencyMs.p50)), 2),
      openP99Ms: round(median(p99(k.open)), 2),
      serverCpuUsPerReqDuringLoad: round(median(k.closed.map((p) => (p.cpu.serverCpuMs / p.load.ok) * 1_000)), 0),
      serverCpuUsPerReqToDrained: round(median(k.closed.map((p) => ((p.cpuToDrained?.serverCpuMs ?? Number.NaN) / p.load.ok) * 1_000)), 0),
      redisCpuUsPerReqToDrained: round(median(k.closed.map((p) => ((p.cpuToDrained?.redisCpuMs ?? Number.NaN) / p.load.ok) * 1_000)), 0),
      clientCpuUsPerReq: round(median(k.closed.map((p) => (p.load.clientCpuMs / p.load.ok) * 1_000)), 0),
      drainAfterClosedMs: round(median(k.closed.map((p) => p.drain?.waitedMs ?? 0)), 0),
    },
    warmup: phaseView(k.warmup),
    closed: k.closed.map(phaseView),
    open: k.open.map(phaseView),
    whileSending: k.whileSending ? { closed: phaseView(k.whileSending.closed), open: phaseView(k.whileSending.open) } : null,
    redisCommands: {
      perAcceptedSend: { total: k.counts.accept.perMessageTotal, byCommand: k.counts.accept.perMessage, inScripts: k.counts.accept.inScriptsPerMessage },
      perProcessedSend: k.counts.process
        ? { total: k.counts.process.perMessageTotal, byCommand: k.counts.process.perMessage, inScripts: k.counts.process.inScriptsPerMessage }
        : null,
      acceptWindow: { ...k.counts.accept.monitor, commandstats: k.counts.accept.commandstats },
      processWindow: k.counts.process ? { ...k.counts.process.monitor, commandstats: k.counts.process.commandstats } : null,
    },
  });
  return {
    name: 'send-accept',
    rows,
    raw: {
      settings: { ...settings, sessions: SESSIONS, connections: CONNECTIONS, openRate: OPEN_RATE, openWarmupMs: OPEN_WARMUP_MS, countSends: COUNT_SENDS },
      gateway: view(g),
      bare: view(b),
      durable: view(d),
      ratios: {
        throughput: round(median(thr(g)) / median(thr(b)), 3),
        throughputPerRun: perRun(g, b).map((r) => round(r, 3)),
        durableThroughput: round(median(thr(d)) / median(thr(b)), 3),
        durableThroughputPerRun: perRun(d, b).map((r) => round(r, 3)),
        gatewayToDurablePerRun: perRun(g, d).map((r) => round(r, 3)),
        closedP99: round(median(p99(g.closed)) / median(p99(b.closed)), 2),
        openP99: round(median(p99(g.open)) / median(p99(b.open)), 2),
        openWarmupP99: round(median(warmupP99(g.open)) / median(warmupP99(b.open)), 2),
      },
    },
    durationMs,
  };
}


if (isMain(import.meta.url)) {
  installSignalCleanup();
  const options: SendAcceptOptions = {};
  for (const key of ['runs', 'openRuns', 'closedCount', 'openSeconds', 'warmupCount', 'sendingCount', 'sendingSeconds'] as const) {
    const value = flag(key);
    if (value !== undefined) options[key] = value;
  }
  const profDir = process.argv[process.argv.indexOf('--cpu-prof') + 1];
  if (process.argv.includes('--cpu-prof') && profDir !== undefined) options.cpuProfDir = profDir;
  if (process.argv.includes('--tsx')) options.fromSource = true;
  await runStandalone(() => runSendAccept(options));
}

/**
 * The send benchmarks' load generator, a process of its own (it shares the machine's two cores
 * with the server under test and redis-server):
 *
 *   load-client.worker.ts '<LoadSpec as JSON>'
 *
 * POSTs `/api/v1/sessions/:id/messages` with undici (one Pool, `connections` keep-alive
 * connections, no pipelining, `dispatch` with a status-only handler), a fixed number of requests bounded by a time cap, and prints a
 * LoadResult (see bench/lib/load.ts). Closed mode measures throughput; open mode offers a fixed
 * rate on a clock and counts latency from each request's due time, so a stalled server shows up in
 * the latency, not in fewer requests; the requests of its warm-up (`warmupMs`, the process's own
 * cold start) are sent on the same clock and reported apart.
 */
import { Pool } from 'undici';
import { LoadSpec, percentiles, sendBody, type LoadResult } from '../lib/load.js';
import { reportResult } from '../lib/processes.js';
import { sleep } from '../lib/stats.js';

const HEADERS_TIMEOUT_MS = 30_000;

const spec = LoadSpec.parse(JSON.parse(process.argv[2] ?? '{}'));
const pool = new Pool(spec.origin, { connections: spec.connections, pipelining: 1, headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: HEADERS_TIMEOUT_MS });
const headers: Record<string, string> = { 'content-type': 'application/json' };
if (spec.apiKey !== null) headers['x-api-key'] = spec.apiKey;

const latencies = new Float64Array(spec.count);
let measuredCount = 0;
const warmingUp = spec.mode === 'open' && (spec.warmupMs ?? 0) > 0;
const warmupLatencies = new Float64Array(warmingUp ? spec.count : 0);
let warmupCount = 0;
let okCount = 0;
const lags = spec.mode === 'open' ? new Float64Array(spec.count) : null;
let lagCount = 0;
const byStatus: Record<string, number> = {};
const errors: Record<string, number> = {};
let started = 0;
let finished = 0;
let firstStart = Number.POSITIVE_INFINITY;
let lastEnd = 0;
const seqs = new Map<string, number>(spec.sessions.map((s) => [s, spec.seqBase]));

function nextSeq(session: string): number {
  const seq = seqs.get(session) ?? spec.seqBase;
  seqs.set(session, seq + 1);
  return seq;
}

/**
 * One POST through `pool.dispatch` with a handler that only keeps the status code and drops the
 * body: the same HTTP/1.1 requests as `pool.request`, without a response stream per request, so
 * that the client takes less of the CPU it shares with the server.
 */
function post(path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    // onRequestStart marks the handler as one of the current interface (undici wraps it for its core).
    pool.dispatch(
      { origin: spec.origin, method: 'POST', path, headers, body },
      {
        onRequestStart: () => undefined,
        onResponseStart: (_controller, statusCode) => {
          status = statusCode;
        },
        onResponseData: () => undefined,
        onResponseEnd: () => resolve(status),
        onResponseError: (_controller, error) => reject(error),
      },
    );
  });
}

/**
 * One send; latency counted from `from` (start for closed, due time for open), into the warm-up's
 * latencies when `warmup`.
 */
async function send(session: string, from: number, warmup = false): Promise<void> {
  const seq = nextSeq(session);
  started += 1;
  firstStart = Math.min(firstStart, performance.now());
  try {
    const statusCode = await post(`/api/v1/sessions/${session}/messages`, sendBody(seq));
    const end = performance.now();
    lastEnd = Math.max(lastEnd, end);
    byStatus[statusCode] = (byStatus[statusCode] ?? 0) + 1;
    if (statusCode === 202) {
      okCount += 1;
      if (warmup) warmupLatencies[warmupCount++] = end - from;
      else latencies[measuredCount++] = end - from;
    }
  } catch (error) {
    const key = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 120) : String(error);
    errors[key] = (errors[key] ?? 0) + 1;
  } finally {
    finished += 1;
  }
}

async function closedLoop(): Promise<void> {
  const deadline = performance.now() + spec.maxMs;
  let next = 0;
  const loop = async (k: number): Promise<void> => {
    const own = spec.partition ? spec.sessions.filter((_, i) => i % spec.connections === k) : null;
    if (own?.length === 0) return;
    let turn = 0;
    while (next < spec.count && performance.now() < deadline) {
      const i = next++;
      const session = own ? own[turn++ % own.length] : spec.sessions[i % spec.sessions.length];
      if (session === undefined) return;
      await send(session, performance.now());
    }
  };
  const loops = Promise.all(Array.from({ length: spec.connections }, (_, k) => loop(k)));
  await Promise.race([loops, sleep(spec.maxMs + spec.graceMs)]);
}

async function openLoop(): Promise<void> {
  const rate = spec.rate ?? 1_000;
  const interval = 1_000 / rate;
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now() + 5;
  const warmupEnd = t0 + (spec.warmupMs ?? 0);
  let i = 0;
  while (i < spec.count) {
    const now = performance.now();
    if (now - t0 > spec.maxMs) break;
    while (i < spec.count && t0 + i * interval <= now) {
      const due = t0 + i * interval;
      const warmup = due < warmupEnd;
      if (lags && !warmup) lags[lagCount++] = performance.now() - due;
      const session = spec.sessions[i % spec.sessions.length] ?? '';
      const p = send(session, due, warmup).finally(() => inFlight.delete(p));
      inFlight.add(p);
      i += 1;
    }
    const wait = t0 + i * interval - performance.now();
    await sleep(Math.max(0, wait));
  }
  await Promise.race([Promise.all([...inFlight]), sleep(spec.graceMs)]);
}

const cpu0 = process.cpuUsage();
if (spec.mode === 'closed') await closedLoop();
else await openLoop();
const cpu = process.cpuUsage(cpu0);
const unfinished = started - finished;
await pool.destroy();

const durationMs = lastEnd > firstStart ? lastEnd - firstStart : Number.NaN;
const result: LoadResult = {
  label: spec.label,
  mode: spec.mode,
  connections: spec.connections,
  rate: spec.mode === 'open' ? (spec.rate ?? 1_000) : null,
  started,
  ok: okCount,
  byStatus,
  errors,
  unfinished,
  durationMs: Math.round(durationMs * 10) / 10,
  throughput: Math.round((okCount / durationMs) * 1_000 * 10) / 10,
  latencyMs: percentiles(latencies.subarray(0, measuredCount)),
  warmupLatencyMs: warmingUp ? percentiles(warmupLatencies.subarray(0, warmupCount)) : null,
  dispatchLagMs: lags ? percentiles(lags.subarray(0, lagCount)) : null,
  firstStartEpochMs: performance.timeOrigin + firstStart,
  lastEndEpochMs: performance.timeOrigin + lastEnd,
  clientCpuMs: Math.round((cpu.user + cpu.system) / 1_000),
  clientProcessCpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1_000),
  nextSeqBase: Math.max(...seqs.values()) + 1,
};
reportResult(result);
process.exit(0);

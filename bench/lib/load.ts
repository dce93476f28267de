/**
 * What the send benchmarks' load generator (bench/workers/load-client.worker.ts, a process of its
 * own) is asked to do and what it reports, plus the percentile helper both sides use.
 */
import { z } from 'zod';

export const LoadSpec = z.object({
  /** Phase name, for the logs and the raw results. */
  label: z.string(),
  origin: z.string(),
  /** Sent as `x-api-key`; null for the bare baseline (it checks none). */
  apiKey: z.string().nullable(),
  /** Session ids the requests are spread over (round robin). */
  sessions: z.array(z.string()).min(1),
  /**
   * closed: `connections` loops, each sends its next request when the previous answered (throughput).
   * open: request i is due at start + i / rate, whatever happened to the earlier ones, and its
   * latency is counted from that due time (no coordinated omission).
   */
  mode: z.enum(['closed', 'open']),
  connections: z.number().int().positive(),
  count: z.number().int().positive(),
  /** Offered load of the open mode, requests per second. */
  rate: z.number().positive().optional(),
  /**
   * open only: requests due in the first `warmupMs` are sent on the same clock but their latency is
   * not counted in `latencyMs` (it goes to `warmupLatencyMs`). A fresh load-generator process
   * interprets undici's code and opens its connections at first: without this, the first few
   * hundred ms (bare and gateway alike) decide the p99 of a 6 s run — see docs/benchmarks.md §19.
   * `count` includes these requests.
   */
  warmupMs: z.number().nonnegative().optional(),
  /** Stop starting requests after this long. */
  maxMs: z.number().positive(),
  /** Then wait this long for the requests in flight before giving up on them. */
  graceMs: z.number().positive(),
  /**
   * closed only: loop k sends only to the sessions s with index % connections === k, so that no two
   * requests of one session are ever in flight together and the order a session's requests were
   * sent is the order the gateway accepted them (what the per-session order check relies on).
   */
  partition: z.boolean(),
  /** Per-session sequence numbers (in the text) start here, so that they grow across phases. */
  seqBase: z.number().int().nonnegative(),
});
export type LoadSpec = z.infer<typeof LoadSpec>;

/** A number that JSON turned from NaN into null comes back as NaN. */
const num = z.preprocess((v) => (v === null ? Number.NaN : v), z.number().or(z.nan()));

export const Percentiles = z.object({
  count: z.number(),
  mean: num,
  p50: num,
  p90: num,
  p99: num,
  p999: num,
  max: num,
});
export type Percentiles = z.infer<typeof Percentiles>;

export const LoadResult = z.object({
  label: z.string(),
  mode: z.enum(['closed', 'open']),
  connections: z.number(),
  rate: z.number().nullable(),
  /** Requests started / answered 202 / answered otherwise / failed or timed out. */
  started: z.number(),
  ok: z.number(),
  byStatus: z.record(z.string(), z.number()),
  errors: z.record(z.string(), z.number()),
  unfinished: z.number(),
  /** First request started → last answer. */
  durationMs: num,
  /** 202 answers per second over durationMs. */
  throughput: num,
  /**
   * Milliseconds: closed — request start → answer read; open — due time → answer read, of the
   * requests due after the warm-up (`latencyMs.count` of the `ok` ones).
   */
  latencyMs: Percentiles,
  /** open with `warmupMs` only: the same, of the requests due in the warm-up. */
  warmupLatencyMs: Percentiles.nullable(),
  /** open only: how late the client itself started requests after their due time (ms), after the warm-up. */
  dispatchLagMs: Percentiles.nullable(),
  /** Wall-clock ms (performance.timeOrigin + now) of the first start and last answer. */
  firstStartEpochMs: z.number(),
  lastEndEpochMs: z.number(),
  /** CPU the load generator used while it sent, ms (user + system). */
  clientCpuMs: z.number(),
  /** CPU of the whole load-generator process, startup (node, tsx) included, ms. */
  clientProcessCpuMs: z.number(),
  /** Per-session sequence number the next phase should start above. */
  nextSeqBase: z.number(),
});
export type LoadResult = z.infer<typeof LoadResult>;

/** Nearest-rank percentiles of `values` (sorted in place). */
export function percentiles(values: Float64Array | number[]): Percentiles {
  const sorted = values instanceof Float64Array ? values.sort() : Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: Number.NaN };
  const at = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? Number.NaN;
  let sum = 0;
  for (const v of sorted) sum += v;
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return { count: n, mean: r(sum / n), p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), p999: r(at(0.999)), max: r(sorted[n - 1] ?? Number.NaN) };
}

/** The body of a send: a text carrying the per-session sequence number at its end. */
export function sendBody(seq: number): string {
  return JSON.stringify({ to: '5511987654321', type: 'text', text: `bench message #${seq}` });
}

/** The sequence number a send's text carries, or NaN. */
export function seqOf(text: string): number {
  const match = /#(\d+)$/.exec(text);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]);
}

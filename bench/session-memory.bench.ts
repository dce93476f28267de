/**
 * Benchmark 1 — RSS per idle simulator session.
 *
 * Slope of process RSS between 100 and 1,000 ready simulator sessions, in a child process started
 * with `node --expose-gc --import tsx` (embedded mode, LOG_LEVEL=silent); sessions are created
 * through app.gateway.sessions (create + the simulated phone's scan + waitForStatus ready).
 *
 * Baselines, in the same kind of child (real app built and ready, no sessions):
 * - records + bare engines (the table's baseline): plain objects shaped like a ready session
 *   record in a Map, each with a bare simulator engine started and ready — what a session needs
 *   without the session manager, so the ratio is the manager's per-session overhead;
 * - records only: the plain objects alone (their RSS slope is below what RSS can resolve: the
 *   V8 heap already has room for 0.6 MB, so the RSS ratio against it would be meaningless).
 * Runs alternate; the figure is the median over runs. One extra run goes through the HTTP API
 * (informational: its RSS is dominated by QR-rendering garbage, see docs/benchmarks.md).
 */
import { z } from 'zod';
import { installSignalCleanup, isMain, runStandalone } from './lib/cli.js';
import { gatewayEnv } from './lib/gateway-env.js';
import { runWorker } from './lib/processes.js';
import { row, type BenchResult } from './lib/result.js';
import { tempDir } from './lib/temp.js';
import { KB, MB, linearFit, max, median, min, round } from './lib/stats.js';

const WORKER = 'bench/workers/session-memory.worker.ts';
const POINTS = [100, 250, 500, 750, 1000] as const;
const GOAL_KB_PER_SESSION = 100;
const WORKER_TIMEOUT_MS = 180_000;

const Point = z.object({
  sessions: z.number(),
  rss: z.number(),
  heapUsed: z.number(),
  heapTotal: z.number(),
  external: z.number(),
  arrayBuffers: z.number(),
  activeTimeouts: z.number(),
  registryFileBytes: z.number(),
});
const WorkerResult = z.object({
  mode: z.enum(['gateway', 'gateway-http', 'baseline-records', 'baseline-engines']),
  points: z.array(Point),
  createMs: z.array(z.number()),
});
type WorkerResult = z.infer<typeof WorkerResult>;
type Point = z.infer<typeof Point>;

export interface SessionMemoryOptions {
  /** Runs of each of gateway and the two baselines (alternating). */
  runs?: number;
  /** Also run once through the HTTP API. */
  http?: boolean;
}

interface RunSummary {
  mode: WorkerResult['mode'];
  /** (value at 1,000 − value at 100) / 900, bytes per session. */
  rssSlope: number;
  heapUsedSlope: number;
  heapTotalSlope: number;
  /** Least-squares slope over all points, bytes per session, and its R². */
  rssFit: { slope: number; r2: number };
  heapUsedFit: { slope: number; r2: number };
  rssAt100: number;
  rssAt1000: number;
  createMsTotal: number;
  worker: WorkerResult;
}

function summarize(worker: WorkerResult): RunSummary {
  const at = (n: number): Point => {
    const point = worker.points.find((p) => p.sessions === n);
    if (!point) throw new Error(`no measurement at ${n} sessions`);
    return point;
  };
  const first = at(POINTS[0]);
  const last = at(POINTS[POINTS.length - 1] ?? 1000);
  const span = last.sessions - first.sessions;
  const fit = (pick: (p: Point) => number): { slope: number; r2: number } => {
    const { slope, r2 } = linearFit(worker.points.filter((p) => p.sessions >= first.sessions).map((p) => ({ x: p.sessions, y: pick(p) })));
    return { slope, r2 };
  };
  return {
    mode: worker.mode,
    rssSlope: (last.rss - first.rss) / span,
    heapUsedSlope: (last.heapUsed - first.heapUsed) / span,
    heapTotalSlope: (last.heapTotal - first.heapTotal) / span,
    rssFit: fit((p) => p.rss),
    heapUsedFit: fit((p) => p.heapUsed),
    rssAt100: first.rss,
    rssAt1000: last.rss,
    createMsTotal: worker.createMs.reduce((a, b) => a + b, 0),
    worker,
  };
}

async function runOnce(mode: WorkerResult['mode']): Promise<RunSummary> {
  const sessions = await tempDir('wagw-bench-mem-');
  try {
    const raw = await runWorker(WORKER, [mode, POINTS.join(',')], {
      nodeFlags: ['--expose-gc'],
      env: gatewayEnv({ sessionsPath: sessions.path }),
      timeoutMs: WORKER_TIMEOUT_MS,
    });
    return summarize(WorkerResult.parse(raw));
  } finally {
    await sessions.remove();
  }
}

const kb = (bytes: number): number => round(bytes / KB, 2);

export async function runSessionMemory(options: SessionMemoryOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const runs = options.runs ?? 5;
  const gateway: RunSummary[] = [];
  const engines: RunSummary[] = [];
  const records: RunSummary[] = [];
  for (let i = 0; i < runs; i++) {
    console.log(`  session-memory: run ${i + 1}/${runs} baselines (records, records + bare engines), gateway…`);
    records.push(await runOnce('baseline-records'));
    engines.push(await runOnce('baseline-engines'));
    gateway.push(await runOnce('gateway'));
  }
  let http: RunSummary | null = null;
  if (options.http ?? true) {
    console.log('  session-memory: one run through the HTTP API…');
    http = await runOnce('gateway-http');
  }

  const perKB = (list: RunSummary[], pick: (r: RunSummary) => number): number[] => list.map((r) => pick(r) / KB);
  const rssG = perKB(gateway, (r) => r.rssSlope);
  const heapG = perKB(gateway, (r) => r.heapUsedSlope);
  const rows = [
    row({
      metric: 'RSS per idle simulator session (100→1,000)',
      unit: 'KB/session',
      value: median(rssG),
      baseline: median(perKB(engines, (r) => r.rssSlope)),
      baselineLabel: 'record + bare ready engine',
      goal: GOAL_KB_PER_SESSION,
      spread: [min(rssG), max(rssG)],
      runs,
    }),
    row({
      metric: 'heapUsed per idle simulator session (100→1,000)',
      unit: 'KB/session',
      value: median(heapG),
      baseline: median(perKB(engines, (r) => r.heapUsedSlope)),
      baselineLabel: 'record + bare ready engine',
      goal: null,
      spread: [min(heapG), max(heapG)],
      runs,
    }),
  ];
  const medians = (list: RunSummary[]): Record<string, number> => ({
    rssSlopeKB: round(median(perKB(list, (r) => r.rssSlope)), 2),
    heapUsedSlopeKB: round(median(perKB(list, (r) => r.heapUsedSlope)), 2),
    heapTotalSlopeKB: round(median(perKB(list, (r) => r.heapTotalSlope)), 2),
    rssAt100MB: round(median(list.map((r) => r.rssAt100 / MB)), 1),
    rssAt1000MB: round(median(list.map((r) => r.rssAt1000 / MB)), 1),
  });
  const view = (r: RunSummary): Record<string, unknown> => ({
    mode: r.mode,
    rssSlopeKB: kb(r.rssSlope),
    heapUsedSlopeKB: kb(r.heapUsedSlope),
    heapTotalSlopeKB: kb(r.heapTotalSlope),
    rssFitKB: { slope: kb(r.rssFit.slope), r2: round(r.rssFit.r2, 3) },
    heapUsedFitKB: { slope: kb(r.heapUsedFit.slope), r2: round(r.heapUsedFit.r2, 3) },
    rssAt100MB: round(r.rssAt100 / MB, 1),
    rssAt1000MB: round(r.rssAt1000 / MB, 1),
    createMsTotal: Math.round(r.createMsTotal),
    points: r.worker.points,
    createMs: r.worker.createMs.map((ms) => Math.round(ms)),
  });
  return {
    name: 'session-memory',
    rows,
    raw: {
      points: POINTS,
      medians: { gateway: medians(gateway), baselineEngines: medians(engines), baselineRecords: medians(records) },
      runs: { gateway: gateway.map(view), baselineEngines: engines.map(view), baselineRecords: records.map(view), http: http ? view(http) : null },
    },
    durationMs: performance.now() - started,
  };
}

if (isMain(import.meta.url)) {
  installSignalCleanup();
  await runStandalone(() => runSessionMemory());
}

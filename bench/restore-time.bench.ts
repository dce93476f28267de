/**
 * Benchmark 2 — time to restore 1,000 simulator sessions to `ready` after a restart.
 *
 * A setup child creates 1,000 ready sessions and closes its app; then every run is a fresh child
 * (a cold restart) that times buildApp start → app.ready() → waitForStatus(ready) for every
 * session, on the same SESSIONS_PATH (embedded) or the same Redis prefix (Redis mode, a real
 * redis-server started for the run). Baseline, in the same kind of child: openStorage +
 * registry.list() of the same records, plus a bare loop creating 1,000 simulator engines and
 * waiting for their 'ready' event — no session manager, no Fastify. Informational: the same cold
 * restore on an empty registry (the fixed startup cost that does not depend on sessions), and the
 * restore timed with one event-bus listener instead of 1,000 waitForStatus calls.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { startRedisServer, type RedisServer } from '../tests/helpers/redis-server.js';
import { installSignalCleanup, isMain, runStandalone } from './lib/cli.js';
import { gatewayEnv } from './lib/gateway-env.js';
import { runWorker, track } from './lib/processes.js';
import { row, type BenchResult, type BenchRow } from './lib/result.js';
import { tempDir, trackDir } from './lib/temp.js';
import { max, median, min, round } from './lib/stats.js';

const WORKER = 'bench/workers/restore-time.worker.ts';
const SESSIONS = 1000;
const GOAL_SECONDS = 3;
const WORKER_TIMEOUT_MS = 120_000;

const Setup = z.object({ phase: z.literal('setup'), sessions: z.number(), ms: z.number() });
const Gateway = z.object({
  phase: z.enum(['gateway', 'gateway-one-listener']),
  storage: z.enum(['redis', 'embedded']),
  sessions: z.number(),
  buildMs: z.number(),
  appReadyMs: z.number(),
  readyAtAppReady: z.number(),
  waitMs: z.number(),
  totalMs: z.number(),
  sinceProcessStartMs: z.number(),
  closeMs: z.number(),
});
const Baseline = z.object({
  phase: z.literal('baseline'),
  storage: z.enum(['redis', 'embedded']),
  sessions: z.number(),
  listMs: z.number(),
  enginesMs: z.number(),
  totalMs: z.number(),
  sinceProcessStartMs: z.number(),
});

export interface RestoreTimeOptions {
  /** Cold restores of each of gateway and baseline, per storage mode (alternating). */
  runs?: number;
  modes?: readonly ('embedded' | 'redis')[];
}

interface ModeResult {
  mode: 'embedded' | 'redis';
  setup: z.infer<typeof Setup>;
  gateway: z.infer<typeof Gateway>[];
  baseline: z.infer<typeof Baseline>[];
  /** Cold restores of an empty registry (fixed cost). */
  empty: z.infer<typeof Gateway>[];
  /** Cold restores waited for with one bus listener. */
  oneListener: z.infer<typeof Gateway>[];
}

async function runMode(mode: 'embedded' | 'redis', runs: number): Promise<ModeResult> {
  const dir = await tempDir('wagw-bench-restore-');
  const sessionsPath = dir.path;
  let redis: RedisServer | null = null;
  try {
    if (mode === 'redis') {
      redis = await startRedisServer();
      track(redis.process);
      trackDir(redis.dir);
    }
    const prefix = `bench${randomBytes(4).toString('hex')}`;
    const env = gatewayEnv({ sessionsPath, redis: redis ? { url: redis.url, prefix } : undefined });
    const emptyEnv = gatewayEnv({ sessionsPath: join(sessionsPath, 'empty'), redis: redis ? { url: redis.url, prefix: `${prefix}empty` } : undefined });
    const run = (phase: string, n = SESSIONS, workerEnv = env): Promise<unknown> =>
      runWorker(WORKER, [phase, String(n)], { env: workerEnv, timeoutMs: WORKER_TIMEOUT_MS });

    console.log(`  restore-time (${mode}): creating ${SESSIONS} ready sessions…`);
    const setup = Setup.parse(await run('setup'));
    const result: ModeResult = { mode, setup, gateway: [], baseline: [], empty: [], oneListener: [] };
    for (let i = 0; i < runs; i++) {
      console.log(`  restore-time (${mode}): run ${i + 1}/${runs} baseline, gateway, gateway with no sessions, gateway waited with one listener…`);
      result.baseline.push(Baseline.parse(await run('baseline')));
      result.gateway.push(Gateway.parse(await run('gateway')));
      result.empty.push(Gateway.parse(await run('gateway', 0, emptyEnv)));
      result.oneListener.push(Gateway.parse(await run('gateway-one-listener')));
    }
    return result;
  } finally {
    await redis?.stop();
    await dir.remove();
  }
}

function rowOf(result: ModeResult): BenchRow {
  const g = result.gateway.map((r) => r.totalMs / 1000);
  const b = result.baseline.map((r) => r.totalMs / 1000);
  return row({
    metric: `restore ${SESSIONS} simulator sessions to ready (${result.mode})`,
    unit: 's',
    value: median(g),
    baseline: median(b),
    baselineLabel: 'registry.list() + bare engines',
    goal: GOAL_SECONDS,
    spread: [min(g), max(g)],
    runs: g.length,
  });
}

export async function runRestoreTime(options: RestoreTimeOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const runs = options.runs ?? 5;
  const results: ModeResult[] = [];
  for (const mode of options.modes ?? (['embedded', 'redis'] as const)) results.push(await runMode(mode, runs));
  const medians = (r: ModeResult): Record<string, number> => {
    const m = (pick: (g: z.infer<typeof Gateway>) => number): number => round(median(r.gateway.map(pick)), 1);
    const mb = (pick: (g: z.infer<typeof Baseline>) => number): number => round(median(r.baseline.map(pick)), 1);
    return {
      gatewayBuildMs: m((g) => g.buildMs),
      gatewayAppReadyMs: m((g) => g.appReadyMs),
      gatewayWaitMs: m((g) => g.waitMs),
      gatewayTotalMs: m((g) => g.totalMs),
      gatewaySinceProcessStartMs: m((g) => g.sinceProcessStartMs),
      gatewayReadyAtAppReady: m((g) => g.readyAtAppReady),
      baselineListMs: mb((b) => b.listMs),
      baselineEnginesMs: mb((b) => b.enginesMs),
      baselineTotalMs: mb((b) => b.totalMs),
      baselineSinceProcessStartMs: mb((b) => b.sinceProcessStartMs),
      emptyRegistryTotalMs: round(median(r.empty.map((e) => e.totalMs)), 1),
      emptyRegistryBuildMs: round(median(r.empty.map((e) => e.buildMs)), 1),
      oneListenerTotalMs: round(median(r.oneListener.map((e) => e.totalMs)), 1),
      oneListenerWaitMs: round(median(r.oneListener.map((e) => e.waitMs)), 1),
      oneListenerAppReadyMs: round(median(r.oneListener.map((e) => e.appReadyMs)), 1),
    };
  };
  return {
    name: 'restore-time',
    rows: results.map(rowOf),
    raw: { sessions: SESSIONS, modes: results.map((r) => ({ ...r, medians: medians(r) })) },
    durationMs: performance.now() - started,
  };
}

if (isMain(import.meta.url)) {
  installSignalCleanup();
  await runStandalone(() => runRestoreTime());
}

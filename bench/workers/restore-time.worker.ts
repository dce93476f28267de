/**
 * Child process of the restore-time benchmark (`node --import tsx`), one phase per process so
 * that every restore is a cold start, as after a real restart:
 *
 *   restore-time.worker.ts setup    <n>   create n ready simulator sessions, then close the app
 *   restore-time.worker.ts gateway  <n>   buildApp → app.ready() → waitForStatus(ready) for all, timed
 *   restore-time.worker.ts baseline <n>   openStorage + registry.list(), then a bare loop that creates
 *                                         n simulator engines and waits for their 'ready' event
 *   restore-time.worker.ts gateway-one-listener <n>
 *                                         as gateway, but waits with one event-bus listener instead of
 *                                         n waitForStatus calls (each of which subscribes to the bus)
 *
 * The storage (embedded SESSIONS_PATH or REDIS_URL + REDIS_PREFIX) comes from the env.
 */
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/engines/engine.js';
import { createSimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import { openStorage } from '../../src/storage/storage.js';
import { reportResult } from '../lib/processes.js';
import { mapConcurrent, withTimeout } from '../lib/stats.js';

const WAIT_MS = 60_000;

export interface SetupResult {
  phase: 'setup';
  sessions: number;
  ms: number;
}

export interface GatewayRestoreResult {
  phase: 'gateway' | 'gateway-one-listener';
  storage: 'redis' | 'embedded';
  sessions: number;
  /** buildApp() (config → Fastify instance, storage opened). */
  buildMs: number;
  /** app.ready() (plugins, then SessionManager.init restoring every session). */
  appReadyMs: number;
  /** Sessions already ready when app.ready() resolved. */
  readyAtAppReady: number;
  /** waitForStatus(ready) for every session, after app.ready(). */
  waitMs: number;
  /** buildApp start → every session ready: the benchmark's figure. */
  totalMs: number;
  /** Process start (performance.timeOrigin) → every session ready: includes node + tsx + imports. */
  sinceProcessStartMs: number;
  closeMs: number;
}

export interface BaselineRestoreResult {
  phase: 'baseline';
  storage: 'redis' | 'embedded';
  sessions: number;
  /** openStorage() + registry.list(). */
  listMs: number;
  /** Create n engines, start them, wait for every 'ready' event. */
  enginesMs: number;
  totalMs: number;
  sinceProcessStartMs: number;
}

async function setup(n: number): Promise<SetupResult> {
  const started = performance.now();
  const config = loadConfig(process.env);
  const app = await buildApp(config);
  try {
    await app.ready();
    const sessions = app.gateway.sessions;
    if (sessions.list().length > 0) throw new Error('setup expects an empty registry');
    await mapConcurrent(
      Array.from({ length: n }, (_, i) => i),
      20,
      async () => {
        const { id } = await sessions.create({});
        const engine = sessions.engineOf(id);
        if (!(engine instanceof SimulatorEngine) || !(await engine.scan({}))) throw new Error(`scan ${id}: no QR showing`);
        const { status } = await sessions.waitForStatus(id, ['ready', 'failed', 'stopped', 'disconnected'], 5_000);
        if (status !== 'ready') throw new Error(`scan ${id}: ${status}`);
      },
    );
    const ready = sessions.counts().ready;
    if (ready !== n) throw new Error(`setup: ${ready} of ${n} sessions ready`);
  } finally {
    await app.close();
  }
  return { phase: 'setup', sessions: n, ms: performance.now() - started };
}

async function gateway(n: number, wait: 'waitForStatus' | 'one-listener'): Promise<GatewayRestoreResult> {
  const config = loadConfig(process.env);
  const t0 = performance.now();
  const app = await buildApp(config);
  const tBuilt = performance.now();
  const sessions = app.gateway.sessions;
  // one-listener mode: counts sessions turning ready from the start of the restore on.
  const readyIds = new Set<string>();
  const waiter = { target: Number.POSITIVE_INFINITY, done: (): void => undefined };
  const unsubscribe =
    wait === 'one-listener'
      ? app.gateway.bus.subscribe((event) => {
          if (event.event !== 'session.status') return;
          if (sessions.statusOf(event.sessionId) === 'ready') readyIds.add(event.sessionId);
          else readyIds.delete(event.sessionId);
          if (readyIds.size >= waiter.target) waiter.done();
        })
      : (): void => undefined;
  try {
    await app.ready();
    const tReady = performance.now();
    const readyAtAppReady = sessions.counts().ready;
    const ids = sessions.list().map((s) => s.id);
    if (wait === 'waitForStatus') {
      await Promise.all(ids.map((id) => sessions.waitForStatus(id, ['ready', 'failed'], WAIT_MS)));
    } else {
      for (const id of ids) if (sessions.statusOf(id) === 'ready') readyIds.add(id);
      if (readyIds.size < ids.length) {
        await withTimeout(
          new Promise<void>((resolve) => {
            waiter.target = ids.length;
            waiter.done = resolve;
          }),
          WAIT_MS,
          'sessions ready',
        );
      }
    }
    const tAll = performance.now();
    unsubscribe();
    const ready = sessions.counts().ready;
    if (ids.length !== n || ready !== n) throw new Error(`restore: ${ready} of ${n} sessions ready`);
    const tClose = performance.now();
    await app.close();
    return {
      phase: wait === 'waitForStatus' ? 'gateway' : 'gateway-one-listener',
      storage: app.gateway.storage.mode,
      sessions: ids.length,
      buildMs: tBuilt - t0,
      appReadyMs: tReady - tBuilt,
      readyAtAppReady,
      waitMs: tAll - tReady,
      totalMs: tAll - t0,
      sinceProcessStartMs: tAll,
      closeMs: performance.now() - tClose,
    };
  } catch (error) {
    unsubscribe();
    await app.close();
    throw error;
  }
}

async function baseline(n: number): Promise<BaselineRestoreResult> {
  const config = loadConfig(process.env);
  const t0 = performance.now();
  const storage = await openStorage(config);
  const engines: Engine[] = [];
  try {
    const records = await storage.registry.list();
    const tList = performance.now();
    if (records.length !== n) throw new Error(`baseline: registry holds ${records.length} records, expected ${n}`);
    const driver = createSimulatorDriver({ qrRotationMs: config.whatsapp.qrTimeoutMs, ackDelaysMs: config.simulator.ackDelaysMs });
    const logger = pino({ level: 'silent' });
    const ready: Promise<void>[] = [];
    for (const record of records) {
      const engine = driver.create({
        sessionId: record.id,
        logger,
        auth: { load: async () => record.engineAuth, save: async () => undefined, clear: async () => undefined },
      });
      ready.push(
        new Promise<void>((resolve) => {
          const off = engine.onEvent((event) => {
            if (event.type === 'ready') {
              off();
              resolve();
            }
          });
        }),
      );
      engines.push(engine);
      await engine.start();
    }
    await withTimeout(Promise.all(ready), WAIT_MS, 'baseline engines ready');
    const tAll = performance.now();
    return { phase: 'baseline', storage: storage.mode, sessions: records.length, listMs: tList - t0, enginesMs: tAll - tList, totalMs: tAll - t0, sinceProcessStartMs: tAll };
  } finally {
    await Promise.all(engines.map((e) => e.stop()));
    await storage.close();
  }
}

async function main(): Promise<void> {
  const phase = process.argv[2];
  const n = Number(process.argv[3] ?? '1000');
  if (!Number.isInteger(n) || n < 0) throw new Error('usage: restore-time.worker.ts setup|gateway|gateway-one-listener|baseline <n>');
  switch (phase) {
    case 'setup':
      reportResult(await setup(n));
      return;
    case 'gateway':
      reportResult(await gateway(n, 'waitForStatus'));
      return;
    case 'gateway-one-listener':
      reportResult(await gateway(n, 'one-listener'));
      return;
    case 'baseline':
      reportResult(await baseline(n));
      return;
    default:
      throw new Error('usage: restore-time.worker.ts setup|gateway|gateway-one-listener|baseline <n>');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

/**
 * Child process of the session-memory benchmark (run with `node --expose-gc --import tsx`).
 *
 *   session-memory.worker.ts <gateway|gateway-http|baseline-records|baseline-engines> 100,250,500,750,1000
 *
 * Every mode builds and readies the real app in embedded mode (the env comes from the parent), then:
 * - `gateway`: creates simulator sessions through the session manager (app.gateway.sessions.create,
 *   then the simulated phone's scan — the call the scan route makes — and waitForStatus ready);
 * - `gateway-http`: the same through the HTTP API (app.inject POST /api/v1/sessions, then POST
 *   /api/v1/sessions/:id/simulator/scan, which answers once the session is ready);
 * - `baseline-records`: keeps plain objects shaped like a ready session record in a Map, nothing else;
 * - `baseline-engines`: the same records plus, for each, a bare simulator engine started from the
 *   record's link and ready (driver.create + start, one shared silent logger) — what a session
 *   needs without the session manager, its runtime, lock, lifecycle and registry copy.
 * At every point the process is garbage-collected and its memory read.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { pino } from 'pino';
import type { Engine } from '../../src/engines/engine.js';
import { createSimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import type { SessionRecord } from '../../src/sessions/session.js';
import { REGISTRY_FILE } from '../../src/storage/storage.js';
import { BENCH_API_KEY } from '../lib/gateway-env.js';
import { settledMemory, type MemorySample } from '../lib/memory.js';
import { reportResult } from '../lib/processes.js';
import { mapConcurrent, sleep, withTimeout } from '../lib/stats.js';

export interface MemoryPoint extends MemorySample {
  sessions: number;
  /** Timeouts alive in the process (process.getActiveResourcesInfo). */
  activeTimeouts: number;
  /** Bytes of the embedded registry file (gateway mode), 0 otherwise. */
  registryFileBytes: number;
}

export interface SessionMemoryWorkerResult {
  mode: WorkerMode;
  points: MemoryPoint[];
  /** Time spent creating the sessions (or records) of each step. */
  createMs: number[];
}

export const WORKER_MODES = ['gateway', 'gateway-http', 'baseline-records', 'baseline-engines'] as const;
export type WorkerMode = (typeof WORKER_MODES)[number];
const isMode = (value: string | undefined): value is WorkerMode => WORKER_MODES.some((m) => m === value);

const CONCURRENCY = 20;
const headers = { 'x-api-key': BENCH_API_KEY };

/** A plain object shaped like the record of a ready simulator session (what the registry stores). */
function sessionRecordLike(): SessionRecord {
  const phone = `5511${randomInt(900_000_000, 999_999_999)}`;
  const at = (): string => new Date().toISOString();
  return {
    id: `sess_${randomBytes(9).toString('base64url')}`,
    engine: 'simulator',
    status: 'ready',
    me: { id: `${phone}@c.us`, phone, pushName: 'Simulated Phone' },
    metadata: {},
    webhooks: [],
    createdAt: at(),
    updatedAt: at(),
    connectedAt: at(),
    lastError: null,
    stats: { sent: 0, received: 0, failed: 0 },
    engineAuth: { phone, pushName: 'Simulated Phone' },
  };
}

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (!isMode(mode)) throw new Error(`usage: session-memory.worker.ts ${WORKER_MODES.join('|')} <points>`);
  const points = (process.argv[3] ?? '100,250,500,750,1000').split(',').map(Number);
  const config = loadConfig(process.env);
  if (config.redis) throw new Error('the memory benchmark runs in embedded mode (no REDIS_URL)');

  const app = await buildApp(config);
  await app.ready();
  const registryFile = join(config.sessionsPath, REGISTRY_FILE);
  const held = new Map<string, SessionRecord>();
  const engines = new Map<string, Engine>();
  const driver = createSimulatorDriver({ qrRotationMs: config.whatsapp.qrTimeoutMs, ackDelaysMs: config.simulator.ackDelaysMs });
  const logger = pino({ level: 'silent' });

  const startBareEngine = async (record: SessionRecord): Promise<void> => {
    const engine = driver.create({
      sessionId: record.id,
      logger,
      auth: { load: async () => record.engineAuth, save: async () => undefined, clear: async () => undefined },
    });
    const ready = new Promise<void>((resolve) => {
      const off = engine.onEvent((event) => {
        if (event.type === 'ready') {
          off();
          resolve();
        }
      });
    });
    engines.set(record.id, engine);
    await engine.start();
    await withTimeout(ready, 5_000, `engine ${record.id} ready`);
  };

  const sessions = app.gateway.sessions;
  const createThroughManager = async (): Promise<void> => {
    const { id } = await sessions.create({});
    const engine = sessions.engineOf(id);
    if (!(engine instanceof SimulatorEngine) || !(await engine.scan({}))) throw new Error(`scan ${id}: no QR showing`);
    const { status } = await sessions.waitForStatus(id, ['ready', 'failed', 'stopped', 'disconnected'], 5_000);
    if (status !== 'ready') throw new Error(`scan ${id}: ${status}`);
  };

  const createThroughHttp = async (): Promise<void> => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers, payload: {} });
    if (created.statusCode !== 201) throw new Error(`create: ${created.statusCode} ${created.body}`);
    const { id } = created.json<{ id: string }>();
    const scanned = await app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/scan`, headers, payload: {} });
    const status = scanned.statusCode === 200 ? scanned.json<{ status: string }>().status : `HTTP ${scanned.statusCode}`;
    if (status !== 'ready') throw new Error(`scan ${id}: ${status} ${scanned.body}`);
  };

  const result: SessionMemoryWorkerResult = { mode, points: [], createMs: [] };
  let count = 0;
  try {
    for (const target of points) {
      const started = performance.now();
      const todo = Array.from({ length: target - count }, (_, i) => i);
      if (mode === 'gateway') {
        await mapConcurrent(todo, CONCURRENCY, createThroughManager);
      } else if (mode === 'gateway-http') {
        await mapConcurrent(todo, CONCURRENCY, createThroughHttp);
      } else {
        const records = todo.map(() => sessionRecordLike());
        for (const record of records) held.set(record.id, record);
        if (mode === 'baseline-engines') await mapConcurrent(records, CONCURRENCY, startBareEngine);
      }
      count = target;
      result.createMs.push(performance.now() - started);

      // Let the registry's coalesced file write (50 ms) and any zero-delay engine timers run.
      await sleep(150);
      if (mode === 'gateway' || mode === 'gateway-http') {
        const ready = sessions.counts().ready;
        if (ready !== target) throw new Error(`expected ${target} ready sessions, found ${ready}`);
      } else if (held.size !== target || (mode === 'baseline-engines' && engines.size !== target)) {
        throw new Error(`expected ${target} records (and engines), found ${held.size} (${engines.size})`);
      }
      const memory = await settledMemory();
      const registryFileBytes = mode === 'gateway' || mode === 'gateway-http' ? (await stat(registryFile)).size : 0;
      result.points.push({ sessions: target, ...memory, activeTimeouts: activeTimeouts(), registryFileBytes });
    }
  } finally {
    await Promise.all([...engines.values()].map((e) => e.stop()));
    await app.close();
  }
  // Keep the baseline's records reachable until after the last measurement.
  if (held.size !== (mode.startsWith('baseline') ? count : 0)) throw new Error('baseline records lost');
  reportResult(result);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

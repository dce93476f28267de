/**
 * Child process of the session-memory benchmark (run with `node --expose-gc --import tsx`).
 *
 *   session-memory.worker.ts gateway  100,250,500,750,1000
 *   session-memory.worker.ts baseline 100,250,500,750,1000
 *
 * Both modes build and ready the real app in embedded mode (the env comes from the parent). In
 * `gateway` mode it then creates simulator sessions through the HTTP API (app.inject: POST
 * /api/v1/sessions, then POST /api/v1/sessions/:id/simulator/scan, which answers once the session
 * is ready); in `baseline` mode it only keeps plain objects shaped like a ready session record in
 * a Map. At every point the process is garbage-collected and its memory read.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { SessionRecord } from '../../src/sessions/session.js';
import { REGISTRY_FILE } from '../../src/storage/storage.js';
import { BENCH_API_KEY } from '../lib/gateway-env.js';
import { settledMemory, type MemorySample } from '../lib/memory.js';
import { reportResult } from '../lib/processes.js';
import { mapConcurrent, sleep } from '../lib/stats.js';

export interface MemoryPoint extends MemorySample {
  sessions: number;
  /** Timeouts alive in the process (process.getActiveResourcesInfo). */
  activeTimeouts: number;
  /** Bytes of the embedded registry file (gateway mode), 0 otherwise. */
  registryFileBytes: number;
}

export interface SessionMemoryWorkerResult {
  mode: 'gateway' | 'baseline';
  points: MemoryPoint[];
  /** Time spent creating the sessions (or records) of each step. */
  createMs: number[];
}

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
  if (mode !== 'gateway' && mode !== 'baseline') throw new Error('usage: session-memory.worker.ts gateway|baseline <points>');
  const points = (process.argv[3] ?? '100,250,500,750,1000').split(',').map(Number);
  const config = loadConfig(process.env);
  if (config.redis) throw new Error('the memory benchmark runs in embedded mode (no REDIS_URL)');

  const app = await buildApp(config);
  await app.ready();
  const registryFile = join(config.sessionsPath, REGISTRY_FILE);
  const held = new Map<string, SessionRecord>();

  const createReadySession = async (): Promise<void> => {
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
        await mapConcurrent(todo, CONCURRENCY, createReadySession);
      } else {
        for (const _ of todo) {
          const record = sessionRecordLike();
          held.set(record.id, record);
        }
      }
      count = target;
      result.createMs.push(performance.now() - started);

      // Let the registry's coalesced file write (50 ms) and any zero-delay engine timers run.
      await sleep(150);
      if (mode === 'gateway') {
        const ready = app.gateway.sessions.counts().ready;
        if (ready !== target) throw new Error(`expected ${target} ready sessions, found ${ready}`);
      } else if (held.size !== target) {
        throw new Error(`expected ${target} records, found ${held.size}`);
      }
      const memory = await settledMemory();
      const registryFileBytes = mode === 'gateway' ? (await stat(registryFile)).size : 0;
      result.points.push({ sessions: target, ...memory, activeTimeouts: activeTimeouts(), registryFileBytes });
    }
  } finally {
    await app.close();
  }
  // Keep the baseline's records reachable until after the last measurement.
  if (held.size !== (mode === 'baseline' ? count : 0)) throw new Error('baseline records lost');
  reportResult(result);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

/**
 * The server under test of the send benchmarks (`node --import tsx`), one of four kinds:
 *
 *   send-server.worker.ts '{"mode":"gateway","sessions":10,"workers":true}'
 *     The real gateway: buildApp(loadConfig(env)) in Redis mode (REDIS_URL/REDIS_PREFIX and the
 *     pacing settings come from the env), with the simulator driver wrapped so that every engine
 *     send is observed. At start it creates `sessions` simulator sessions through the HTTP API
 *     (POST /api/v1/sessions, wait for `qr`, POST …/simulator/scan → ready).
 *   send-server.worker.ts '{"mode":"bare","sessions":10,"workers":false}'
 *     The bare baseline: a plain Fastify route POST /api/v1/sessions/:id/messages that only does
 *     `queue.add` of a BullMQ job ({ sessionId, messageId, text }, jobId = messageId) on one Queue
 *     per session (`send-<id>`, the gateway's lane layout and job options), one shared ioredis
 *     connection. With `workers`, one BullMQ Worker (concurrency 1) per queue on a shared worker
 *     connection, whose processor only records the job as "sent" — bare BullMQ add → process.
 *   send-server.worker.ts '{"mode":"durable","sessions":10,"workers":false}'
 *     The durable minimum: the bare server plus the least the issue asks of every design — a
 *     message record stored before the 202 (one Lua script: SET with TTL + ZADD to the session's
 *     history index), the job carrying its id only, the 202 carrying the stored record; its
 *     processor reads the record for the text and writes it back `sent`. No auth, validation,
 *     events, acks, idempotency or retries: what bare → durable costs, every design pays.
 *   send-server.worker.ts '{"mode":"contract","sessions":10,"workers":true}'
 *     The contract minimum: the durable server's layout plus the rest of the contract's own work
 *     per send — the attempt recorded before the "engine send", three acks, five record writes and
 *     seven events with their seq (bench/fixtures/contract-minimum.ts).
 *
 * All answer 202 and record, in an onResponse hook, when each send was accepted; "sent" is when the
 * engine's send() was called (gateway) or the processor ran (bare). The text of every send ends
 * with its per-session sequence number, so the order each session's sends left in is checked.
 *
 * A second HTTP server on another loopback port (the control port) serves the benchmark:
 *   GET  /stats                 counters, process CPU (total and kernel), event-loop utilisation, RSS
 *   POST /drain?timeoutMs=      waits until every accepted send was sent (gateway: and its acks
 *                               were stored; contract: its acks written); bare without workers:
 *                               deletes the waiting jobs
 *   GET  /summary?fromAccept=&fromSend=
 *                               accept → send latency and end-to-end rate of one phase's sends
 *   POST /pending?n=            gateway: n more sessions, left waiting for their QR scan (sends to
 *                               them are accepted and queued, not processed); bare: n queue names
 *   POST /pending/scan          gateway: scans the pending sessions, which then send their backlog
 * Prints `@@BENCH_READY@@{…}` once listening. SIGTERM closes everything and exits.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { EngineContext, EngineDriver, OutboundContent, SendOptions, SendResult } from '../../src/engines/engine.js';
import { SimulatorEngine, type SimulatorOptions } from '../../src/engines/simulator/simulator-engine.js';
import { openContractMinimum } from '../fixtures/contract-minimum.js';
import { BENCH_API_KEY } from '../lib/gateway-env.js';
import { percentiles, seqOf } from '../lib/load.js';
import { READY_MARKER } from '../lib/send-harness.js';
import { mapConcurrent, sleep } from '../lib/stats.js';

const ServerSpec = z.object({
  mode: z.enum(['gateway', 'bare', 'durable', 'contract']),
  sessions: z.number().int().positive(),
  workers: z.boolean(),
});
type ServerSpec = z.infer<typeof ServerSpec>;

const SEND_ROUTE = '/api/v1/sessions/:id/messages';
const CLOSE_TIMEOUT_MS = 10_000;

// ---- what the benchmark observes ------------------------------------------------------------

const now = (): number => performance.now();
const acceptAt = new Map<string, number>();
const acceptKeys: string[] = [];
const sendKeys: string[] = [];
const sendAt: number[] = [];
const lastSeq = new Map<string, number>();
const sentKeys = new Set<string>();
const counters = { accepted: 0, sent: 0, dropped: 0, violations: 0, duplicates: 0, refused: 0 };

/** A send left: its sequence number must be above the session's previous one. */
function recordSend(sessionId: string, text: string): void {
  const seq = seqOf(text);
  const key = `${sessionId}|${seq}`;
  if (sentKeys.has(key)) counters.duplicates += 1;
  sentKeys.add(key);
  const last = lastSeq.get(sessionId);
  if (last !== undefined && seq < last) counters.violations += 1;
  else lastSeq.set(sessionId, seq);
  sendKeys.push(key);
  sendAt.push(now());
  counters.sent += 1;
}

/** onResponse hook: a 202 of the send route is an accepted send. */
async function onResponse(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.method !== 'POST' || request.routeOptions.url !== SEND_ROUTE) return;
  if (reply.statusCode !== 202) {
    counters.refused += 1;
    return;
  }
  const { id } = request.params as { id: string };
  const { text } = request.body as { text?: unknown };
  const key = `${id}|${seqOf(typeof text === 'string' ? text : '')}`;
  acceptAt.set(key, now());
  acceptKeys.push(key);
  counters.accepted += 1;
}

// ---- the servers ------------------------------------------------------------------------------

interface Target {
  app: FastifyInstance;
  /** Ids of the sessions (lanes) the load goes to. */
  sessions: string[];
  drain(timeoutMs: number): Promise<Record<string, unknown>>;
  pending(n: number): Promise<string[]>;
  scanPending(): Promise<number>;
  close(): Promise<void>;
}

/** The simulator driver of the gateway, with every send observed (the idea of tests/helpers/counting-simulator.ts). */
function observedSimulatorDriver(options: SimulatorOptions): EngineDriver {
  return {
    name: 'simulator',
    create: (context: EngineContext) =>
      new (class extends SimulatorEngine {
        override async send(chatId: string, content: OutboundContent, sendOptions: SendOptions): Promise<SendResult> {
          if (content.type === 'text') recordSend(context.sessionId, content.text);
          return super.send(chatId, content, sendOptions);
        }
      })(context, options),
    removeAuthData: async () => undefined,
  };
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (!check()) {
    if (now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

async function gateway(spec: ServerSpec): Promise<Target> {
  const config = loadConfig(process.env);
  const app = await buildApp(config, {
    engineDrivers: [observedSimulatorDriver({ qrRotationMs: config.whatsapp.qrTimeoutMs, ackDelaysMs: config.simulator.ackDelaysMs })],
  });
  app.addHook('onResponse', onResponse);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const headers = { 'x-api-key': BENCH_API_KEY };

  const create = async (id: string, scan: boolean): Promise<void> => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers, payload: { id, engine: 'simulator' } });
    if (created.statusCode !== 201) throw new Error(`create ${id}: ${created.statusCode} ${created.body}`);
    const { status } = await app.gateway.sessions.waitForStatus(id, ['qr'], 10_000);
    if (status !== 'qr') throw new Error(`session ${id} is ${status}, not qr`);
    if (!scan) return;
    const scanned = await app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/scan`, headers, payload: {} });
    const body = JSON.parse(scanned.body) as { status?: string };
    if (scanned.statusCode !== 200 || body.status !== 'ready') throw new Error(`scan ${id}: ${scanned.statusCode} ${scanned.body}`);
  };
  const sessions = Array.from({ length: spec.sessions }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
  await mapConcurrent(sessions, 10, (id) => create(id, true));
  const pendingIds: string[] = [];
  let pendingCreated = 0;

  return {
    app,
    sessions,
    drain: async (timeoutMs) => {
      const started = now();
      const backlog = counters.accepted - counters.sent;
      const drained = await waitUntil(() => counters.sent >= counters.accepted, timeoutMs);
      const sentMs = now() - started;
      // The simulator acks every send after 5/10/15 ms; the pipeline stores them in order.
      await sleep(Math.max(...config.simulator.ackDelaysMs) + 50);
      await app.gateway.pipeline.idle();
      return { drained, backlog, sentMs, waitedMs: now() - started };
    },
    pending: async (n) => {
      const ids = Array.from({ length: n }, (_, i) => `bench-pending-${pendingCreated + i}`);
      pendingCreated += n;
      await mapConcurrent(ids, 10, (id) => create(id, false));
      pendingIds.push(...ids);
      return ids;
    },
    scanPending: async () => {
      const ids = pendingIds.splice(0);
      await mapConcurrent(ids, 10, async (id) => {
        const scanned = await app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/scan`, headers, payload: {} });
        if (scanned.statusCode !== 200) throw new Error(`scan ${id}: ${scanned.statusCode} ${scanned.body}`);
      });
      return ids.length;
    },
    close: () => app.close(),
  };
}

/**
 * The `durable` kind's message records: the least an accept must store before it answers 202 with
 * the stored message (a record with the content, in a per-session history index) and a send must
 * update (the record read for its content, written back `sent`). One Lua script per accept, as
 * the gateway's insert; a GET and a SET per send.
 */
async function durableRecords(redis: Redis, prefix: string): Promise<{ insert(sessionId: string, id: string, text: string): Promise<string>; markSent(id: string): Promise<string | null> }> {
  const ttl = 30 * 24 * 3_600_000;
  const sha = String(await redis.script('LOAD', "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) return 1"));
  const Stored = z.looseObject({ content: z.object({ text: z.string() }) });
  const key = (id: string): string => `${prefix}:rec:${id}`;
  return {
    insert: async (sessionId, id, text) => {
      const at = new Date();
      const json = JSON.stringify({
        id, sessionId, chatId: '5511999990000@c.us', direction: 'outbound', type: 'text', status: 'queued', content: { text },
        waMessageId: null, clientRef: null, error: null, attempts: 0, createdAt: at.toISOString(), queuedAt: at.toISOString(), sentAt: null,
      });
      await redis.evalsha(sha, 2, key(id), `${prefix}:idx:${sessionId}`, json, ttl, at.getTime(), id);
      return json;
    },
    markSent: async (id) => {
      const raw = await redis.get(key(id));
      if (raw === null) return null;
      const record = Stored.parse(JSON.parse(raw));
      await redis.set(key(id), JSON.stringify({ ...record, status: 'sent', sentAt: new Date().toISOString(), attempts: 1 }), 'PX', ttl);
      return record.content.text;
    },
  };
}

async function bare(spec: ServerSpec): Promise<Target> {
  const url = process.env.REDIS_URL ?? '';
  const prefix = `${process.env.REDIS_PREFIX ?? 'bench'}:bull`;
  const name = process.env.REDIS_PREFIX ?? 'bench';
  const producer = new Redis(url, { connectionName: `${name}:bare-send`, maxRetriesPerRequest: 1, lazyConnect: true });
  const workerConnection = new Redis(url, { connectionName: `${name}:bare-worker`, maxRetriesPerRequest: null, lazyConnect: true });
  for (const redis of [producer, workerConnection]) {
    redis.on('error', () => undefined);
    await redis.connect();
  }
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const queueOf = (sessionId: string): Queue => {
    let queue = queues.get(sessionId);
    if (!queue) {
      queue = new Queue(`send-${sessionId}`, { connection: producer, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: 100 } });
      queue.on('error', () => undefined);
      queues.set(sessionId, queue);
    }
    return queue;
  };

  const records = spec.mode === 'durable' ? await durableRecords(producer, name) : null;
  const contract = spec.mode === 'contract' ? await openContractMinimum(url, name, (error) => console.error(error)) : null;
  const app = Fastify({ logger: false });
  app.post<{ Params: { id: string }; Body: { text?: string } }>(SEND_ROUTE, async (request, reply) => {
    const sessionId = request.params.id;
    const messageId = `msg_${randomBytes(12).toString('hex')}`;
    const text = request.body.text ?? '';
    if (contract) {
      const json = await contract.insert(sessionId, messageId, text);
      await queueOf(sessionId).add('send', { sessionId, messageId }, { jobId: messageId });
      return reply.code(202).type('application/json').send(json);
    }
    if (!records) {
      await queueOf(sessionId).add('send', { sessionId, messageId, text }, { jobId: messageId });
      return reply.code(202).send({ id: messageId });
    }
    // The record first, then a job that carries its id only; the answer is the stored record.
    const json = await records.insert(sessionId, messageId, text);
    await queueOf(sessionId).add('send', { sessionId, messageId }, { jobId: messageId });
    return reply.code(202).type('application/json').send(json);
  });
  app.addHook('onResponse', onResponse);

  const sessions = Array.from({ length: spec.sessions }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
  if (spec.workers) {
    for (const sessionId of sessions) {
      const worker = new Worker<{ sessionId: string; messageId: string; text: string }>(
        `send-${sessionId}`,
        async (job) => {
          if (contract) {
            const begun = await contract.begin(job.data.messageId);
            if (begun === null) return;
            recordSend(begun.sessionId, begun.content.text);
            await contract.sent(begun);
            return;
          }
          if (!records) {
            recordSend(job.data.sessionId, job.data.text);
            return;
          }
          const text = await records.markSent(job.data.messageId);
          if (text !== null) recordSend(job.data.sessionId, text);
        },
        { connection: workerConnection, prefix, concurrency: 1 },
      );
      worker.on('error', () => undefined);
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  let pendingCount = 0;

  return {
    app,
    sessions,
    drain: async (timeoutMs) => {
      const started = now();
      const backlog = counters.accepted - counters.sent - counters.dropped;
      if (spec.workers) {
        const drained = await waitUntil(() => counters.sent >= counters.accepted, timeoutMs);
        const sentMs = now() - started;
        // contract: its acks are written 5/10/15 ms after each send (the gateway's simulator acks are stored likewise).
        if (contract) await waitUntil(() => contract.outstanding === 0, timeoutMs);
        return { drained, backlog, sentMs, waitedMs: now() - started };
      }
      // No workers: the jobs would wait forever; delete them so that every phase starts from empty queues.
      await Promise.all([...queues.values()].map((q) => q.drain(true)));
      counters.dropped = counters.accepted - counters.sent;
      return { drained: true, backlog, dropped: backlog, waitedMs: now() - started };
    },
    pending: async (n) => {
      const ids = Array.from({ length: n }, (_, i) => `bench-pending-${pendingCount + i}`);
      pendingCount += n;
      return ids;
    },
    scanPending: async () => 0,
    close: async () => {
      await app.close();
      await Promise.allSettled(workers.map((w) => w.close()));
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
      await contract?.close();
      await producer.quit().catch(() => undefined);
      await workerConnection.quit().catch(() => undefined);
      producer.disconnect();
      workerConnection.disconnect();
    },
  };
}

// ---- control server ---------------------------------------------------------------------------

function stats(): Record<string, unknown> {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  return {
    ...counters,
    acceptIndex: acceptKeys.length,
    sendIndex: sendKeys.length,
    cpuUs: cpu.user + cpu.system,
    cpuSystemUs: cpu.system,
    eluActiveMs: elu.active,
    eluIdleMs: elu.idle,
    rssBytes: process.memoryUsage.rss(),
    epochMs: performance.timeOrigin + now(),
  };
}

/** Accept → send latency and the end-to-end rate of the sends accepted from `fromAccept` on. */
function summary(fromAccept: number, fromSend: number): Record<string, unknown> {
  const window = new Set(acceptKeys.slice(fromAccept));
  const latencies: number[] = [];
  let firstAccept = Number.POSITIVE_INFINITY;
  let lastSend = 0;
  for (const key of window) firstAccept = Math.min(firstAccept, acceptAt.get(key) ?? Number.POSITIVE_INFINITY);
  let unmatched = 0;
  for (let i = fromSend; i < sendKeys.length; i++) {
    const key = sendKeys[i] ?? '';
    const at = sendAt[i] ?? 0;
    const accepted = window.has(key) ? acceptAt.get(key) : undefined;
    if (accepted === undefined) {
      unmatched += 1;
      continue;
    }
    latencies.push(at - accepted);
    lastSend = Math.max(lastSend, at);
  }
  const spanMs = lastSend - firstAccept;
  return {
    accepted: window.size,
    sent: latencies.length,
    unmatched,
    spanMs,
    e2eThroughput: latencies.length > 0 ? (latencies.length / spanMs) * 1_000 : Number.NaN,
    latencyMs: percentiles(latencies),
  };
}

function control(target: Target): ReturnType<typeof createServer> {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const number = (name: string, fallback: number): number => Number(url.searchParams.get(name) ?? fallback);
    const handle = async (): Promise<unknown> => {
      switch (`${req.method ?? 'GET'} ${url.pathname}`) {
        case 'GET /stats':
          return stats();
        case 'POST /drain':
          return target.drain(number('timeoutMs', 60_000));
        case 'GET /summary':
          return summary(number('fromAccept', 0), number('fromSend', 0));
        case 'POST /pending':
          return { ids: await target.pending(number('n', 10)) };
        case 'POST /pending/scan':
          return { scanned: await target.scanPending() };
        default:
          throw new Error(`unknown control request ${req.method ?? '?'} ${url.pathname}`);
      }
    };
    handle().then(
      (body) => reply(200, body),
      (error: unknown) => reply(500, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
}

const spec = ServerSpec.parse(JSON.parse(process.argv[2] ?? '{}'));
const target = spec.mode === 'gateway' ? await gateway(spec) : await bare(spec);
const controlServer = control(target);
await new Promise<void>((resolve) => controlServer.listen(0, '127.0.0.1', resolve));

let closing = false;
const shutdown = (): void => {
  if (closing) return;
  closing = true;
  const forced = setTimeout(() => process.exit(1), CLOSE_TIMEOUT_MS);
  controlServer.close();
  target.close().then(
    () => {
      clearTimeout(forced);
      process.exit(0);
    },
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

/** The port a server listens on (a TCP listener's address is an object; a pipe's is a string). */
function portOf(address: AddressInfo | string | null): number {
  if (address === null || typeof address === 'string') throw new Error(`not listening on TCP: ${String(address)}`);
  return address.port;
}
const port = portOf(target.app.server.address());
const controlPort = portOf(controlServer.address());
process.stdout.write(`${READY_MARKER}${JSON.stringify({ port, controlPort, sessions: target.sessions, pid: process.pid })}\n`);

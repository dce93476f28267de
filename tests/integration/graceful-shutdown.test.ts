import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProcesses, killProcessGroup } from '../../src/engines/webjs/process-tree.js';
import { API_HEADERS, call, readySession, startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { eventually } from '../helpers/messaging.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const TO = '5511999991234';
const MESSAGES = '/api/v1/sessions/drain/messages';

/** Queues a text send (202) and returns its id. */
async function queueText(base: string, sessionId: string, text: string): Promise<string> {
  const res = await call(base, 'POST', `/api/v1/sessions/${sessionId}/messages`, { to: TO, type: 'text', text });
  expect(res.status).toBe(202);
  return String(res.body.id);
}

/** Waits until the worker has handed the message to the engine (an attempt has begun). */
async function inTheEngine(base: string, sessionId: string, messageId: string): Promise<void> {
  await eventually(async () => (Number((await call(base, 'GET', `/api/v1/sessions/${sessionId}/messages/${messageId}`)).body.attempts) >= 1 ? true : null));
}

/** A POST whose headers and half its body are on the wire; `finish()` sends the rest and resolves with the answer. */
function slowUpload(base: string, path: string, body: unknown, requestId: string) {
  const url = new URL(base);
  const payload = Buffer.from(JSON.stringify(body));
  const half = Math.floor(payload.length / 2);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path,
    method: 'POST',
    agent: false,
    headers: { ...API_HEADERS, 'content-length': String(payload.length), 'x-request-id': requestId },
  });
  const answer = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
  });
  // Seen by the test through finish(); not an unhandled rejection when a test fails before it.
  answer.catch(() => undefined);
  req.write(payload.subarray(0, half));
  return {
    finish: () => {
      req.end(payload.subarray(half));
      return answer;
    },
  };
}

describe.each(['embedded', 'redis'] as const)('graceful shutdown of the gateway process (%s mode)', (mode) => {
  let redis: RedisServer | undefined;
  const processes: GatewayProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await redis?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function gatewayEnv(extra: Record<string, string>): Promise<Record<string, string>> {
    const dir = await mkdtemp(join(tmpdir(), 'wagw-shutdown-'));
    dirs.push(dir);
    return {
      SESSIONS_PATH: dir,
      DEFAULT_ENGINE: 'simulator',
      SEND_MIN_INTERVAL_MS: '0',
      SEND_JITTER_MS: '0',
      SIMULATOR_ACK_DELAYS_MS: '5,10,15',
      RATE_LIMIT_MAX: '100000',
      ...(redis ? { REDIS_URL: redis.url, REDIS_PREFIX: `gs${randomBytes(4).toString('hex')}` } : {}),
      ...extra,
    };
  }

  async function start(env: Record<string, string>): Promise<GatewayProcess> {
    const gateway = await startGatewayProcess(env);
    processes.push(gateway);
    return gateway;
  }

  it('on SIGTERM: readiness 503 at once while listening, new work 503 SHUTTING_DOWN, the request in flight answered, the current send finished, exit 0 well before SHUTDOWN_TIMEOUT', async () => {
    const env = await gatewayEnv({ SHUTDOWN_TIMEOUT: '10s' });
    const gw = await start(env);
    await readySession(gw.base, 'drain');
    expect((await call(gw.base, 'POST', '/api/v1/sessions/drain/simulator/faults', { sendLatencyMs: 1_500 })).status).toBe(200);
    const inEngine = await queueText(gw.base, 'drain', 'in the engine at SIGTERM');
    await inTheEngine(gw.base, 'drain', inEngine);
    const queued = await queueText(gw.base, 'drain', 'queued at SIGTERM');
    const upload = slowUpload(gw.base, MESSAGES, { to: TO, type: 'text', text: 'uploading at SIGTERM' }, 'slow-upload');
    await gw.log.line((l) => l.msg === 'incoming request' && l.reqId === 'slow-upload');

    const signalAt = gw.signal('SIGTERM');
    await gw.log.line('shutting down');
    const ready = await fetch(`${gw.base}/health/ready`);
    const readyAt = Date.now();
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: expect.arrayContaining([{ name: 'shutdown', ok: false, detail: 'shutting down' }]) as unknown });
    expect(gw.child.exitCode).toBeNull();
    expect(readyAt - signalAt).toBeLessThan(2_000);

    const refused = await call(gw.base, 'POST', MESSAGES, { to: TO, type: 'text', text: 'after SIGTERM' });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(refused.headers.get('connection')).toBe('close');

    const uploaded = await upload.finish();
    expect(uploaded.status).toBe(202);
    expect(uploaded.body).toMatchObject({ status: 'queued' });

    const exit = await gw.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalAt).toBeLessThan(10_000);
    // The drain ended by itself: the send in the engine finished, nothing was cut short.
    await gw.log.line('shutdown: send workers stopped after their current jobs', 0);
    expect(gw.log.events.filter((l) => l.msg.includes('work still under way'))).toEqual([]);
    await gw.log.line('shutdown complete', 0);

    if (mode === 'redis') {
      // Restarted on the same Redis prefix and SESSIONS_PATH: the session comes back without a scan,
      // and every send accepted before (or while) shutting down is sent.
      const again = await start(env);
      expect((await call(again.base, 'GET', '/api/v1/sessions/drain')).body.status).toBe('ready');
      const uploadedId = String(uploaded.body.id);
      const records = await eventually(async () => {
        const all = await Promise.all([inEngine, queued, uploadedId].map((id) => call(again.base, 'GET', `${MESSAGES}/${id}`)));
        return all.every((r) => r.body.sentAt !== null) ? all.map((r) => r.body) : null;
      }, 10_000);
      for (const record of records) expect(['sent', 'delivered', 'read']).toContain(record.status);
      expect(records.map((r) => r.attempts)).toEqual([1, 1, 1]);
      again.signal('SIGTERM');
      expect((await again.exited).code).toBe(0);
    }
  }, 60_000);

  it('keeps listening for SHUTDOWN_DELAY with nothing to drain: readiness 503 and new work 503 SHUTTING_DOWN meanwhile, then exit 0', async () => {
    // Long enough that the two requests below are answered well inside it, even on a loaded machine.
    const delayMs = 3_000;
    const gw = await start(await gatewayEnv({ SHUTDOWN_DELAY: `${delayMs}ms` }));
    await readySession(gw.base, 'idle');
    const signalAt = gw.signal('SIGTERM');
    await gw.log.line('shutdown: send workers stopped after their current jobs');
    // The work is drained; the server still answers until the delay is over.
    const ready = await fetch(`${gw.base}/health/ready`);
    const refused = await call(gw.base, 'POST', '/api/v1/sessions/idle/messages', { to: TO, type: 'text', text: 'during the delay' });
    expect(ready.status).toBe(503);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'SHUTTING_DOWN' });
    const exit = await gw.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalAt).toBeGreaterThanOrEqual(delayMs);
    expect(gw.log.events.filter((l) => l.msg.includes('work still under way'))).toEqual([]);
    await gw.log.line('shutdown complete', 0);
  }, 60_000);

  it('exits at once on a second signal while the drain waits for a send stuck in the engine', async () => {
    const gw = await start(await gatewayEnv({ SHUTDOWN_TIMEOUT: '60s' }));
    await readySession(gw.base, 'stuck');
    expect((await call(gw.base, 'POST', '/api/v1/sessions/stuck/simulator/faults', { sendLatencyMs: 30_000 })).status).toBe(200);
    await inTheEngine(gw.base, 'stuck', await queueText(gw.base, 'stuck', 'slow'));

    gw.signal('SIGTERM');
    await gw.log.line('shutdown: requests in flight answered');
    expect((await fetch(`${gw.base}/health/ready`)).status).toBe(503);
    const secondAt = gw.signal('SIGINT');
    const exit = await gw.exited;
    expect(exit.code).toBe(130);
    expect(exit.at - secondAt).toBeLessThan(2_000);
    await gw.log.line('second signal: exiting now', 0);
  }, 60_000);
});

describe('graceful shutdown with a webjs session (embedded mode)', () => {
  const processes: GatewayProcess[] = [];
  let dir = '';
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    if (dir) {
      for (const p of await findProcesses(dir)) killProcessGroup(p.pgid);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves no Chromium behind: a webjs session whose browser runs at SIGTERM', async () => {
    // WhatsApp Web is not reachable here: each start runs Chromium until the page fails, then reconnects.
    dir = await mkdtemp(join(tmpdir(), 'wagw-shutdown-webjs-'));
    const gw = await startGatewayProcess({ SESSIONS_PATH: dir, WHATSAPP_MAX_RECONNECTS: '1000', WHATSAPP_RECONNECT_DELAY: '100ms' });
    processes.push(gw);
    expect((await call(gw.base, 'POST', '/api/v1/sessions', { id: 'browser', engine: 'webjs' })).status).toBe(201);
    await eventually(async () => ((await findProcesses(dir)).length > 0 ? true : null), 30_000);
    gw.signal('SIGTERM');
    expect((await gw.exited).code).toBe(0);
    expect(await findProcesses(dir)).toEqual([]);
  }, 60_000);
});

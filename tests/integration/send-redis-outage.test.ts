import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { LogCapture } from '../helpers/log-capture.js';
import { MessageStatusLog, accepted, eventually, getMessage, readySession, send, simulatorOf } from '../helpers/messaging.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

/** An app on a Redis of its own (AOF on) that a test stops and starts again on the same port and data; its warnings captured. */
async function withRestartableRedis(prefix: string, run: (app: TestApp, redis: { stop(): Promise<void>; restart(): Promise<void> }, logs: LogCapture) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wagw-outage-'));
  let server = await startRedisServer({ dir, appendOnly: true });
  const logs = new LogCapture('warn');
  const app = await startTestApp({ env: { REDIS_URL: server.url, REDIS_PREFIX: prefix } }, { logger: logs.logger });
  try {
    await run(app, { stop: () => server.stop(), restart: async () => void (server = await startRedisServer({ port: server.port, dir, appendOnly: true })) }, logs);
  } finally {
    await app.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('sends while Redis is away', () => {
  let redis: RedisServer | undefined;
  let t: TestApp | undefined;
  let dir = '';
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 STORE_UNAVAILABLE at once, loses nothing accepted, and takes sends again when Redis is back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wagw-outage-'));
    redis = await startRedisServer({ dir, appendOnly: true });
    const port = redis.port;
    t = await startTestApp({ env: { REDIS_URL: redis.url, REDIS_PREFIX: 'outage' } });
    const log = new MessageStatusLog(t.app.gateway.bus);
    await readySession(t, 'sales');
    const before = await accepted(t, 'sales', { to: '5511999991234', type: 'text', text: 'before' });
    await log.status(before.id, 'sent');

    await redis.stop();
    const started = Date.now();
    const refused = await send(t, 'sales', { to: '5511999991234', type: 'text', text: 'during' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(refused.headers['retry-after']).toBe('1');

    redis = await startRedisServer({ port, dir, appendOnly: true });
    const app = t;
    const after = await (async () => {
      for (;;) {
        const res = await send(app, 'sales', { to: '5511999991234', type: 'text', text: 'after' });
        if (res.statusCode === 202) return res.json<{ id: string }>();
        expect(res.statusCode).toBe(503);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await log.status(after.id, 'sent', 15_000);
    log.close();
  }, 40_000);

  it('keeps a send WhatsApp took while Redis went away: its id is written once Redis is back, never failed SEND_INTERRUPTED', async () => {
    await withRestartableRedis('took', async (app, redis, logs) => {
      await readySession(app, 'sales');
      const sim = simulatorOf(app, 'sales');
      sim.setFaults({ sendLatencyMs: 800 });
      const original = sim.send.bind(sim);
      let returned: () => void = () => undefined;
      const engineReturned = new Promise<void>((resolve) => (returned = resolve));
      sim.send = async (...args) => {
        const result = await original(...args);
        returned();
        return result;
      };
      const record = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'in flight' });
      // The engine call is under way once the attempt is recorded.
      await eventually(async () => ((await getMessage(app, 'sales', record.id)).attempts === 1 ? true : null));
      await redis.stop();
      await engineReturned;
      // Its result could not be written (retried by the processor; before the fix: the job failed and came back).
      await eventually(async () => (logs.lines('recording a send WhatsApp took failed').length + logs.lines('send job failed unexpectedly').length > 0 ? true : null));
      await redis.restart();
      const stored = await eventually(async () => {
        const res = await app.app.inject({ url: `/api/v1/sessions/sales/messages/${record.id}`, headers: AUTH });
        return res.statusCode === 200 && res.json<MessageRecord>().waMessageId !== null ? res.json<MessageRecord>() : null;
      }, 15_000);
      expect(stored).toMatchObject({ attempts: 1, error: null });
      expect(['sent', 'delivered', 'read']).toContain(stored.status);
    });
  }, 40_000);

  it('records and keeps an event that happened during an outage longer than the first retries (about 7 s), once Redis is back', async () => {
    await withRestartableRedis('evout', async (app, redis, logs) => {
      await readySession(app, 'sales');
      await redis.stop();
      simulatorOf(app, 'sales').receive({ from: '5511977776666', type: 'text', text: 'said while Redis was away' });
      // The recorder's sixth attempt comes after 50 ms + 250 ms + 1 s + 2 s + 4 s of failures.
      await eventually(async () => (logs.lines('recording events in the event log failed; retrying').some((line) => Number(line.attempt) >= 6) ? true : null), 15_000);
      expect(logs.lines('event lost')).toEqual([]);
      await redis.restart();
      const logged = await eventually(async () => {
        const res = await app.app.inject({ url: '/api/v1/sessions/sales/events?afterSeq=0&limit=1000', headers: AUTH });
        if (res.statusCode !== 200) return null;
        const found = res.json<{ data: { event: string; data: { body?: string } }[] }>().data.find((e) => e.event === 'message' && e.data.body === 'said while Redis was away');
        return found ?? null;
      }, 15_000);
      expect(logged).toBeDefined();
      expect(app.app.gateway.events.lost).toBe(0);
    });
  }, 45_000);
});

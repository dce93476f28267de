import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { CURSOR_WRITE_INTERVAL_MS } from '../../src/webhooks/webhook-fanout.js';
import { call, readySession, startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { CONTACT, webhookEnv } from '../helpers/webhooks.js';

describe('webhook deliveries made without the queue, across a SIGKILL (Redis mode)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const started = async (env: Record<string, string>): Promise<GatewayProcess> => {
    const gateway = await startGatewayProcess(env);
    cleanups.push(async () => {
      gateway.signal('SIGKILL');
      await gateway.exited;
    });
    return gateway;
  };

  it('delivers after the restart the event whose attempt was in flight and those held behind it, in order, with the same ids', async () => {
    // First process: the receiver takes the first request and never answers it in time.
    let answering = false;
    const receiver = await WebhookReceiver.start(() => (answering ? { status: 200 } : { status: 200, delayMs: 120_000 }));
    cleanups.push(() => receiver.stop());
    const sessionsPath = await mkdtemp(join(tmpdir(), 'wagw-webhook-crash-'));
    cleanups.push(() => rm(sessionsPath, { recursive: true, force: true }));
    const env = {
      ...webhookEnv(receiver, { WEBHOOK_TIMEOUT: '60s' }),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: `wc${randomBytes(6).toString('hex')}`,
      SESSIONS_PATH: sessionsPath,
    };

    const first = await started(env);
    await readySession(first.base, 'sales');
    for (const text of ['m1', 'm2', 'm3']) {
      expect((await call(first.base, 'POST', '/api/v1/sessions/sales/simulator/inbound', { from: CONTACT, type: 'text', text })).status).toBe(201);
    }
    const [inFlight] = await receiver.requests('/app', 1);
    expect((JSON.parse(inFlight?.body ?? '{}') as EventEnvelope).data).toMatchObject({ body: 'm1' });
    const logged = (await call(first.base, 'GET', '/api/v1/sessions/sales/events?limit=100')).body.data as EventEnvelope[];
    const messages = logged.filter((e) => e.event === 'message');
    expect(messages).toHaveLength(3);
    // m1 is being attempted, m2 and m3 wait in memory behind it: no queue job holds any of them.
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(async () => {
      await redis.quit();
    });
    // (BullMQ writes a queue's `meta` when the lane is first looked at; a job would add wait/active/id keys.)
    const queueKeys = await redis.keys(`${env.REDIS_PREFIX}:bull:webhook-*`);
    expect(queueKeys.filter((key) => !key.endsWith(':meta'))).toEqual([]);
    // The fan-out's cursor is written at most every 250 ms: past that, it still must not pass m1, or
    // the restart would not send m1–m3 again (nothing to await: the write must not happen).
    await new Promise((resolve) => setTimeout(resolve, 4 * CURSOR_WRITE_INTERVAL_MS));
    expect(Number(await redis.get(`${env.REDIS_PREFIX}:whcursor:sales`))).toBeLessThan(messages[0]?.seq ?? 0);
    first.signal('SIGKILL');
    await first.exited;

    answering = true;
    const second = await started(env);
    const got = await receiver.delivered('/app', 3, 'message', 20_000);
    expect(got.map((e) => e.data.body)).toEqual(['m1', 'm2', 'm3']);
    expect(got.map((e) => e.id)).toEqual(messages.map((e) => e.id));
    expect(got.map((e) => e.seq)).toEqual(messages.map((e) => e.seq));
    // m1 reached the receiver twice (at least once is the promise), the others once.
    expect(receiver.to('/app').map((r) => (JSON.parse(r.body) as EventEnvelope).data.body)).toEqual(['m1', 'm1', 'm2', 'm3']);
    const delivered = await call(second.base, 'GET', '/api/v1/webhooks/deliveries?status=delivered');
    expect(delivered.body.data).toHaveLength(3);
  }, 60_000);
});

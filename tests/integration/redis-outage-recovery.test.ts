import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogCapture } from '../helpers/log-capture.js';
import { MessageStatusLog, accepted, eventually, readySession } from '../helpers/messaging.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { inbound, webhookEnv } from '../helpers/webhooks.js';

/**
 * Redis goes away under a running gateway and comes back on the same port with its data: the
 * process stays up (liveness 200), readiness is 503 meanwhile, and the BullMQ workers of lanes that
 * were running before — webhook deliveries and sends — take work again by themselves.
 */
describe('a Redis outage and its end', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('keeps the process alive, answers readiness 503, and resumes webhook and send lanes once Redis is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wagw-outage-lanes-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    let redis: RedisServer = await startRedisServer({ dir, appendOnly: true });
    cleanups.push(() => redis.stop());
    // Each event's first attempt fails: an idle lane's delivery is made without the queue, and this
    // hands the lane to its BullMQ queue, whose Worker then has to live through the outage.
    const receiver = await WebhookReceiver.start((_request, nth) => ({ status: nth === 1 ? 503 : 200 }));
    cleanups.push(() => receiver.stop());
    const log = new LogCapture('warn');
    const t: TestApp = await startTestApp({ env: { ...webhookEnv(receiver), REDIS_URL: redis.url, REDIS_PREFIX: 'lanes' } }, { logger: log.logger });
    cleanups.push(() => t.close());
    const statuses = new MessageStatusLog(t.app.gateway.bus);
    cleanups.push(async () => statuses.close());

    await readySession(t, 'sales');
    inbound(t, 'sales', 'before');
    await receiver.delivered('/app', 1);
    const sentBefore = await accepted(t, 'sales', { to: '5511999991234', type: 'text', text: 'before' });
    await statuses.status(sentBefore.id, 'sent');

    await redis.stop();
    const notReady = await eventually(async () => {
      const res = await t.app.inject({ url: '/health/ready' });
      return res.statusCode === 503 ? res.json<{ checks: { name: string; ok: boolean }[] }>() : null;
    });
    expect(notReady.checks).toContainEqual(expect.objectContaining({ name: 'redis', ok: false }));
    expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    // Both kinds of lanes have lost their connection (not just an idle outage nobody saw).
    await log.line('webhook job failed unexpectedly');
    await log.line('send job failed unexpectedly');

    redis = await startRedisServer({ port: redis.port, dir, appendOnly: true });
    await eventually(async () => ((await t.app.inject({ url: '/health/ready' })).statusCode === 200 ? true : null), 10_000);

    inbound(t, 'sales', 'after');
    const got = await receiver.delivered('/app', 2, 'message', 15_000);
    expect(got.map((e) => e.data.body)).toEqual(['before', 'after']);
    const sentAfter = await accepted(t, 'sales', { to: '5511999991234', type: 'text', text: 'after' });
    await statuses.status(sentAfter.id, 'sent', 15_000);
  }, 60_000);
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, readySession } from '../helpers/messaging.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { deliveries, inbound, loggedMessages, quickSchedule, webhookEnv } from '../helpers/webhooks.js';

describe('webhook delivery across a restart (Redis mode)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('delivers after a gateway restart what was not delivered before it, in order, with the same ids', async () => {
    let up = false;
    const r = await WebhookReceiver.start(() => (up ? { status: 200 } : { status: 503 }));
    cleanups.push(() => r.stop());
    const sessionsPath = await mkdtemp(join(tmpdir(), 'wagw-webhooks-'));
    cleanups.push(() => rm(sessionsPath, { recursive: true, force: true }));
    const redisPrefix = `t${randomBytes(6).toString('hex')}`;
    const env = webhookEnv(r, { WEBHOOK_RETRY_SCHEDULE: quickSchedule(300, '100ms') });

    const first: TestApp = await startTestApp({ mode: 'redis', env, sessionsPath, redisPrefix });
    let firstClosed = false;
    cleanups.push(async () => {
      if (!firstClosed) await first.close();
    });
    await readySession(first, 'sales');
    for (let i = 1; i <= 3; i++) inbound(first, 'sales', `m${i}`);
    // Queued in Redis: the head failing (503), the two others behind it.
    await eventually(async () => {
      const failed = await deliveries(first, '?status=failed');
      const pending = await deliveries(first, '?status=pending');
      return failed.length === 1 && pending.length === 2 ? true : null;
    });
    const logged = await loggedMessages(first, 'sales');
    expect(logged).toHaveLength(3);
    expect(r.deliveredTo('/app')).toEqual([]);
    await first.close();
    firstClosed = true;

    up = true;
    const second = await startTestApp({ mode: 'redis', env, sessionsPath, redisPrefix });
    cleanups.push(() => second.close());
    const got = await r.delivered('/app', 3);
    expect(got.map((e) => e.data.body)).toEqual(['m1', 'm2', 'm3']);
    expect(got.map((e) => e.id)).toEqual(logged.map((e) => e.id));
    expect(got.map((e) => e.seq)).toEqual(logged.map((e) => e.seq));
    const done = await eventually(async () => {
      const list = await deliveries(second, '?status=delivered');
      return list.length === 3 ? list : null;
    });
    const head = done.find((d) => d.eventId === logged[0]?.id);
    expect(head?.attempts).toBeGreaterThanOrEqual(2);
    expect(head?.history.some((h) => h.statusCode === 503)).toBe(true);
    // Nothing delivered twice.
    expect(r.deliveredTo('/app')).toHaveLength(3);
  });
});

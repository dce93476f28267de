import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MessageStatusLog, accepted, readySession, send } from '../helpers/messaging.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

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
});

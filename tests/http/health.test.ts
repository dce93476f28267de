import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { AUTH, TEST_API_KEY, startTestApp } from '../helpers/test-app.js';

describe('probes', () => {
  it('/health answers status, version and uptime; /health/live checks nothing external', async () => {
    const t = await startTestApp();
    try {
      const health = await t.app.inject({ url: '/health' });
      expect(health.json()).toMatchObject({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) as unknown, uptime: expect.any(Number) as unknown });
      expect((await t.app.inject({ url: '/health/live' })).json()).toEqual({ status: 'ok' });
    } finally {
      await t.close();
    }
  });

  it('/health/ready turns 503 at once when shutting down, and new work is refused with 503 SHUTTING_DOWN', async () => {
    const t = await startTestApp({ mode: 'redis' });
    try {
      const ready = await t.app.inject({ url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json<{ checks: { name: string; ok: boolean }[] }>().checks.map((c) => c.name)).toEqual(['config', 'shutdown', 'redis']);
      t.app.gateway.shuttingDown = true;
      expect((await t.app.inject({ url: '/health/ready' })).statusCode).toBe(503);
      const refused = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: {} });
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toMatchObject({ code: 'SHUTTING_DOWN' });
      expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('/health/ready PINGs every store connection and names the one that does not answer', async () => {
    const t = await startTestApp({ mode: 'redis' });
    try {
      const [store, engine] = t.app.gateway.storage.connections;
      expect(store).toBe(t.app.gateway.storage.redis);
      if (!engine) throw new Error('expected the engine connection');
      expect((await t.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
      engine.disconnect();
      const down = await t.app.inject({ url: '/health/ready' });
      expect(down.statusCode).toBe(503);
      const check = down.json<{ checks: { name: string; ok: boolean; detail?: string }[] }>().checks.find((c) => c.name === 'redis');
      expect(check?.ok).toBe(false);
      expect(check?.detail).toMatch(/^[^:]+:engine: /);
    } finally {
      await t.close();
    }
  });

  it('/health/ready answers 503 within about a second when Redis is gone, and 200 again when it is back', async () => {
    const redis = await startRedisServer();
    const app = await buildApp(loadConfig({ API_KEY: TEST_API_KEY, LOG_LEVEL: 'silent', REDIS_URL: redis.url, REDIS_PREFIX: 'ready-test', SESSIONS_PATH: redis.dir }));
    await app.ready();
    let restarted = redis;
    try {
      expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(200);
      await redis.stop();
      const started = Date.now();
      const down = await app.inject({ url: '/health/ready' });
      expect(down.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(down.json<{ checks: { name: string; ok: boolean }[] }>().checks.find((c) => c.name === 'redis')?.ok).toBe(false);
      const { connections } = app.gateway.storage;
      expect(connections).toHaveLength(2);
      const reconnected = Promise.all(connections.map((connection) => new Promise((resolve) => connection.once('ready', resolve))));
      restarted = await startRedisServer({ port: redis.port });
      await reconnected;
      expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await restarted.stop();
    }
  });
});

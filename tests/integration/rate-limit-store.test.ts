import { randomBytes } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { batchedRedisRateLimitStore, SYNC_INTERVAL_MS } from '../../src/http/batched-rate-limit-store.js';
import { AUTH, startTestApp } from '../helpers/test-app.js';

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
afterAll(async () => {
  await redis.quit();
});

interface Count {
  current: number;
  ttl: number;
}

type Store = InstanceType<ReturnType<typeof batchedRedisRateLimitStore>>;

function incr(store: Store, key: string, windowMs = 60_000): Promise<Count> {
  return new Promise((resolve, reject) => {
    store.incr(
      key,
      (error, result) => {
        if (error) reject(error);
        else if (result) resolve(result);
        else reject(new Error('no result'));
      },
      windowMs,
      100,
    );
  });
}


/** Counts the EVALSHA commands this connection sends from now on (the real commands run). */
function evalshas(): { count: () => number; restore: () => void } {
  const sent = vi.spyOn(redis, 'sendCommand');
  return { count: () => sent.mock.calls.filter(([command]) => command.name === 'evalsha').length, restore: () => sent.mockRestore() };
}

const nameSpace = (): string => `rl${randomBytes(5).toString('hex')}:`;

describe('batched Redis rate-limit store', () => {
  it('counts the requests of one event-loop turn with one command, each at its own place in the window', async () => {
    const ns = nameSpace();
    const store = new (batchedRedisRateLimitStore(redis, ns))({});
    await incr(store, 'warm'); // the script is loaded; later calls are one EVALSHA each
    const commands = evalshas(); // counts what this connection sends (the real command runs)
    const counts = await Promise.all(Array.from({ length: 20 }, () => incr(store, 'key:a')));
    const other = await Promise.all([incr(store, 'key:b'), incr(store, 'key:b')]);
    expect(commands.count()).toBe(2);
    commands.restore();
    expect(counts.map((c) => c.current)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(other.map((c) => c.current)).toEqual([1, 2]);
    expect(await redis.get(`${ns}key:a`)).toBe('20');
    for (const c of counts) expect(c.ttl).toBe(60_000);
    const pttl = await redis.pttl(`${ns}key:a`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('shares one count between instances on the same Redis (two gateways), the window opened by the first', async () => {
    const ns = nameSpace();
    const first = new (batchedRedisRateLimitStore(redis, ns))({});
    const second = new (batchedRedisRateLimitStore(redis, ns))({});
    await Promise.all([incr(first, 'k'), incr(first, 'k'), incr(first, 'k')]);
    const later = await Promise.all([incr(second, 'k'), incr(second, 'k')]);
    expect(later.map((c) => c.current)).toEqual([4, 5]);
    expect(later[0].ttl).toBeLessThanOrEqual(60_000);
    expect(later[0].ttl).toBeGreaterThan(0);
  });

  it('answers the later requests of a known window at once and sends their increments together', async () => {
    const ns = nameSpace();
    const store = new (batchedRedisRateLimitStore(redis, ns))({});
    expect((await incr(store, 'k')).current).toBe(1); // waits for Redis: the window becomes known
    const commands = evalshas();
    const answered: Count[] = [];
    for (let i = 0; i < 5; i++) {
      store.incr(
        'k',
        (error, result) => {
          if (!error && result) answered.push(result);
        },
        60_000,
        100,
      );
    }
    // Answered inside incr(), before any Redis reply could arrive.
    expect(answered.map((c) => c.current)).toEqual([2, 3, 4, 5, 6]);
    for (const c of answered) expect(c.ttl).toBeGreaterThan(0);
    expect(commands.count()).toBe(0);
    await expect.poll(() => redis.get(`${ns}k`)).toBe('6');
    expect(commands.count()).toBe(1);
    commands.restore();
  });

  it('sends the increments of a known window once per sync interval, not once per turn', async () => {
    const ns = nameSpace();
    const store = new (batchedRedisRateLimitStore(redis, ns))({});
    expect((await incr(store, 'k')).current).toBe(1);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const commands = evalshas();
    try {
      // Ten requests, each in a turn of its own, all answered at once from the window.
      for (let i = 0; i < 10; i++) {
        expect((await incr(store, 'k')).current).toBe(i + 2);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(commands.count()).toBe(0);
      vi.advanceTimersByTime(SYNC_INTERVAL_MS);
      expect(commands.count()).toBe(1);
    } finally {
      vi.useRealTimers();
      commands.restore();
    }
    await expect.poll(() => redis.get(`${ns}k`)).toBe('11');
  });

  it('takes in the other instances\' requests with each reply (one round trip late at most)', async () => {
    const ns = nameSpace();
    const a = new (batchedRedisRateLimitStore(redis, ns))({});
    const b = new (batchedRedisRateLimitStore(redis, ns))({});
    expect((await incr(a, 'k')).current).toBe(1);
    expect((await Promise.all([incr(b, 'k'), incr(b, 'k'), incr(b, 'k')])).map((c) => c.current)).toEqual([2, 3, 4]);
    // a has not heard of b's three yet: it counts from its last reply.
    expect((await incr(a, 'k')).current).toBe(2);
    await expect.poll(() => redis.get(`${ns}k`)).toBe('5');
    // Its reply brought b's in: a counts on from the shared total.
    await expect.poll(() => incr(a, 'k').then((c) => c.current)).toBeGreaterThanOrEqual(6);
  });

  it('waits for Redis again once the window ended, and starts a new one', async () => {
    const ns = nameSpace();
    const store = new (batchedRedisRateLimitStore(redis, ns))({});
    await Promise.all([incr(store, 'k', 150), incr(store, 'k', 150)]);
    // The process's window ends no later than Redis' (it counts from when the command was sent).
    await expect.poll(() => redis.exists(`${ns}k`), { timeout: 5_000, interval: 25 }).toBe(0);
    const next = await incr(store, 'k', 150);
    expect(next.current).toBe(1);
    expect(next.ttl).toBe(150);
  });

  it('gives a counter that lost its expiry a new window instead of counting forever', async () => {
    const ns = nameSpace();
    await redis.set(`${ns}k`, '7');
    const store = new (batchedRedisRateLimitStore(redis, ns))({});
    expect(await incr(store, 'k', 5_000)).toEqual({ current: 8, ttl: 5_000 });
    expect(await redis.pttl(`${ns}k`)).toBeGreaterThan(0);
  });

  it("keeps a route's own limit apart, keyed by method and url as the stock store does", async () => {
    const ns = nameSpace();
    const app = Fastify();
    try {
      await app.register(rateLimit, { global: true, max: 100, timeWindow: 60_000, store: batchedRedisRateLimitStore(redis, ns) });
      app.get('/strict', { config: { rateLimit: { max: 1, timeWindow: 60_000 } } }, () => 'ok');
      app.get('/loose', () => 'ok');
      const codes = [];
      for (const url of ['/strict', '/strict', '/loose']) codes.push((await app.inject({ url })).statusCode);
      expect(codes).toEqual([200, 429, 200]);
      // The second was answered from the known window; its increment follows within SYNC_INTERVAL_MS.
      await expect.poll(() => redis.get(`${ns}GET/strict-127.0.0.1`)).toBe('2');
      expect(await redis.get(`${ns}127.0.0.1`)).toBe('1');
    } finally {
      await app.close();
    }
  });

  it('hands a Redis error to every request of the batch', async () => {
    const broken = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    broken.on('error', () => undefined);
    const store = new (batchedRedisRateLimitStore(broken, nameSpace()))({});
    const results = await Promise.allSettled([incr(store, 'k'), incr(store, 'k')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    broken.disconnect();
  });
});

describe('rate limit through the batched store (redis mode)', () => {
  it('lets exactly RATE_LIMIT_MAX of a parallel burst through and answers the rest 429', async () => {
    const t = await startTestApp({ mode: 'redis', env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW: '1m' } });
    try {
      const replies = await Promise.all(Array.from({ length: 12 }, () => t.app.inject({ url: '/api/v1/sessions', headers: AUTH })));
      const statuses = replies.map((r) => r.statusCode).sort();
      expect(statuses).toEqual([...Array<number>(5).fill(200), ...Array<number>(7).fill(429)]);
      const remaining = replies.filter((r) => r.statusCode === 200).map((r) => Number(r.headers['x-ratelimit-remaining'])).sort();
      expect(remaining).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await t.close();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { MemoryDeliveryStore } from '../../src/storage/memory/memory-delivery-store.js';
import { FRESH_DELIVERIES_KEPT, RedisDeliveryStore } from '../../src/storage/redis/redis-delivery-store.js';
import { delivery, describeDeliveryStoreContract } from './delivery-store.contract.js';
import { evalshaCalls } from '../helpers/redis-stats.js';

describeDeliveryStoreContract('memory', { open: async () => new MemoryDeliveryStore() });

/** A Redis store on its own connection and random prefix; closing it closes the connection. */
function openRedisStore(retentionMs?: number): { store: RedisDeliveryStore; redis: Redis; prefix: string } {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const prefix = `dlv${randomBytes(6).toString('hex')}`;
  const store = new RedisDeliveryStore(redis, prefix, retentionMs);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await redis.quit();
  };
  return { store, redis, prefix };
}

describeDeliveryStoreContract('redis', { open: async () => openRedisStore().store });

describe('memory delivery store bound', () => {
  it('drops the oldest finished deliveries beyond its bound, never one still to be made', async () => {
    const store = new MemoryDeliveryStore({ maxDeliveries: 3 });
    const pending = delivery();
    const done = [delivery({ status: 'delivered' }), delivery({ status: 'dead' })];
    await store.insert(pending, '{}');
    for (const r of done) await store.insert(r, '{}');
    const newer = [delivery(), delivery()];
    for (const r of newer) await store.insert(r, '{}');
    expect(await store.get(pending.id)).not.toBeNull();
    expect(await store.get(done[0]?.id ?? '')).toBeNull();
    expect(await store.get(done[1]?.id ?? '')).toBeNull();
    // Only pending ones left: the bound gives way rather than lose one.
    expect((await store.list()).data).toHaveLength(3);
    await store.insert(delivery(), '{}');
    expect((await store.list()).data).toHaveLength(4);
  });
});

describe('redis delivery store keys', () => {
  const admin = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  afterAll(async () => {
    await admin.quit();
  });

  it('gives the record, the body and the indexes the retention, and skips (and removes) index members whose record expired', async () => {
    const { store, prefix } = openRedisStore(120_000);
    try {
      const kept = delivery({ sessionId: 'k' });
      const gone = delivery({ sessionId: 'k' });
      await store.insert(kept, '{"k":1}');
      await store.insert(gone, '{"g":1}');
      for (const key of [`${prefix}:whd:${kept.id}`, `${prefix}:whdbody:${kept.id}`, `${prefix}:whds:all`, `${prefix}:whds:s:k:st:pending`]) {
        const ttl = await admin.pttl(key);
        expect(ttl, key).toBeGreaterThan(110_000);
        expect(ttl, key).toBeLessThanOrEqual(120_000);
      }
      await admin.del(`${prefix}:whd:${gone.id}`);
      expect((await store.list({ sessionId: 'k' })).data.map((r) => r.id)).toEqual([kept.id]);
      expect(await admin.zscore(`${prefix}:whds:s:k`, gone.id)).toBeNull();
      await store.modify(kept.id, (r) => ({ record: { ...r, status: 'delivered' }, result: null }));
      expect(await admin.zscore(`${prefix}:whds:st:pending`, kept.id)).toBeNull();
      expect(await admin.zscore(`${prefix}:whds:s:k:st:delivered`, kept.id)).not.toBeNull();
    } finally {
      await store.close();
    }
  });

  it('writes the cursors of one turn in one script, each forward only; a cursor whose key refuses fails alone', async () => {
    const { store, prefix } = openRedisStore(120_000);
    try {
      await store.setCursor('ahead', 50);
      await admin.sadd(`${prefix}:whcursor:bad`, 'not a string');
      const before = await evalshaCalls(admin);
      const results = await Promise.allSettled([store.setCursor('a', 7), store.setCursor('ahead', 20), store.setCursor('bad', 3), store.setCursor('b', 9)]);
      expect((await evalshaCalls(admin)) - before).toBe(1);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(String(results[2].status === 'rejected' ? results[2].reason : '')).toMatch(/WRONGTYPE/);
      expect([await store.getCursor('a'), await store.getCursor('ahead'), await store.getCursor('b')]).toEqual([7, 50, 9]);
      expect(await admin.pttl(`${prefix}:whcursor:ahead`)).toBeGreaterThan(110_000);
      // Writes and deletes of one turn apply in call order.
      await Promise.all([store.setCursor('c', 4), store.deleteCursor('c'), store.setCursor('d', 2), store.deleteCursor('a'), store.setCursor('a', 11)]);
      expect([await store.getCursor('c'), await store.getCursor('d'), await store.getCursor('a')]).toEqual([null, 2, 11]);
    } finally {
      await store.close();
    }
  });
});

describe('redis delivery store: fresh deliveries', () => {
  /** Runs `fn` with a Redis store of its own; `mgets()` counts the MGETs its connection sends from then on (the real command runs). */
  async function withStore(fn: (t: { store: RedisDeliveryStore; prefix: string; mgets: () => { count: () => number } }) => Promise<void>): Promise<void> {
    const { store, redis, prefix } = openRedisStore();
    const spies: { mockRestore: () => void }[] = [];
    try {
      await fn({
        store,
        prefix,
        mgets: () => {
          const spy = vi.spyOn(redis, 'mget');
          spies.push(spy);
          return { count: () => spy.mock.calls.length };
        },
      });
    } finally {
      for (const spy of spies) spy.mockRestore();
      await store.close();
    }
  }

  it('answers the first read of a delivery it just inserted from memory; later reads and changes go to Redis', () =>
    withStore(async ({ store, mgets }) => {
      const record = delivery({ sessionId: 'f' });
      await store.insert(record, '{"fresh":1}');
      const reads = mgets();
      expect(await store.getWithBody(record.id)).toEqual({ record, body: '{"fresh":1}' });
      expect(reads.count()).toBe(0);
      expect(await store.getWithBody(record.id)).toEqual({ record, body: '{"fresh":1}' });
      expect(reads.count()).toBe(1);
    }));

  it('never answers from memory after a change: a modify forgets the fresh copy', () =>
    withStore(async ({ store, mgets }) => {
      const record = delivery({ sessionId: 'f' });
      await store.insert(record, '{}');
      await store.modify(record.id, (current) => ({ record: { ...current, status: 'delivered' }, result: true }), record);
      const reads = mgets();
      expect((await store.getWithBody(record.id))?.record.status).toBe('delivered');
      expect(reads.count()).toBe(1);
    }));

  it(`keeps at most ${FRESH_DELIVERIES_KEPT} fresh copies, dropping the oldest (their reads go to Redis)`, () =>
    withStore(async ({ store, mgets }) => {
      const records = Array.from({ length: FRESH_DELIVERIES_KEPT + 1 }, () => delivery({ sessionId: 'f' }));
      for (const r of records) await store.insert(r, '{}');
      const reads = mgets();
      expect((await store.getWithBody(records[0]?.id ?? ''))?.record.id).toBe(records[0]?.id);
      expect(reads.count()).toBe(1);
      expect((await store.getWithBody(records[1]?.id ?? ''))?.record.id).toBe(records[1]?.id);
      expect(reads.count()).toBe(1);
    }));

  it('rejects a compare-and-set against a record changed behind its back (compared by hash)', () =>
    withStore(async ({ store, prefix }) => {
      const admin = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
      try {
        const record = delivery({ sessionId: 'f' });
        await store.insert(record, '{}');
        await admin.set(`${prefix}:whd:${record.id}`, JSON.stringify({ ...record, status: 'delivered' }), 'KEEPTTL');
        // The held copy is stale: the compare-and-set fails, the store re-reads and applies the change to what is there.
        const result = await store.modify(record.id, (current) => ({ record: { ...current, attempts: 7 }, result: current.status }), record);
        expect(result).toBe('delivered');
        expect((await store.get(record.id))?.attempts).toBe(7);
      } finally {
        await admin.quit();
      }
    }));
});

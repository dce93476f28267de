import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { IDEMPOTENCY_TTL_MS } from '../../src/storage/idempotency-store.js';
import { MemoryIdempotencyStore } from '../../src/storage/memory/memory-idempotency-store.js';
import { RedisIdempotencyStore } from '../../src/storage/redis/redis-idempotency-store.js';
import { describeIdempotencyStoreContract } from './idempotency-store.contract.js';

describeIdempotencyStoreContract('memory', { open: async () => new MemoryIdempotencyStore() });

/** A Redis store on its own connection and random prefix; closing it closes the connection. */
function openRedisStore(): { store: RedisIdempotencyStore; redis: Redis; prefix: string } {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const prefix = `idem${randomBytes(6).toString('hex')}`;
  const store = new RedisIdempotencyStore(redis, prefix);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await redis.quit();
  };
  return { store, redis, prefix };
}

describeIdempotencyStoreContract('redis', { open: async () => openRedisStore().store });

describe('memory idempotency store bound', () => {
  it('keeps at most maxKeys reservations, forgetting the oldest', async () => {
    const store = new MemoryIdempotencyStore({ maxKeys: 2 });
    for (const key of ['a', 'b', 'c']) await store.reserve('s', key, 'h', `msg_${key}`, 1);
    expect(await store.reserve('s', 'a', 'h', 'msg_new', 1)).toEqual({ status: 'reserved' });
    expect(await store.reserve('s', 'c', 'h', 'msg_x', 1)).toEqual({ status: 'replay', messageId: 'msg_c' });
  });
});

describe('redis idempotency keys', () => {
  const { store, redis, prefix } = openRedisStore();
  afterAll(() => store.close());

  it('keeps a key 24 h (PTTL), and for the ttl given', async () => {
    await store.reserve('sales', 'day', 'h', 'msg_1', IDEMPOTENCY_TTL_MS);
    const pttl = await redis.pttl(`${prefix}:idem:sales:day`);
    expect(pttl).toBeGreaterThan(IDEMPOTENCY_TTL_MS - 60_000);
    expect(pttl).toBeLessThanOrEqual(IDEMPOTENCY_TTL_MS);
    await store.reserve('sales', 'short', 'h', 'msg_2', 50);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await store.reserve('sales', 'short', 'other', 'msg_3', 50)).toEqual({ status: 'reserved' });
  });

  it('refuses a body hash it could not store unambiguously', async () => {
    await expect(store.reserve('sales', 'k', 'a b', 'msg_1', 1_000)).rejects.toBeInstanceOf(RangeError);
  });
});

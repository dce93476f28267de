import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MemoryContactStore } from '../../src/storage/memory/memory-contact-store.js';
import { RedisContactStore } from '../../src/storage/redis/redis-contact-store.js';
import { contact, describeContactStoreContract } from './contact-store.contract.js';

describeContactStoreContract('memory', { open: async () => new MemoryContactStore() });

/** A Redis store on its own connection and random prefix; closing it closes the connection. */
function openRedisStore(): { store: RedisContactStore; redis: Redis; prefix: string } {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const prefix = `ct${randomBytes(6).toString('hex')}`;
  const store = new RedisContactStore(redis, prefix);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await redis.quit();
  };
  return { store, redis, prefix };
}

describeContactStoreContract('redis', { open: async () => openRedisStore().store });

describe('redis contact store keys', () => {
  const { store, redis, prefix } = openRedisStore();
  afterAll(() => store.close());

  it('keeps everything under the prefix, without TTL, and removes it all with the session', async () => {
    await store.replace('keys', [contact('5511911110001@c.us'), contact('5511911110002@c.us')], { accountId: null });
    const keys = (await redis.keys(`${prefix}:*`)).sort();
    expect(keys).toEqual([`${prefix}:contacts:keys:data`, `${prefix}:contacts:keys:ids`, `${prefix}:contacts:keys:search`, `${prefix}:contacts:keys:state`]);
    for (const key of keys) expect(await redis.pttl(key), key).toBe(-1);
    expect(await store.deleteSession('keys')).toBe(true);
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it('never shows a half-replaced set to a concurrent reader', async () => {
    const setOf = (tag: string) => Array.from({ length: 1_500 }, (_, i) => contact(`55119${String(10_000_000 + i)}@c.us`, { pushName: tag }));
    await store.replace('atomic', setOf('old'), { accountId: null });
    const writes = Promise.all([store.replace('atomic', setOf('new'), { accountId: null }), store.replace('atomic', setOf('old'), { accountId: null })]);
    const reads = Array.from({ length: 10 }, async () => {
      const page = await store.list('atomic', { limit: 200 });
      return new Set(page.data.map((c) => c.pushName)).size;
    });
    const sizes = await Promise.all(reads);
    await writes;
    expect(sizes.every((size) => size === 1)).toBe(true);
    expect((await store.syncState('atomic'))?.count).toBe(1_500);
  });
});

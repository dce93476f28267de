import { rm } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/messages/message.js';
import { closeRedis, openRedis } from '../../src/storage/redis/redis-connection.js';
import { openStorage } from '../../src/storage/storage.js';
import { redisSuite } from '../helpers/redis-suite.js';
import { testConfig } from '../helpers/test-app.js';

/** The names of the connections Redis has open under a prefix (CLIENT LIST). */
async function connectionNames(admin: Redis, prefix: string): Promise<string[]> {
  const list = String(await admin.client('LIST'));
  return [...list.matchAll(/ name=(\S+)/g)].map((m) => m[1] ?? '').filter((name) => name.startsWith(`${prefix}:`)).sort();
}

const inbound = (sessionId: string) =>
  newRecord({ sessionId, chatId: '5511999990000@c.us', direction: 'inbound', type: 'text', status: 'received', waMessageId: `wa-${sessionId}`, content: { body: 'hi' } });

describe('storage connections', () => {
  const redis = redisSuite();

  it('openRedis opens a named connection that does not auto-pipeline', async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'opt:plain' });
    try {
      expect(connection.options.enableAutoPipelining).toBe(false);
      expect(await connectionNames(redis.admin, 'opt')).toEqual(['opt:plain']);
    } finally {
      await closeRedis(connection);
    }
  });

  it('Redis mode: a request-path and an engine connection over the same records, both closed with the storage', async () => {
    const config = await testConfig({ env: { REDIS_URL: redis.server.url, REDIS_PREFIX: 'conn' } });
    const storage = await openStorage(config);
    try {
      expect(await connectionNames(redis.admin, 'conn')).toEqual(['conn:engine', 'conn:store']);
      expect(storage.engineMessages).not.toBe(storage.messages);

      // What the engine pipeline writes, the request path reads, and the other way round.
      const record = inbound('s1');
      expect(await storage.engineMessages.insert(record)).toBe(true);
      expect(await storage.messages.get(record.id)).toEqual(record);
      expect(await storage.messages.findByWaMessageId('s1', 'wa-s1')).toEqual(record);
      const other = inbound('s2');
      expect(await storage.messages.insert(other)).toBe(true);
      expect(await storage.engineMessages.findByWaMessageId('s2', 'wa-s2')).toEqual(other);
      expect(await storage.engineMessages.insertUnlessKnown({ ...inbound('s2'), waMessageId: 'wa-s2' })).toBe(false);
    } finally {
      await storage.close();
      await rm(config.sessionsPath, { recursive: true, force: true });
    }
    expect(await connectionNames(redis.admin, 'conn')).toEqual([]);
  });

  it('embedded mode: the engine pipeline writes through the same store', async () => {
    const config = await testConfig();
    const storage = await openStorage(config);
    try {
      expect(storage.redis).toBeNull();
      expect(storage.engineMessages).toBe(storage.messages);
    } finally {
      await storage.close();
      await rm(config.sessionsPath, { recursive: true, force: true });
    }
  });
});

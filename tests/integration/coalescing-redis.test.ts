import { describe, expect, it } from 'vitest';
import { CoalescingRedis } from '../../src/storage/redis/coalescing-redis.js';
import { closeRedis, openRedis } from '../../src/storage/redis/redis-connection.js';
import { readsProcessed } from '../helpers/redis-stats.js';
import { redisSuite } from '../helpers/redis-suite.js';

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('coalescing Redis connection', () => {
  const redis = redisSuite();

  it('sends the commands of one tick in one socket write, answered in order', async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'coalesce:tick' });
    try {
      expect(connection).toBeInstanceOf(CoalescingRedis);
      const before = await readsProcessed(redis.admin);
      const replies = Array.from({ length: 100 }, () => connection.incr('coalesce:counter'));
      // Still in the tick: the commands wait in the corked socket.
      expect(connection.stream.writableCorked).toBe(1);
      expect(connection.stream.writableLength).toBeGreaterThan(0);
      expect(await Promise.all(replies)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(connection.stream.writableCorked).toBe(0);
      // One read for the 100 commands (one writev of ~4 KB), plus the second INFO: not a read per command.
      expect((await readsProcessed(redis.admin)) - before).toBeLessThanOrEqual(3);
    } finally {
      await closeRedis(connection);
    }
  });

  it('starts a new write in each tick; pipelines and transactions write their own buffer', async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'coalesce:ticks' });
    try {
      const first = connection.set('coalesce:k', 'a');
      await nextTick();
      expect(connection.stream.writableCorked).toBe(0);
      const second = connection.append('coalesce:k', 'b');
      expect(connection.stream.writableCorked).toBe(1);
      const multi = connection.multi().append('coalesce:k', 'c').get('coalesce:k').exec();
      const pipeline = connection.pipeline().append('coalesce:k', 'd').strlen('coalesce:k').exec();
      expect(await first).toBe('OK');
      expect(await second).toBe(2);
      expect(await multi).toEqual([
        [null, 3],
        [null, 'abc'],
      ]);
      expect(await pipeline).toEqual([
        [null, 4],
        [null, 4],
      ]);
    } finally {
      await closeRedis(connection);
    }
  });

  it('resends what sat in a corked socket that died mid-tick, over the new socket', async () => {
    const connection = new CoalescingRedis(redis.server.url, { connectionName: 'coalesce:killed', lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    connection.on('error', () => undefined);
    await connection.connect();
    try {
      await connection.set('coalesce:survivor', '1');
      const old = connection.stream;
      const pending = connection.incr('coalesce:survivor');
      expect(old.writableCorked).toBe(1);
      old.destroy();
      // ioredis puts the unanswered command back in its queue and sends it once reconnected.
      expect(await pending).toBe(2);
      expect(connection.stream).not.toBe(old);
      expect(await Promise.all([connection.incr('coalesce:survivor'), connection.incr('coalesce:survivor')])).toEqual([3, 4]);
    } finally {
      connection.disconnect();
    }
  });
});

import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { BullmqSendQueue } from '../../src/queue/bullmq-send-queue.js';
import { ParkedSendQueue } from '../../src/queue/parked-send-queue.js';
import type { SendQueue } from '../../src/queue/send-queue.js';
import { closeRedis, openRedis } from '../../src/storage/redis/redis-connection.js';
import { RedisMessageStore } from '../../src/storage/redis/redis-message-store.js';
import { messageRecord } from '../contract/message-store.contract.js';
import { readsProcessed } from '../helpers/redis-stats.js';
import { redisSuite } from '../helpers/redis-suite.js';

/**
 * Three accepts started in one turn, each adding its job right after its insert is sent (as
 * MessageService does); the socket reads redis-server handled meanwhile, the INFO asking included.
 */
async function threeAccepts(store: RedisMessageStore, queue: SendQueue, admin: Redis): Promise<{ records: MessageRecord[]; reads: number }> {
  const records = [messageRecord(), messageRecord(), messageRecord()];
  const adds: Promise<void>[] = [];
  const before = await readsProcessed(admin);
  const inserts = records.map((record) => store.insert(record, '{}', () => adds.push(queue.add({ sessionId: record.sessionId, messageId: record.id }))));
  expect(await Promise.all(inserts)).toEqual([true, true, true]);
  await Promise.all(adds);
  return { records, reads: (await readsProcessed(admin)) - before };
}

describe('an accept’s record insert and job add (Redis)', () => {
  const redis = redisSuite();

  it('leave in one socket write on the store’s connection, the insert first, and the queue leaves that connection open', async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'accept:store' });
    const store = new RedisMessageStore(connection, 'acc', 60_000);
    const queue = await BullmqSendQueue.open({ redisUrl: redis.server.url, prefix: 'acc', producer: connection });
    try {
      // The lane's first add also lists the lane (a write of its own): done beforehand.
      const first = messageRecord();
      await store.insert(first, '{}', () => void queue.add({ sessionId: first.sessionId, messageId: first.id }));
      await expect.poll(() => queue.holds({ sessionId: first.sessionId, messageId: first.id })).toBe(true);

      const { records, reads } = await threeAccepts(store, queue, redis.admin);
      // One read for the script and the three adds, plus the INFO: not one per round trip.
      expect(reads).toBeLessThanOrEqual(2);
      for (const record of records) expect(await queue.holds({ sessionId: record.sessionId, messageId: record.id })).toBe(true);
      expect(await queue.counts(first.sessionId)).toEqual({ waiting: 4, active: 0 });
    } finally {
      await queue.close();
    }
    // The store's connection is the caller's: still open after the queue closed.
    expect(connection.status).toBe('ready');
    expect(await store.get(messageRecord().id)).toBeNull();
    await closeRedis(connection);
  });

  it('leave in one socket write when the job is parked (the started Redis-mode queue), and the job is made once both are in', async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'accept:parked' });
    const store = new RedisMessageStore(connection, 'accp', 60_000);
    const queue = new ParkedSendQueue(await BullmqSendQueue.open({ redisUrl: redis.server.url, prefix: 'accp', producer: connection }));
    try {
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const found: (string | null)[] = [];
      await queue.start(async (job) => {
        found.push((await store.get(job.messageId))?.id ?? null);
        await gate;
        return { outcome: 'done' };
      });
      const first = messageRecord();
      await store.insert(first, '{}', () => void queue.add({ sessionId: first.sessionId, messageId: first.id }));
      await expect.poll(() => found.length).toBe(1);

      const { records, reads } = await threeAccepts(store, queue, redis.admin);
      expect(reads).toBeLessThanOrEqual(2);
      expect(await queue.counts(first.sessionId)).toEqual({ waiting: 3, active: 1 });
      release();
      await expect.poll(() => found.length).toBe(4);
      expect(found).toEqual([first.id, ...records.map((r) => r.id)]);
    } finally {
      await queue.close();
    }
    await closeRedis(connection);
  });
});

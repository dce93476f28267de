import { Redis } from 'ioredis';
import { afterAll, afterEach, inject } from 'vitest';

/**
 * Called inside a describe that opens queues on the shared test redis-server: `admin` is a plain
 * connection to it (closed after the block), and `track(queue)` closes that queue after its test.
 */
export function queueSuite<Q extends { close(): Promise<void> }>(): { admin: Redis; track: (queue: Q) => Q } {
  const admin = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const opened: Q[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((queue) => queue.close()));
  });
  afterAll(async () => {
    await admin.quit();
  });
  return {
    admin,
    track: (queue) => {
      opened.push(queue);
      return queue;
    },
  };
}

import type { Redis } from 'ioredis';
import { CoalescingRedis } from './coalescing-redis.js';

export interface RedisConnectionOptions {
  url: string;
  password?: string | undefined;
  /** Connection name shown by CLIENT LIST, e.g. `wagw:store`. */
  name: string;
}

/**
 * Opens an ioredis connection and waits until it is ready. Producers fail fast when Redis is down
 * (no offline queue, one retry per request) instead of hanging the HTTP request.
 *
 * No auto-pipelining: what the request path sends in bulk is batched by the stores themselves (one
 * script per turn for message writes, event appends, fan-out cursors and rate-limit counts).
 * ioredis' auto-pipelining adds to a Map and a Set and removes again on every flush, and under
 * load the hash tables it rehashes away, once in the old generation, keep the commands (and all
 * that hangs on them) alive through scavenges: measured, it made the garbage collector promote
 * about 3 KB per accepted send (docs/benchmarks.md §12). The commands of one tick still leave in
 * one socket write: the connection is a {@link CoalescingRedis} (§13).
 */
export async function openRedis(options: RedisConnectionOptions): Promise<Redis> {
  const redis = new CoalescingRedis(options.url, {
    ...(options.password ? { password: options.password } : {}),
    connectionName: options.name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // Without a listener ioredis prints unhandled error events; the owner logs state changes.
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

/** Closes a connection we own, even when Redis is gone (quit would wait for a reply forever). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  } catch {
    // already closing
  }
  redis.disconnect();
}

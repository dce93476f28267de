import { Redis } from 'ioredis';

export interface RedisConnectionOptions {
  url: string;
  password?: string | undefined;
  /** Connection name shown by CLIENT LIST, e.g. `wagw:store`. */
  name: string;
  /**
   * Collect the commands issued in one turn of the event loop into one pipeline (default true).
   * It pays where many commands leave per turn (HTTP bursts); where they come one or two at a time
   * (engine events, webhook deliveries) each command gets a pipeline of its own, and those objects
   * live long enough to be promoted and feed major garbage collections.
   */
  autoPipelining?: boolean;
}

/**
 * Opens an ioredis connection and waits until it is ready. Producers fail fast when Redis is down
 * (no offline queue, one retry per request) instead of hanging the HTTP request.
 */
export async function openRedis(options: RedisConnectionOptions): Promise<Redis> {
  const redis = new Redis(options.url, {
    ...(options.password ? { password: options.password } : {}),
    connectionName: options.name,
    lazyConnect: true,
    enableOfflineQueue: false,
    // Commands issued in the same tick leave in one socket write: with many sessions sending at
    // once, the per-command write syscall was the largest CPU cost of the send path.
    enableAutoPipelining: options.autoPipelining ?? true,
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

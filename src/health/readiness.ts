import type { Redis } from 'ioredis';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/**
 * PING on every store connection at once, each with a deadline: a readiness probe must answer
 * quickly even when Redis hangs. Not ok when one does not answer; the detail names it.
 */
export async function checkRedis(connections: readonly Redis[], timeoutMs = 1_000): Promise<ReadinessCheck> {
  const failures = await Promise.all(connections.map((redis) => ping(redis, timeoutMs)));
  const failed = failures.find((failure) => failure !== null);
  return failed ? { name: 'redis', ok: false, detail: failed } : { name: 'redis', ok: true };
}

/** Null when the connection answered; else what went wrong, with the connection's name. */
async function ping(redis: Redis, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return null;
  } catch (error) {
    const name = redis.options.connectionName;
    const message = error instanceof Error ? error.message : 'unreachable';
    return name ? `${name}: ${message}` : message;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

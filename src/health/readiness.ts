import type { Redis } from 'ioredis';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/** PING with a deadline: a readiness probe must answer quickly even when Redis hangs. */
export async function checkRedis(redis: Redis, timeoutMs = 1_000): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name: 'redis', ok: true };
  } catch (error) {
    return { name: 'redis', ok: false, detail: error instanceof Error ? error.message : 'unreachable' };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

import type { Redis } from 'ioredis';

/** Scripts run by EVALSHA on the server so far (INFO commandstats); INFO itself is not one. */
export async function evalshaCalls(redis: Redis): Promise<number> {
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
}

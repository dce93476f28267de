import type { Redis } from 'ioredis';

/** Calls of `command` (lower case: `evalsha`, `multi`) the server has run so far (INFO commandstats). */
export async function commandCalls(redis: Redis, command: string): Promise<number> {
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redis.info('commandstats'))?.[1] ?? 0);
}

/** Scripts run by EVALSHA on the server so far; INFO itself is not one. */
export function evalshaCalls(redis: Redis): Promise<number> {
  return commandCalls(redis, 'evalsha');
}

/** Socket reads redis-server has handled so far (INFO stats), the INFO asking for it included. */
export async function readsProcessed(redis: Redis): Promise<number> {
  return Number(/total_reads_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
}

/** Names of the connections open on the server that start with `prefix` (ours and BullMQ's are all named after the key prefix). */
export async function connectionsNamed(redis: Redis, prefix: string): Promise<string[]> {
  const list = String(await redis.call('CLIENT', 'LIST'));
  return list.split('\n').map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '').filter((n) => n.startsWith(prefix));
}

import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';

/**
 * What {@link checkEvictionPolicy} found: the policy, or why it could not be read (managed Redis
 * often refuses CONFIG).
 */
export type EvictionPolicyCheck = { policy: string } | { unknown: string };

/**
 * Warns when Redis may evict keys (`maxmemory-policy` other than `noeviction`): under memory
 * pressure it would drop queued jobs, message records or idempotency keys without an error.
 * A Redis that refuses `CONFIG GET` is logged at info: not checked, not wrong.
 */
export async function checkEvictionPolicy(redis: Redis, logger: Pick<Logger, 'warn' | 'info'>): Promise<EvictionPolicyCheck> {
  let policy: string | undefined;
  try {
    const reply = await redis.config('GET', 'maxmemory-policy');
    policy = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.info({ reason }, 'could not check the Redis maxmemory-policy (CONFIG GET refused); it should be noeviction');
    return { unknown: reason };
  }
  if (policy === undefined) {
    logger.info('could not check the Redis maxmemory-policy (no answer to CONFIG GET); it should be noeviction');
    return { unknown: 'no value' };
  }
  if (policy !== 'noeviction') {
    logger.warn({ maxmemoryPolicy: policy }, `Redis maxmemory-policy is ${policy}, not noeviction: under memory pressure Redis may drop queued sends, message records and idempotency keys`);
  }
  return { policy };
}

import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { BullmqSendQueue } from './bullmq-send-queue.js';
import type { SendQueueErrorHandler } from './lane-job.js';
import { MemorySendQueue } from './memory-send-queue.js';
import type { SendQueue } from './send-queue.js';

/**
 * The send queue config picks: BullMQ on Redis when REDIS_URL is set, in-process otherwise.
 * `producer`: the message store's connection, for the job adds (see BullmqSendQueueOptions).
 */
export async function openSendQueue(config: Config, onError: SendQueueErrorHandler, producer?: Redis | null): Promise<SendQueue> {
  if (config.redis) return BullmqSendQueue.open({ redisUrl: config.redis.url, redisPassword: config.redis.password, prefix: config.redis.prefix, onError, producer: producer ?? undefined });
  return new MemorySendQueue({ onError });
}

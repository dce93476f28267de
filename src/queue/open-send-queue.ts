import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { BullmqSendQueue } from './bullmq-send-queue.js';
import type { SendQueueErrorHandler } from './lane-job.js';
import { MemorySendQueue } from './memory-send-queue.js';
import { ParkedSendQueue } from './parked-send-queue.js';
import type { SendQueue } from './send-queue.js';

/**
 * The send queue config picks: on Redis when REDIS_URL is set — jobs parked in BullMQ, made from
 * memory (ParkedSendQueue) — in-process otherwise.
 * `producer`: the message store's connection, for the job adds (see BullmqSendQueueOptions).
 */
export async function openSendQueue(config: Config, onError: SendQueueErrorHandler, producer?: Redis | null): Promise<SendQueue> {
  if (config.redis) {
    const bull = await BullmqSendQueue.open({ redisUrl: config.redis.url, redisPassword: config.redis.password, prefix: config.redis.prefix, onError, producer: producer ?? undefined });
    return new ParkedSendQueue(bull, { onError });
  }
  return new MemorySendQueue({ onError });
}

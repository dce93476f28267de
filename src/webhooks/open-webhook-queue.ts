import type { Config } from '../config.js';
import { BullmqSendQueue } from '../queue/bullmq-send-queue.js';
import type { SendQueueErrorHandler } from '../queue/lane-job.js';
import { MemorySendQueue } from '../queue/memory-send-queue.js';
import { DirectFirstLanes, type DeliveryLanes } from './direct-first-lanes.js';
import type { SendQueue } from '../queue/send-queue.js';
import { WEBHOOK_LANE_KEY } from './webhook-targets.js';

/**
 * The webhook delivery queue: the send queue's lanes (one job at a time per lane, a retried job
 * kept at the head, durable in Redis mode), keyed `<sessionId>.<targetId>`. In Redis mode BullMQ
 * queues `webhook-<lane>` under `<prefix>:bull`, the lane set at `<prefix>:webhook:lanes`. An idle
 * lane's deliveries skip the queue (DirectFirstLanes).
 */
export async function openWebhookQueue(config: Config, onError: SendQueueErrorHandler): Promise<DeliveryLanes> {
  return new DirectFirstLanes(await openLaneQueue(config, onError), { onError });
}

async function openLaneQueue(config: Config, onError: SendQueueErrorHandler): Promise<SendQueue> {
  if (config.redis) {
    return BullmqSendQueue.open({
      redisUrl: config.redis.url,
      redisPassword: config.redis.password,
      prefix: config.redis.prefix,
      name: 'webhook',
      laneKeyPattern: WEBHOOK_LANE_KEY,
      onError,
    });
  }
  return new MemorySendQueue({ onError });
}

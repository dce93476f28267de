import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry } from './session-registry.js';
import type { ContactStore } from './contact-store.js';
import { MemoryContactStore } from './memory/memory-contact-store.js';
import { RedisContactStore } from './redis/redis-contact-store.js';
import { MemorySessionRegistry } from './memory/memory-session-registry.js';
import { RedisSessionRegistry } from './redis/redis-session-registry.js';
import { closeRedis, openRedis } from './redis/redis-connection.js';
import { checkEvictionPolicy } from './redis/redis-eviction-policy.js';
import type { MessageStore } from './message-store.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { MemoryMessageStore } from './memory/memory-message-store.js';
import { MemoryIdempotencyStore } from './memory/memory-idempotency-store.js';
import { RedisMessageStore } from './redis/redis-message-store.js';
import { RedisIdempotencyStore } from './redis/redis-idempotency-store.js';
import type { DeliveryStore } from './delivery-store.js';
import { MemoryDeliveryStore } from './memory/memory-delivery-store.js';
import { RedisDeliveryStore } from './redis/redis-delivery-store.js';
import type { EventLog } from './event-log.js';
import { MemoryEventLog } from './memory/memory-event-log.js';
import { RedisEventLog } from './redis/redis-event-log.js';

/** The stores the gateway runs on, picked once from config: Redis when REDIS_URL is set, embedded otherwise. */
export interface Storage {
  readonly mode: 'redis' | 'embedded';
  readonly registry: SessionRegistry;
  /** Cache of each session's synced contacts. */
  readonly contacts: ContactStore;
  /** Message records, both directions. */
  readonly messages: MessageStore;
  /** `Idempotency-Key` reservations. */
  readonly idempotency: IdempotencyStore;
  /** Webhook deliveries (the attempts log) and the webhook fan-out cursors. */
  readonly deliveries: DeliveryStore;
  /** Every contract event, per session in `seq` order (event-log route, SSE resume, webhook replays). */
  readonly events: EventLog;
  /** The shared command connection in Redis mode (rate limit, health). */
  readonly redis: Redis | null;
  close(): Promise<void>;
}

export const REGISTRY_FILE = 'registry.json';

export interface StorageOptions {
  /** Told when a background write of the embedded registry file fails (it is retried). */
  onWriteError?: (error: unknown) => void;
  /** Told what is wrong with the Redis setup (a maxmemory-policy that may evict keys). */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export async function openStorage(config: Config, options: StorageOptions = {}): Promise<Storage> {
  if (config.redis) {
    const redis = await openRedis({ url: config.redis.url, password: config.redis.password, name: `${config.redis.prefix}:store` });
    if (options.logger) await checkEvictionPolicy(redis, options.logger);
    const registry = new RedisSessionRegistry(redis, config.redis.prefix);
    const contacts = new RedisContactStore(redis, config.redis.prefix);
    const messages = new RedisMessageStore(redis, config.redis.prefix, config.send.messageTtlMs);
    const idempotency = new RedisIdempotencyStore(redis, config.redis.prefix);
    const deliveries = new RedisDeliveryStore(redis, config.redis.prefix);
    // A session's log lives as long as its message history: MESSAGE_TTL after its last event.
    const events = new RedisEventLog(redis, config.redis.prefix, { retentionMs: config.send.messageTtlMs });
    return assemble('redis', { registry, contacts, messages, idempotency, events, deliveries }, redis);
  }
  const onWriteError = options.onWriteError ?? ((error: unknown) => process.emitWarning(`session registry write failed: ${String(error)}`));
  const registry = await MemorySessionRegistry.persistedTo(join(config.sessionsPath, REGISTRY_FILE), onWriteError);
  const contacts = new MemoryContactStore();
  const messages = new MemoryMessageStore();
  const idempotency = new MemoryIdempotencyStore();
  const deliveries = new MemoryDeliveryStore();
  const events = new MemoryEventLog();
  return assemble('embedded', { registry, contacts, messages, idempotency, events, deliveries }, null);
}

type Stores = Omit<Storage, 'mode' | 'redis' | 'close'>;

/** The Storage of a set of stores: closing closes each store, then the connection they share. */
function assemble(mode: Storage['mode'], stores: Stores, redis: Redis | null): Storage {
  return {
    mode,
    ...stores,
    redis,
    close: async () => {
      for (const store of Object.values(stores)) await store.close();
      if (redis) await closeRedis(redis);
    },
  };
}

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
import { RefreshSchedule, refreshIntervalMs } from './redis/refresh-schedule.js';
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
  /**
   * The same records for the engine-event pipeline (inbound messages, acks, edits, revokes): in
   * Redis mode over the second connection (see `redis`), in embedded mode the same store as `messages`.
   */
  readonly engineMessages: MessageStore;
  /** `Idempotency-Key` reservations. */
  readonly idempotency: IdempotencyStore;
  /** Webhook deliveries (the attempts log) and the webhook fan-out cursors. */
  readonly deliveries: DeliveryStore;
  /** Every contract event, per session in `seq` order (event-log route, SSE resume, webhook replays). */
  readonly events: EventLog;
  /**
   * The request path's connection in Redis mode (registry, contacts, messages, idempotency, event
   * log, rate limit, health); its stores batch what a burst of requests sends in one turn (one
   * script per turn for message writes, appends, counts). The delivery store and `engineMessages` share a
   * second connection, so that the engine path's commands never queue behind a burst of the
   * request path's (docs/benchmarks.md §10, §12). Neither auto-pipelines (see `openRedis`).
   */
  readonly redis: Redis | null;
  /** Every store connection, `redis` first (readiness and health PING them all); none in embedded mode. */
  readonly connections: readonly Redis[];
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
    const { url, password, prefix } = config.redis;
    const redis = await openRedis({ url, password, name: `${prefix}:store` });
    const engine = await openRedis({ url, password, name: `${prefix}:engine` }).catch(async (error: unknown) => {
      await closeRedis(redis);
      throw error;
    });
    if (options.logger) await checkEvictionPolicy(redis, options.logger);
    const ttlMs = config.send.messageTtlMs;
    // One refresh schedule for the history indexes of both message stores: a session deleted through one is forgotten by both.
    const indexRefresh = new RefreshSchedule(refreshIntervalMs(ttlMs));
    const stores: Stores = {
      registry: new RedisSessionRegistry(redis, prefix),
      contacts: new RedisContactStore(redis, prefix),
      messages: new RedisMessageStore(redis, prefix, ttlMs, indexRefresh),
      engineMessages: new RedisMessageStore(engine, prefix, ttlMs, indexRefresh),
      idempotency: new RedisIdempotencyStore(redis, prefix),
      deliveries: new RedisDeliveryStore(engine, prefix),
      // A session's log lives as long as its message history: MESSAGE_TTL after its last event.
      events: new RedisEventLog(redis, prefix, { retentionMs: ttlMs }),
    };
    return assemble('redis', stores, [redis, engine]);
  }
  const onWriteError = options.onWriteError ?? ((error: unknown) => process.emitWarning(`session registry write failed: ${String(error)}`));
  const registry = await MemorySessionRegistry.persistedTo(join(config.sessionsPath, REGISTRY_FILE), onWriteError);
  const contacts = new MemoryContactStore();
  const messages = new MemoryMessageStore();
  const idempotency = new MemoryIdempotencyStore();
  const deliveries = new MemoryDeliveryStore();
  const events = new MemoryEventLog();
  return assemble('embedded', { registry, contacts, messages, engineMessages: messages, idempotency, events, deliveries }, []);
}

type Stores = Omit<Storage, 'mode' | 'redis' | 'connections' | 'close'>;

/** The Storage of a set of stores: closing closes each store once, then the connections they share (the first is `redis`). */
function assemble(mode: Storage['mode'], stores: Stores, connections: Redis[]): Storage {
  return {
    mode,
    ...stores,
    redis: connections[0] ?? null,
    connections,
    close: async () => {
      for (const store of new Set(Object.values(stores))) await store.close();
      for (const connection of connections) await closeRedis(connection);
    },
  };
}

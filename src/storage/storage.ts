import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { SessionRegistry } from './session-registry.js';
import { MemorySessionRegistry } from './memory/memory-session-registry.js';
import { RedisSessionRegistry } from './redis/redis-session-registry.js';
import { closeRedis, openRedis } from './redis/redis-connection.js';

/** The stores the gateway runs on, picked once from config: Redis when REDIS_URL is set, embedded otherwise. */
export interface Storage {
  readonly mode: 'redis' | 'embedded';
  readonly registry: SessionRegistry;
  /** The shared command connection in Redis mode (rate limit, health). */
  readonly redis: Redis | null;
  close(): Promise<void>;
}

export const REGISTRY_FILE = 'registry.json';

export interface StorageOptions {
  /** Told when a background write of the embedded registry file fails (it is retried). */
  onWriteError?: (error: unknown) => void;
}

export async function openStorage(config: Config, options: StorageOptions = {}): Promise<Storage> {
  if (config.redis) {
    const redis = await openRedis({ url: config.redis.url, password: config.redis.password, name: `${config.redis.prefix}:store` });
    const registry = new RedisSessionRegistry(redis, config.redis.prefix);
    return {
      mode: 'redis',
      registry,
      redis,
      close: async () => {
        await registry.close();
        await closeRedis(redis);
      },
    };
  }
  const onWriteError = options.onWriteError ?? ((error: unknown) => process.emitWarning(`session registry write failed: ${String(error)}`));
  const registry = await MemorySessionRegistry.persistedTo(join(config.sessionsPath, REGISTRY_FILE), onWriteError);
  return { mode: 'embedded', registry, redis: null, close: () => registry.close() };
}

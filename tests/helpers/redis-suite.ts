import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from './redis-server.js';

export interface RedisSuite {
  readonly server: RedisServer;
  /** A plain connection of the test's own (CONFIG, ACL, CLIENT LIST). */
  readonly admin: Redis;
}

/** Called inside a describe: a real redis-server for the whole block and an admin connection to it. */
export function redisSuite(): RedisSuite {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('redisSuite: used before its beforeAll ran');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get admin() {
      return started(admin);
    },
  };
}

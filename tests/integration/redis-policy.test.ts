import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { LogCapture, type LogLine } from '../helpers/log-capture.js';
import { redisSuite } from '../helpers/redis-suite.js';
import { testConfig } from '../helpers/test-app.js';

const WARN = 40;
const INFO = 30;
const aboutPolicy = (line: LogLine): boolean => line.msg.includes('maxmemory-policy');

describe('Redis maxmemory-policy check at start', () => {
  const redis = redisSuite();

  /** Builds the real app on that Redis with a captured log, closes it, and returns the lines about the policy. */
  async function policyLines(): Promise<LogLine[]> {
    const log = new LogCapture();
    const config = await testConfig({ env: { REDIS_URL: redis.server.url, REDIS_PREFIX: 'policy' } });
    const app = await buildApp(config, { logger: log.logger });
    await app.close();
    await rm(config.sessionsPath, { recursive: true, force: true });
    return log.events.filter(aboutPolicy);
  }

  it('says nothing with noeviction', async () => {
    expect(await redis.admin.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await policyLines()).toEqual([]);
  });

  it('warns when Redis may evict keys (allkeys-lru)', async () => {
    await redis.admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const lines = await policyLines();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: WARN, maxmemoryPolicy: 'allkeys-lru' });
      expect(lines[0]?.msg).toContain('not noeviction');
    } finally {
      await redis.admin.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('logs at info that it could not check when CONFIG is refused (managed Redis)', async () => {
    // The gateway's connections use the default user; the admin connection is already authenticated.
    await redis.admin.call('ACL', 'SETUSER', 'default', '-config');
    try {
      const lines = await policyLines();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: INFO });
      expect(lines[0]?.msg).toContain('could not check the Redis maxmemory-policy');
    } finally {
      await redis.admin.call('ACL', 'SETUSER', 'default', '+config');
    }
  });
});

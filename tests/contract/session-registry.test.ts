import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MemorySessionRegistry } from '../../src/storage/memory/memory-session-registry.js';
import { RedisSessionRegistry } from '../../src/storage/redis/redis-session-registry.js';
import type { SessionRegistry } from '../../src/storage/session-registry.js';
import { commandCalls } from '../helpers/redis-stats.js';
import { describeSessionRegistryContract, sessionRecord } from './session-registry.contract.js';

const failOnWriteError = (error: unknown): never => {
  throw error;
};

/** The contract's registry directories, removed once the file's tests are done. */
const registryDirs: string[] = [];
afterAll(async () => {
  for (const dir of registryDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describeSessionRegistryContract('memory, persisted to a file', (() => {
  const files = new WeakMap<SessionRegistry, string>();
  return {
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'wagw-registry-'));
      registryDirs.push(dir);
      const file = join(dir, 'registry.json');
      const registry = await MemorySessionRegistry.persistedTo(file, failOnWriteError);
      files.set(registry, file);
      return registry;
    },
    reopen: async (registry) => {
      await registry.close();
      const file = files.get(registry) ?? '';
      const next = await MemorySessionRegistry.persistedTo(file, failOnWriteError);
      files.set(next, file);
      return next;
    },
  };
})());

describeSessionRegistryContract('redis', (() => {
  const connections = new WeakMap<SessionRegistry, { redis: Redis; prefix: string }>();
  const open = async (prefix: string): Promise<SessionRegistry> => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    const registry = new RedisSessionRegistry(redis, prefix);
    connections.set(registry, { redis, prefix });
    const close = registry.close.bind(registry);
    registry.close = async () => {
      await close();
      await redis.quit();
    };
    return registry;
  };
  return {
    open: () => open(`reg${randomBytes(6).toString('hex')}`),
    reopen: async (registry) => {
      const prefix = connections.get(registry)?.prefix ?? '';
      await registry.close();
      return open(prefix);
    },
  };
})());

describe('memory registry file', () => {
  it('coalesces a burst of writes into few file writes and survives a corrupt file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wagw-registry-'));
    try {
      const file = join(dir, 'registry.json');
      const registry = await MemorySessionRegistry.persistedTo(file, failOnWriteError);
      for (let i = 0; i < 500; i++) await registry.create(sessionRecord(`s${i}`));
      await registry.close();
      const saved = JSON.parse(await readFile(file, 'utf8')) as { sessions: unknown[] };
      expect(saved.sessions).toHaveLength(500);

      await writeFile(file, '{ truncated');
      const recovered = await MemorySessionRegistry.persistedTo(file, failOnWriteError);
      expect(await recovered.count()).toBe(0);
      expect((await readdir(dir)).some((f) => f.startsWith('registry.json.corrupt-'))).toBe(true);
      await recovered.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a failed background write and writes again once the directory is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wagw-registry-'));
    let reported: (error: unknown) => void = () => undefined;
    const failure = new Promise<unknown>((resolve) => {
      reported = resolve;
    });
    const registry = await MemorySessionRegistry.persistedTo(join(dir, 'registry.json'), (error) => reported(error));
    await rm(dir, { recursive: true, force: true });
    await registry.create(sessionRecord('x'));
    expect(await failure).toMatchObject({ code: 'ENOENT' });
    await mkdir(dir, { recursive: true });
    await registry.close();
    expect(JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8'))).toMatchObject({ sessions: [{ id: 'x' }] });
    await rm(dir, { recursive: true, force: true });
  });
});

describe('redis registry puts', () => {
  it('writes the puts of one turn in one MULTI, each in its state at put time (the later put of an id wins), and fails them together', async () => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    const prefix = `regput${randomBytes(6).toString('hex')}`;
    const registry = new RedisSessionRegistry(redis, prefix);
    try {
      const multis = (): Promise<number> => commandCalls(redis, 'multi');
      const before = await multis();
      const records = Array.from({ length: 50 }, (_, i) => sessionRecord(`s${String(i).padStart(2, '0')}`, { stats: { sent: i, received: 0, failed: 0 } }));
      const puts = records.map((record) => registry.put(record));
      // Changed after its put: the write holds the record in its state at put time.
      const first = records[0];
      if (first) first.status = 'ready';
      puts.push(registry.put({ ...sessionRecord('s01'), stats: { sent: 1_001, received: 0, failed: 0 } }));
      await Promise.all(puts);
      expect((await multis()) - before).toBe(1);
      const listed = await registry.list();
      expect(listed.map((r) => r.id)).toEqual(records.map((r) => r.id));
      expect(listed[0]?.status).toBe('stopped');
      expect(listed[1]?.stats.sent).toBe(1_001);
      expect(listed[49]?.stats.sent).toBe(49);

      // A key of the wrong type refuses the HSET: every put of that turn rejects.
      await redis.del(`${prefix}:sessions`);
      await redis.set(`${prefix}:sessions`, 'not a hash');
      const refused = await Promise.allSettled([registry.put(sessionRecord('a')), registry.put(sessionRecord('b'))]);
      expect(refused.map((r) => (r.status === 'rejected' ? String(r.reason) : 'written'))).toEqual([expect.stringMatching(/WRONGTYPE/), expect.stringMatching(/WRONGTYPE/)]);
    } finally {
      await registry.close();
      await redis.quit();
    }
  });
});

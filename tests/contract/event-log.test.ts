import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EventLog } from '../../src/storage/event-log.js';
import { MemoryEventLog } from '../../src/storage/memory/memory-event-log.js';
import { RedisEventLog, type RedisEventLogOptions } from '../../src/storage/redis/redis-event-log.js';
import { describeEventLogContract, gatewayEvent } from './event-log.contract.js';
import { evalshaCalls } from '../helpers/redis-stats.js';

const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

describeEventLogContract('memory', { open: async () => new MemoryEventLog() });

/** A Redis log on its own connection and random prefix; closing it closes the connection. */
function openRedisLog(prefix = `evl${randomBytes(6).toString('hex')}`, options: RedisEventLogOptions = { retentionMs: RETENTION_MS }): { log: RedisEventLog; redis: Redis; prefix: string } {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const log = new RedisEventLog(redis, prefix, options);
  const close = log.close.bind(log);
  log.close = async () => {
    await close();
    await redis.quit();
  };
  return { log, redis, prefix };
}

const prefixes = new WeakMap<EventLog, string>();
describeEventLogContract('redis', {
  open: async () => {
    const { log, prefix } = openRedisLog();
    prefixes.set(log, prefix);
    return log;
  },
  reopen: async (log) => openRedisLog(prefixes.get(log)).log,
});

describe('memory event log bounds', () => {
  it('keeps the newest maxPerSession entries of each session; seq goes on', async () => {
    const log = new MemoryEventLog({ maxPerSession: 5 });
    for (let i = 0; i < 12; i++) await log.append(gatewayEvent());
    await log.append(gatewayEvent({ sessionId: 'other' }));
    expect((await log.read('sales', 0, 100)).map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect((await log.read('sales', 9, 100)).map((e) => e.seq)).toEqual([10, 11, 12]);
    expect(await log.lastSeq('sales')).toBe(12);
    expect((await log.read('other', 0, 100)).map((e) => e.seq)).toEqual([1]);
    expect((await log.readTimeRange({ since: new Date(0).toISOString(), sessionId: 'sales' })).data.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
  });

  it('drops the oldest entries beyond maxBytesPerSession, always keeping the newest', async () => {
    const big = 'x'.repeat(1_000);
    const log = new MemoryEventLog({ maxBytesPerSession: 4_000 });
    for (let i = 0; i < 10; i++) await log.append(gatewayEvent({ data: { big } }));
    expect((await log.read('sales', 0, 100)).map((e) => e.seq)).toEqual([8, 9, 10]);
    const tiny = new MemoryEventLog({ maxBytesPerSession: 10 });
    await tiny.append(gatewayEvent({ data: { big } }));
    await tiny.append(gatewayEvent({ data: { big } }));
    expect((await tiny.read('sales', 0, 100)).map((e) => e.seq)).toEqual([2]);
  });

  it('forgets the session appended to least recently beyond maxSessions', async () => {
    const log = new MemoryEventLog({ maxSessions: 2 });
    await log.append(gatewayEvent({ sessionId: 'a' }));
    await log.append(gatewayEvent({ sessionId: 'b' }));
    await log.append(gatewayEvent({ sessionId: 'a' }));
    await log.append(gatewayEvent({ sessionId: 'c' }));
    expect(await log.lastSeq('b')).toBe(0);
    expect(await log.read('b', 0, 10)).toEqual([]);
    expect(await log.lastSeq('a')).toBe(2);
    expect(await log.lastSeq('c')).toBe(1);
  });
});

describe('redis event log keys', () => {
  const { log, redis, prefix } = openRedisLog(undefined, { retentionMs: 60_000, maxPerSession: 100 });
  afterAll(() => log.close());

  it('stores a stream per session with entry ids <seq>-0, a TTL of the retention (+ the refresh interval), and a counter without TTL', async () => {
    await log.append(gatewayEvent({ sessionId: 'keys' }));
    await log.append(gatewayEvent({ sessionId: 'keys' }));
    const entries = await redis.xrange(`${prefix}:events:keys`, '-', '+');
    expect(entries.map(([id]) => id)).toEqual(['1-0', '2-0']);
    const ttl = await redis.pttl(`${prefix}:events:keys`);
    // Retention 60 s: refreshed at most every 6 s, with 6 s of slack.
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(66_000);
    expect(await redis.pttl(`${prefix}:evseq:keys`)).toBe(-1);
    expect(await redis.get(`${prefix}:evseq:keys`)).toBe('2');
    expect(await redis.zscore(`${prefix}:evsessions`, 'keys')).not.toBeNull();
  });

  it('refreshes a stream\'s TTL and its place in the sessions index once per interval; replays allow for the lag; a deleted session starts again', async () => {
    const t0 = Date.now();
    await log.append(gatewayEvent({ sessionId: 'lag', occurredAt: new Date(t0) }));
    const stream = `${prefix}:events:lag`;
    const score = Number(await redis.zscore(`${prefix}:evsessions`, 'lag'));
    // Within the interval the next appends leave the TTL (set by hand here) and the score alone.
    await redis.pexpire(stream, 30_000);
    await log.append(gatewayEvent({ sessionId: 'lag', occurredAt: new Date(t0 + 5_000) }));
    expect(await redis.pttl(stream)).toBeLessThanOrEqual(30_000);
    expect(Number(await redis.zscore(`${prefix}:evsessions`, 'lag'))).toBe(score);
    // A replay of every session from after that score still finds the later event.
    const page = await log.readTimeRange({ since: new Date(score + 4_000).toISOString() });
    expect(page.data.filter((e) => e.sessionId === 'lag').map((e) => e.seq)).toEqual([2]);
    // Deleted: the next append gives the new stream its TTL and the session its place again.
    await log.deleteSession('lag');
    await log.append(gatewayEvent({ sessionId: 'lag' }));
    expect(await redis.pttl(stream)).toBeGreaterThan(60_000);
    expect(await redis.zscore(`${prefix}:evsessions`, 'lag')).not.toBeNull();
  });

  it('trims each stream to about maxPerSession entries (MAXLEN ~), oldest first', async () => {
    for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 100 }, () => log.append(gatewayEvent({ sessionId: 'trim' }))));
    const length = await redis.xlen(`${prefix}:events:trim`);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(300);
    const kept = await log.read('trim', 0, 1_000);
    expect(kept).toHaveLength(length);
    expect(kept[kept.length - 1]?.seq).toBe(1_000);
    kept.forEach((e, i) => expect(e.seq).toBe(1_000 - length + 1 + i));
  });

  it('sends the appends of one tick, of every session, in one script; a session whose keys refuse fails alone', async () => {
    await log.append(gatewayEvent({ sessionId: 'tick-a' }));
    await redis.set(`${prefix}:events:tick-bad`, 'not a stream');
    const before = await evalshaCalls(redis);
    const results = await Promise.allSettled([
      log.appendMany([gatewayEvent({ sessionId: 'tick-a', data: { i: 1 } }), gatewayEvent({ sessionId: 'tick-a', data: { i: 2 } })]),
      log.appendMany([gatewayEvent({ sessionId: 'tick-bad' })]),
      log.appendMany([gatewayEvent({ sessionId: 'tick-b', data: { i: 1 } })]),
      log.appendMany([gatewayEvent({ sessionId: 'tick-a', data: { i: 3 } })]),
    ]);
    // One EVALSHA for the four calls (INFO itself is not a script).
    expect((await evalshaCalls(redis)) - before).toBe(1);
    const [a, bad, b, a2] = results;
    expect(a.status === 'fulfilled' && a.value.map((e) => [e.seq, e.data.i])).toEqual([[2, 1], [3, 2]]);
    expect(bad.status === 'rejected' && String(bad.reason)).toMatch(/tick-bad.*WRONGTYPE/);
    expect(b.status === 'fulfilled' && b.value.map((e) => e.seq)).toEqual([1]);
    expect(a2.status === 'fulfilled' && a2.value.map((e) => [e.seq, e.data.i])).toEqual([[4, 3]]);
    // What was returned is what is stored, nothing twice.
    expect((await log.read('tick-a', 0, 10)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(await log.read('tick-a', 1, 10)).toEqual(a.status === 'fulfilled' && a2.status === 'fulfilled' ? [...a.value, ...a2.value] : null);
    expect(await log.lastSeq('tick-b')).toBe(1);
  });

  it('splits a tick of more than 256 appends into several scripts, every one recorded in call order', async () => {
    const { log: big } = openRedisLog(undefined, { retentionMs: 60_000 });
    try {
      const appended = await Promise.all(Array.from({ length: 600 }, (_, i) => big.appendMany([gatewayEvent({ sessionId: `many-${i % 3}`, data: { i } })])));
      for (const k of [0, 1, 2]) {
        const read = await big.read(`many-${k}`, 0, 1_000);
        expect(read.map((e) => e.data.i)).toEqual(Array.from({ length: 200 }, (_, i) => i * 3 + k));
        expect(read).toEqual(appended.flat().filter((e) => e.sessionId === `many-${k}`));
        expect(read.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      }
    } finally {
      await big.close();
    }
  });

  it('refuses to hand out an entry that is not an envelope (written by another program)', async () => {
    await log.append(gatewayEvent({ sessionId: 'foreign' }));
    await redis.xadd(`${prefix}:events:foreign`, '2-0', 't', String(Date.now()), 'e', '{"hello":"world"}');
    await expect(log.read('foreign', 1, 10)).rejects.toThrow(/not an event envelope/);
    expect((await log.read('foreign', 0, 1)).map((e) => e.seq)).toEqual([1]);
  });

  it('continues after the stream\'s last seq when the counter was removed by hand', async () => {
    for (let i = 0; i < 3; i++) await log.append(gatewayEvent({ sessionId: 'lost' }));
    await redis.del(`${prefix}:evseq:lost`);
    expect((await log.append(gatewayEvent({ sessionId: 'lost' }))).seq).toBe(4);
    expect((await log.append(gatewayEvent({ sessionId: 'lost' }))).seq).toBe(5);
    expect(await log.lastSeq('lost')).toBe(5);
  });
});

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { MemoryMessageStore } from '../../src/storage/memory/memory-message-store.js';
import { RedisMessageStore } from '../../src/storage/redis/redis-message-store.js';
import { RefreshSchedule, refreshIntervalMs } from '../../src/storage/redis/refresh-schedule.js';
import { T0, describeMessageStoreContract, iso, messageRecord } from './message-store.contract.js';
import { evalshaCalls } from '../helpers/redis-stats.js';

const TTL_MS = 30 * 24 * 60 * 60 * 1000;

describeMessageStoreContract('memory', { open: async () => new MemoryMessageStore() });

/** A Redis store on its own connection and random prefix; closing it closes the connection. */
function openRedisStore(ttlMs = TTL_MS): { store: RedisMessageStore; redis: Redis; prefix: string } {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const prefix = `msg${randomBytes(6).toString('hex')}`;
  const store = new RedisMessageStore(redis, prefix, ttlMs);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await redis.quit();
  };
  return { store, redis, prefix };
}

describeMessageStoreContract('redis', { open: async () => openRedisStore().store });

describe('memory message store bound', () => {
  it('keeps at most maxPerSession records per session, dropping the oldest inserted', async () => {
    const store = new MemoryMessageStore({ maxPerSession: 3 });
    const records = Array.from({ length: 5 }, (_, i) => messageRecord({ createdAt: iso(T0 + i), waMessageId: `true_${i}` }));
    for (const r of records) await store.insert(r);
    await store.insert(messageRecord({ sessionId: 'other' }));
    expect((await store.list('sales')).data.map((r) => r.id)).toEqual(records.slice(2).reverse().map((r) => r.id));
    expect(await store.get(records[0]?.id ?? '')).toBeNull();
    expect(await store.findByWaMessageId('sales', 'true_0')).toBeNull();
    expect((await store.list('other')).data).toHaveLength(1);
  });
});

describe('redis message store keys', () => {
  const { store, redis, prefix } = openRedisStore(60_000);
  afterAll(() => store.close());

  it('sets MESSAGE_TTL on the record and its WhatsApp id mapping, refreshed on update; the indexes get it plus the refresh interval', async () => {
    const record = messageRecord({ sessionId: 'ttl', createdAt: iso(Date.now()) });
    await store.insert(record);
    await store.updateStatus(record.id, { status: 'sent', at: iso(Date.now()), waMessageId: 'true_ttl' });
    const indexes = [`${prefix}:msgs:ttl:all`, `${prefix}:msgs:ttl:chat:${record.chatId}`, `${prefix}:msgs:ttl:dir:outbound`];
    const own = [`${prefix}:msg:${record.id}`, `${prefix}:msgwa:ttl:true_ttl`];
    for (const key of own) {
      const pttl = await redis.pttl(key);
      expect(pttl, key).toBeGreaterThan(50_000);
      expect(pttl, key).toBeLessThanOrEqual(60_000);
    }
    // MESSAGE_TTL 60 s: refreshed at most every 6 s, with 6 s of slack.
    for (const key of indexes) {
      const pttl = await redis.pttl(key);
      expect(pttl, key).toBeGreaterThan(60_000);
      expect(pttl, key).toBeLessThanOrEqual(66_000);
    }
    await redis.pexpire(own[0] ?? '', 1_000);
    await store.updateStatus(record.id, { status: 'delivered', at: iso(Date.now()) });
    expect(await redis.pttl(own[0] ?? '')).toBeGreaterThan(50_000);
  });

  it('refreshes a history index once per interval, not on every write; a deleted session starts again', async () => {
    const record = messageRecord({ sessionId: 'sched', createdAt: iso(Date.now()) });
    await store.insert(record);
    const all = `${prefix}:msgs:sched:all`;
    expect(await redis.pttl(all)).toBeGreaterThan(60_000);
    // Within the interval, updates and inserts leave the index's TTL alone (set by hand here).
    await redis.pexpire(all, 30_000);
    await store.updateStatus(record.id, { status: 'sent', at: iso(Date.now()), waMessageId: 'true_sched' });
    await store.updateStatus(record.id, { status: 'delivered', at: iso(Date.now()) });
    await store.insert(messageRecord({ sessionId: 'sched', createdAt: iso(Date.now()) }));
    expect(await redis.pttl(all)).toBeLessThanOrEqual(30_000);
    // A session deleted through another store of the same schedule: the next insert gives its new indexes a TTL.
    const shared = new RefreshSchedule(refreshIntervalMs(60_000));
    const one = new RedisMessageStore(redis, prefix, 60_000, shared);
    const other = new RedisMessageStore(redis, prefix, 60_000, shared);
    await one.insert(messageRecord({ sessionId: 'again', createdAt: iso(Date.now()) }));
    await other.deleteSession('again');
    expect(await redis.exists(`${prefix}:msgs:again:all`)).toBe(0);
    await one.insert(messageRecord({ sessionId: 'again', createdAt: iso(Date.now()) }));
    expect(await redis.pttl(`${prefix}:msgs:again:all`)).toBeGreaterThan(60_000);
  });

  it('drops index members of expired records when history meets them', async () => {
    const kept = messageRecord({ sessionId: 'lazy', createdAt: iso(Date.now()) });
    const expired = messageRecord({ sessionId: 'lazy', createdAt: iso(Date.now() + 1) });
    await store.insert(kept);
    await store.insert(expired);
    await redis.del(`${prefix}:msg:${expired.id}`);
    expect((await store.list('lazy')).data.map((r) => r.id)).toEqual([kept.id]);
    expect(await redis.zcard(`${prefix}:msgs:lazy:all`)).toBe(1);
    expect((await store.stats('lazy')).total).toBe(1);
  });

  it('continues a scan past its per-call budget, for sparse filters and for stats', async () => {
    const base = Date.now();
    const oldest = messageRecord({ sessionId: 'many', type: 'poll', createdAt: iso(base) });
    await store.insert(oldest);
    for (let batch = 0; batch < 11; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.insert(messageRecord({ sessionId: 'many', createdAt: iso(base + 1 + batch * 100 + i) }))));
    }
    expect((await store.list('many', { type: 'poll' })).data.map((r) => r.id)).toEqual([oldest.id]);
    const stats = await store.stats('many');
    expect(stats.total).toBe(1_101);
    expect(stats.byStatus.queued).toBe(1_101);
  });

  it('inserts what one turn asks for in one script, in call order; a record whose keys refuse fails alone', async () => {
    const createdAt = iso(Date.now());
    const first = messageRecord({ sessionId: 'turn', createdAt });
    const twin = { ...first, chatId: 'someone-else@c.us' };
    const inbound = messageRecord({ sessionId: 'turn', createdAt, direction: 'inbound', status: 'received', waMessageId: 'false_turn' });
    const repeat = { ...inbound, id: messageRecord().id };
    const refused = messageRecord({ sessionId: 'turn-bad', createdAt });
    const last = messageRecord({ sessionId: 'turn', createdAt: iso(Date.parse(createdAt) + 1) });
    await redis.set(`${prefix}:msgs:turn-bad:all`, 'not a sorted set');
    const before = await evalshaCalls(redis);
    const results = await Promise.allSettled([
      store.insert(first, '{"payload":1}'),
      store.insert(twin),
      store.insertUnlessKnown({ ...inbound, waMessageId: 'false_turn' }),
      store.insertUnlessKnown({ ...repeat, waMessageId: 'false_turn' }),
      store.insert(refused),
      store.insert(last),
    ]);
    // One EVALSHA for the six calls (INFO itself is not a script).
    expect((await evalshaCalls(redis)) - before).toBe(1);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason)))).toEqual([true, false, true, false, expect.stringMatching(/WRONGTYPE/), true]);
    // The same id twice: the first call's record is the one stored; the repeated WhatsApp id is skipped.
    expect((await store.get(first.id))?.chatId).toBe(first.chatId);
    expect(await store.getPayload(first.id)).toBe('{"payload":1}');
    expect((await store.findByWaMessageId('turn', 'false_turn'))?.id).toBe(inbound.id);
    expect(await store.get(repeat.id)).toBeNull();
    // Newest first: `last`, then the two of the same millisecond by id, descending.
    expect((await store.list('turn')).data.map((r) => r.id)).toEqual([last.id, ...[inbound.id, first.id].sort().reverse()]);
    // Each index touched is trimmed and given its TTL once, whatever the number of records.
    expect(await redis.pttl(`${prefix}:msgs:turn:all`)).toBeGreaterThan(50_000);
  });

  it('writes the inserts, updates and payload deletes of one turn in one script; a record whose key refuses fails alone', async () => {
    const createdAt = iso(Date.now());
    const a = messageRecord({ sessionId: 'upd', createdAt });
    const b = messageRecord({ sessionId: 'upd', createdAt });
    const moved = messageRecord({ sessionId: 'upd', createdAt });
    // In a session of its own: a history scan that met its key (a set) would fail as a whole.
    const broken = messageRecord({ sessionId: 'upd-bad', createdAt });
    const fresh = messageRecord({ sessionId: 'upd', createdAt: iso(Date.parse(createdAt) + 1) });
    for (const r of [a, b, moved, broken]) await store.insert(r, `{"body":"${r.id}"}`);
    await redis.del(`${prefix}:msg:${broken.id}`);
    await redis.sadd(`${prefix}:msg:${broken.id}`, 'not a string');
    const before = await evalshaCalls(redis);
    const results = await Promise.allSettled([
      store.updateStatus(a.id, { status: 'sent', at: iso(Date.now()), waMessageId: 'true_upd_a' }, a),
      store.modify(moved.id, (r) => ({ record: { ...r, chatId: '5511900000000@c.us' }, result: 'moved' }), moved),
      store.dropPayload(a.id),
      store.updateStatus(broken.id, { status: 'sent', at: iso(Date.now()) }, broken),
      store.updateStatus(b.id, { status: 'failed', at: iso(Date.now()), error: { code: 'ENGINE_ERROR', message: 'x' } }, b),
      store.insert(fresh),
    ]);
    // One EVALSHA for the six writes (the callers held their records: no reads).
    expect((await evalshaCalls(redis)) - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results[5].status === 'fulfilled' ? results[5].value : null).toBe(true);
    expect((await store.list('upd', { limit: 1 })).data.map((r) => r.id)).toEqual([fresh.id]);
    expect(String(results[3].status === 'rejected' ? results[3].reason : '')).toMatch(/WRONGTYPE/);
    expect((await store.get(a.id))?.status).toBe('sent');
    expect((await store.findByWaMessageId('upd', 'true_upd_a'))?.id).toBe(a.id);
    expect(await store.getPayload(a.id)).toBeNull();
    expect(await store.getPayload(b.id)).toBe(`{"body":"${b.id}"}`);
    expect((await store.get(b.id))?.status).toBe('failed');
    expect((await store.list('upd', { chatId: '5511900000000@c.us' })).data.map((r) => r.id)).toEqual([moved.id]);
  });

  it('retries an update whose held record is stale, from what Redis holds', async () => {
    const record = messageRecord({ sessionId: 'stale', createdAt: iso(Date.now()) });
    await store.insert(record);
    await store.updateStatus(record.id, { status: 'sent', at: iso(Date.now()), waMessageId: 'true_stale' });
    // `record` (queued) is stale now: the compare-and-set fails, the store reads and applies again.
    const outcome = await store.updateStatus(record.id, { status: 'delivered', at: iso(Date.now()) }, record);
    expect(outcome.changed).toBe(true);
    expect(outcome.record?.status).toBe('delivered');
    expect(outcome.record?.waMessageId).toBe('true_stale');
    expect((await store.get(record.id))?.status).toBe('delivered');
  });

  it('serialises a record once per update when the caller holds what the store last read or wrote', async () => {
    const record = messageRecord({ sessionId: 'held', createdAt: iso(Date.now()) });
    await store.insert(record, '{"body":"held"}');
    const read = (await store.getWithPayload(record.id))?.record;
    if (!read) throw new Error('not stored');
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const sent = await store.updateStatus(record.id, { status: 'sent', at: iso(Date.now()), waMessageId: 'true_held' }, read);
      if (!sent.record) throw new Error('not updated');
      const delivered = await store.updateStatus(record.id, { status: 'delivered', at: iso(Date.now()) }, sent.record);
      expect(delivered.record?.status).toBe('delivered');
      // The new JSON of each update only: the held records' hashes were kept from the read and the write.
      expect(stringify).toHaveBeenCalledTimes(2);
    } finally {
      stringify.mockRestore();
    }
    expect((await store.get(record.id))?.status).toBe('delivered');
  });

  it('splits a turn of more than 256 inserts into several scripts, every one stored', async () => {
    const createdAt = Date.now();
    const records = Array.from({ length: 600 }, (_, i) => messageRecord({ sessionId: `bulk-${i % 3}`, createdAt: iso(createdAt + i) }));
    expect(await Promise.all(records.map((r) => store.insert(r)))).toEqual(records.map(() => true));
    for (const k of [0, 1, 2]) {
      const listed = await store.list(`bulk-${k}`, { limit: 200 });
      expect(listed.data.map((r) => r.id)).toEqual(records.filter((_, i) => i % 3 === k).map((r) => r.id).reverse());
    }
  });
});

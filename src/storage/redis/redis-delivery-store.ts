import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DeliveryRecord, DeliveryStatus } from '../../webhooks/delivery.js';
import type { DeliveryPage, DeliveryQuery, DeliveryStore } from '../delivery-store.js';
import { DELIVERY_RETENTION_MS, decodeDeliveryCursor, deliveryPageLimit, encodeDeliveryCursor } from '../delivery-store.js';
import { LUA_PCALL_ENTRY, LuaScript } from './lua-script.js';
import { ScriptBatch } from './script-batch.js';
import { dropOldest } from '../../bounded-map.js';

/** Inserts a record and its body (unless the id exists) and indexes it; trims index members past the retention. */
const INSERT = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
for i = 3, 6 do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[6])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return 1`);

/**
 * Compare-and-set of a record's JSON (compared by SHA1: 40 bytes on the wire instead of the
 * record): moves it from the old status indexes to the new ones and refreshes the TTL of the
 * record, its body and its indexes. -1 unknown id, 0 changed meanwhile.
 */
const CAS = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if KEYS[3] ~= KEYS[5] then
  redis.call('ZREM', KEYS[3], ARGV[4])
  redis.call('ZREM', KEYS[4], ARGV[4])
end
for i = 5, 8 do
  redis.call('ZADD', KEYS[i], ARGV[5], ARGV[4])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return 1`);

/** Fresh deliveries kept in memory for their first read (see {@link RedisDeliveryStore}): ~1 KB each. */
export const FRESH_DELIVERIES_KEPT = 2_000;

/**
 * Moves cursors forward only, or deletes them: KEYS the cursors, ARGV[1] their TTL, ARGV[1 + i] the
 * seq for KEYS[i] ('' deletes it). In call order, so a delete after a write in the same turn wins.
 * Each under pcall (a key of the wrong type fails alone); the reply holds 1 or the error per cursor.
 */
const SET_CURSORS = new LuaScript(`${LUA_PCALL_ENTRY}
local function advance(key, seq, ttl)
  if seq == '' then
    redis.call('DEL', key)
    return 1
  end
  local current = tonumber(redis.call('GET', key))
  if current == nil or current < tonumber(seq) then
    redis.call('SET', key, seq, 'PX', ttl)
  else
    redis.call('PEXPIRE', key, ttl)
  end
  return 1
end
local out = {}
for i, key in ipairs(KEYS) do out[i] = entry(pcall(advance, key, ARGV[i + 1], ARGV[1])) end
return out`);

/** Cursor writes sent in one SET_CURSORS script at most. */
const CURSORS_PER_SCRIPT = 256;

/**
 * One page of an index, newest first, in one atomic step (a listing never sees a member twice
 * while deliveries change status): skips what is at or before the cursor (equal scores come in
 * reverse lexicographic order, as ids descend), returns up to `want` record JSONs, and removes the
 * members whose record expired. Reads record keys derived from members (single-node Redis).
 */
const PAGE = new LuaScript(`
local key, prefix, max, cursorId, want = KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local cursorScore = nil
if cursorId ~= '' then cursorScore = tonumber(max) end
local out, stale, offset = {}, {}, 0
while #out < want do
  local batch = redis.call('ZREVRANGEBYSCORE', key, max, '-inf', 'WITHSCORES', 'LIMIT', offset, 100)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    local id, score = batch[i], tonumber(batch[i + 1])
    if not (cursorScore and score == cursorScore and id >= cursorId) then
      local raw = redis.call('GET', prefix .. id)
      if raw then
        out[#out + 1] = raw
        if #out >= want then break end
      else
        stale[#stale + 1] = id
      end
    end
  end
end
for i = 1, #stale, 500 do
  redis.call('ZREM', key, unpack(stale, i, math.min(i + 499, #stale)))
end
return out`);

/**
 * Deliveries in Redis. A record is JSON at `<prefix>:whd:<id>`, its body at `<prefix>:whdbody:<id>`,
 * both kept {@link DELIVERY_RETENTION_MS} after the last change. Four sorted sets per listing
 * (all; by status; by session; by session and status), scored by createdAt (ms), let every filter of
 * the list route read one index; a status change moves the member between the status indexes in
 * the same script as the compare-and-set. Members whose record expired are removed when a listing
 * meets them, members older than the retention are trimmed on insert. Fan-out cursors live at
 * `<prefix>:whcursor:<sessionId>`; the cursor writes of one turn go in one script. The connection
 * belongs to the caller.
 *
 * Deliveries this instance inserted and has not read or changed since are kept in memory — the
 * record object given to `insert` (records are replaced, never changed in place), up to
 * {@link FRESH_DELIVERIES_KEPT}, oldest dropped first — so that the first `getWithBody` of a fresh
 * delivery — its first attempt, right after the fan-out made it — costs no round trip. Every
 * `modify` forgets the entry. This relies on one gateway process per REDIS_PREFIX (as the queues
 * do): another process's change to a delivery still in memory here would not be seen before the
 * compare-and-set, which then fails (an extra attempt of an at-least-once delivery, never a lost one).
 */
export class RedisDeliveryStore implements DeliveryStore {
  private readonly fresh = new Map<string, { record: DeliveryRecord; body: string }>();
  /** The cursor writes of one turn (every session's fan-out writes its own) leave in one script; `seq` null deletes. */
  private readonly cursorWrites: ScriptBatch<{ key: string; seq: number | null }, void>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionMs: number = DELIVERY_RETENTION_MS,
  ) {
    this.cursorWrites = new ScriptBatch({
      maxPerScript: CURSORS_PER_SCRIPT,
      schedule: (flush) => setImmediate(flush),
      send: (writes) => SET_CURSORS.run(redis, writes.map((w) => w.key), [retentionMs, ...writes.map((w) => w.seq ?? '')]),
      settle: (write, result) => {
        if (result !== 1) throw new Error(`writing the fan-out cursor '${write.key}' failed: ${String(result)}`);
      },
    });
  }

  private recordKey(id: string): string {
    return `${this.prefix}:whd:${id}`;
  }
  private bodyKey(id: string): string {
    return `${this.prefix}:whdbody:${id}`;
  }
  private indexKey(sessionId: string | undefined, status: DeliveryStatus | undefined): string {
    const session = sessionId === undefined ? '' : `:s:${sessionId}`;
    const state = status === undefined ? '' : `:st:${status}`;
    return sessionId === undefined && status === undefined ? `${this.prefix}:whds:all` : `${this.prefix}:whds${session}${state}`;
  }
  private cursorKey(sessionId: string): string {
    return `${this.prefix}:whcursor:${sessionId}`;
  }

  async insert(record: DeliveryRecord, body: string): Promise<boolean> {
    const keys = [
      this.recordKey(record.id),
      this.bodyKey(record.id),
      this.indexKey(undefined, undefined),
      this.indexKey(undefined, record.status),
      this.indexKey(record.sessionId, undefined),
      this.indexKey(record.sessionId, record.status),
    ];
    const cutoff = Date.now() - this.retentionMs;
    const raw = JSON.stringify(record);
    const inserted = (await INSERT.run(this.redis, keys, [raw, body, String(this.retentionMs), String(Date.parse(record.createdAt)), record.id, String(cutoff)])) === 1;
    if (inserted) {
      this.fresh.set(record.id, { record, body });
      dropOldest(this.fresh, FRESH_DELIVERIES_KEPT);
    }
    return inserted;
  }

  async get(id: string): Promise<DeliveryRecord | null> {
    const raw = await this.redis.get(this.recordKey(id));
    return raw === null ? null : (JSON.parse(raw) as DeliveryRecord);
  }

  async getBody(id: string): Promise<string | null> {
    return this.redis.get(this.bodyKey(id));
  }

  async getWithBody(id: string): Promise<{ record: DeliveryRecord; body: string | null } | null> {
    const fresh = this.fresh.get(id);
    if (fresh) {
      this.fresh.delete(id);
      return fresh;
    }
    const [raw, body] = await this.redis.mget(this.recordKey(id), this.bodyKey(id));
    return raw === null || raw === undefined ? null : { record: JSON.parse(raw) as DeliveryRecord, body: body ?? null };
  }

  async modify<T>(id: string, change: (record: DeliveryRecord) => { record?: DeliveryRecord | undefined; result: T }, current?: DeliveryRecord): Promise<T | null> {
    this.fresh.delete(id);
    // A record read from here serialises back to the stored bytes: the compare-and-set checks them.
    let known = current === undefined ? null : JSON.stringify(current);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = known ?? (await this.redis.get(this.recordKey(id)));
      known = null;
      if (raw === null) return null;
      const before = JSON.parse(raw) as DeliveryRecord;
      const outcome = change(before);
      const after = outcome.record;
      if (after === undefined) return outcome.result;
      const keys = [
        this.recordKey(id),
        this.bodyKey(id),
        this.indexKey(undefined, before.status),
        this.indexKey(before.sessionId, before.status),
        this.indexKey(undefined, after.status),
        this.indexKey(after.sessionId, after.status),
        this.indexKey(undefined, undefined),
        this.indexKey(after.sessionId, undefined),
      ];
      const written = await CAS.run(this.redis, keys, [hash('sha1', raw, 'hex'), JSON.stringify(after), String(this.retentionMs), id, String(Date.parse(after.createdAt))]);
      if (written === 1) return outcome.result;
      if (written === -1) return null;
    }
    throw new Error(`delivery ${id}: too many concurrent updates`);
  }

  async list(query: DeliveryQuery = {}): Promise<DeliveryPage> {
    const limit = deliveryPageLimit(query.limit);
    const cursor = query.cursor === undefined ? null : decodeDeliveryCursor(query.cursor);
    const rows = (await PAGE.run(this.redis, [this.indexKey(query.sessionId, query.status)], [this.recordKey(''), cursor ? String(cursor.ms) : '+inf', cursor ? cursor.id : '', String(limit + 1)])) as string[];
    // The indexes move with the record atomically; checked again all the same.
    const found = rows
      .map((raw) => JSON.parse(raw) as DeliveryRecord)
      .filter((r) => (query.sessionId === undefined || r.sessionId === query.sessionId) && (query.status === undefined || r.status === query.status));
    const data = found.slice(0, limit);
    const last = data[data.length - 1];
    return { data, nextCursor: rows.length > limit && last ? encodeDeliveryCursor(last) : null };
  }

  async getCursor(sessionId: string): Promise<number | null> {
    const raw = await this.redis.get(this.cursorKey(sessionId));
    return raw === null ? null : Number(raw);
  }

  async setCursor(sessionId: string, seq: number): Promise<void> {
    await this.cursorWrites.add({ key: this.cursorKey(sessionId), seq });
  }

  async deleteCursor(sessionId: string): Promise<void> {
    await this.cursorWrites.add({ key: this.cursorKey(sessionId), seq: null });
  }

  async close(): Promise<void> {
    // The connection is owned by the caller.
  }
}

import type { Redis } from 'ioredis';
import { LuaScript } from './lua-script.js';
import { RedisMessageWrites } from './redis-message-writes.js';
import { RefreshSchedule, refreshIntervalMs } from './refresh-schedule.js';
import type { MessageRecord, StatusUpdate } from '../../messages/message.js';
import { applyStatusUpdate } from '../../messages/message.js';
import type { CursorPosition, MessagePage, MessageQuery, MessageStats, MessageStore, TimeRange } from '../message-store.js';
import { StatsAccumulator, decodeCursor, encodeCursor, pageLimit, timeMs } from '../message-store.js';

/**
 * One step of a newest-first scan of an index: skips what comes before the cursor or at/after
 * `until`, stops below `since`, filters, removes members whose record expired, and returns
 * { done, lastScore, lastId, json... } after at most `budget` examined members or `want` matches.
 */
const SCAN = new LuaScript(`
local key, prefix = KEYS[1], ARGV[1]
local cursorScore, cursorId = tonumber(ARGV[2]), ARGV[3]
local since, want, budget = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local chat, dir, status, mtype, over = ARGV[8], ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12])
local pos = 0
if cursorScore then pos = redis.call('ZCOUNT', key, '(' .. ARGV[2], '+inf') end
if ARGV[4] ~= '' then pos = math.max(pos, redis.call('ZCOUNT', key, ARGV[4], '+inf')) end
local out, examined, done, lastScore, lastId = {}, 0, 0, '', ''
local function latencyOver(l)
  for _, f in ipairs({'toSentMs', 'toDeliveredMs', 'toReadMs', 'receivedMs'}) do
    local v = l[f]
    if type(v) == 'number' and v > over then return true end
  end
  return false
end
while #out < want and examined < budget and done == 0 do
  local batch = redis.call('ZREVRANGE', key, pos, pos + 99, 'WITHSCORES')
  if #batch == 0 then done = 1 end
  local stale = {}
  for i = 1, #batch, 2 do
    local id, score = batch[i], tonumber(batch[i + 1])
    if since and score < since then done = 1 break end
    pos = pos + 1
    if not (cursorScore and score == cursorScore and id >= cursorId) then
      examined = examined + 1
      lastScore, lastId = batch[i + 1], id
      local raw = redis.call('GET', prefix .. id)
      if not raw then
        stale[#stale + 1] = id
      else
        local r = cjson.decode(raw)
        if (chat == '' or r.chatId == chat) and (dir == '' or r.direction == dir) and (status == '' or r.status == status)
          and (mtype == '' or r.type == mtype) and (not over or latencyOver(r.latency)) then
          out[#out + 1] = raw
          if #out >= want then break end
        end
      end
    end
  end
  if #stale > 0 then
    redis.call('ZREM', key, unpack(stale))
    pos = pos - #stale
  end
end
return { done, lastScore, lastId, unpack(out) }`);

const SCAN_BUDGET = 1_000;

/**
 * Message records in Redis. Each record is a JSON string `<prefix>:msg:<id>` with TTL
 * `MESSAGE_TTL`, refreshed on every update. Per session, three sorted sets scored by createdAt
 * (ms) index the history — all records, by chat, by direction — with a TTL of `MESSAGE_TTL` + up
 * to a minute, refreshed by writes at most once a minute per index (see RefreshSchedule: each
 * index outlives every record written to it); members whose record expired are removed when a
 * scan meets them, and members older than the retention are trimmed by inserts (when the index is
 * refreshed). `<prefix>:msgwa:<sessionId>:<waMessageId>` maps WhatsApp's id to ours, with the
 * record's TTL. Updates are read → apply the shared rules → compare-and-set against the JSON read
 * (refreshing the TTL of the record and its mapping; its indexes when due), retried on
 * a concurrent change: two round trips, one when the caller holds the record. The inserts,
 * compare-and-sets and payload deletes asked for in one turn of the event loop leave together in
 * one script at its end (`redis-message-writes.ts`).
 * History and stats run SCAN steps of at most 1,000 examined members each (one round trip per
 * step). The scan script reads record keys it derives from index members (single-node Redis, not
 * Cluster). The connection belongs to the caller.
 */
export class RedisMessageStore implements MessageStore {
  private readonly writes: RedisMessageWrites;
  /**
   * The stored JSON a record object was parsed from or serialised to: a compare-and-set against a
   * record the caller holds then needs no JSON of it. Weak: an entry goes with its record.
   */
  private readonly storedJson = new WeakMap<MessageRecord, string>();

  /**
   * `refresh`: when the history indexes are given their TTL and trimmed; stores of one Redis
   * prefix in one process share it (a session deleted through one is then forgotten by all).
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    ttlMs: number,
    private readonly refresh = new RefreshSchedule(refreshIntervalMs(ttlMs)),
  ) {
    this.writes = new RedisMessageWrites(redis, ttlMs, refresh);
  }

  private recordKey(id: string): string {
    return `${this.prefix}:msg:${id}`;
  }
  private waKey(sessionId: string, waMessageId: string): string {
    return `${this.prefix}:msgwa:${sessionId}:${waMessageId}`;
  }
  private indexPrefix(sessionId: string): string {
    return `${this.prefix}:msgs:${sessionId}:`;
  }
  private indexKey(sessionId: string, kind: 'all' | 'chat' | 'dir', value = ''): string {
    return `${this.indexPrefix(sessionId)}${kind}${value === '' ? '' : `:${value}`}`;
  }
  private keysOf(record: MessageRecord): string[] {
    const keys = [
      this.recordKey(record.id),
      this.indexKey(record.sessionId, 'all'),
      this.indexKey(record.sessionId, 'chat', record.chatId),
      this.indexKey(record.sessionId, 'dir', record.direction),
    ];
    if (record.waMessageId !== null) keys.push(this.waKey(record.sessionId, record.waMessageId));
    return keys;
  }

  async get(id: string): Promise<MessageRecord | null> {
    const raw = await this.redis.get(this.recordKey(id));
    return raw === null ? null : (JSON.parse(raw) as MessageRecord);
  }

  async findByWaMessageId(sessionId: string, waMessageId: string): Promise<MessageRecord | null> {
    const id = await this.redis.get(this.waKey(sessionId, waMessageId));
    const record = id === null ? null : await this.get(id);
    return record?.sessionId === sessionId ? record : null;
  }

  /** Runs SCAN steps until `want` records matched or the index is exhausted. */
  private async scan(sessionId: string, query: MessageQuery, want: number, start: CursorPosition | null): Promise<MessageRecord[]> {
    const since = timeMs(query.since);
    const until = timeMs(query.until);
    const key =
      query.chatId !== undefined
        ? this.indexKey(sessionId, 'chat', query.chatId)
        : query.direction !== undefined
          ? this.indexKey(sessionId, 'dir', query.direction)
          : this.indexKey(sessionId, 'all');
    const found: MessageRecord[] = [];
    let cursor = start;
    for (;;) {
      const reply = (await SCAN.run(this.redis, [key], [this.recordKey(''), cursor ? String(cursor.ms) : '', cursor ? cursor.id : '',
        until === undefined ? '' : String(until), since === undefined ? '' : String(since), String(want - found.length), String(SCAN_BUDGET),
        query.chatId ?? '', query.direction ?? '', query.status ?? '', query.type ?? '',
        query.latencyOverMs === undefined ? '' : String(query.latencyOverMs)])) as [number, string, string, ...string[]];
      const [done, lastScore, lastId, ...rows] = reply;
      for (const raw of rows) found.push(JSON.parse(raw) as MessageRecord);
      if (done === 1 || found.length >= want || lastId === '') return found;
      cursor = { ms: Number(lastScore), id: lastId };
    }
  }

  async list(sessionId: string, query: MessageQuery = {}): Promise<MessagePage> {
    const limit = pageLimit(query.limit);
    const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const records = await this.scan(sessionId, query, limit + 1, cursor);
    const data = records.slice(0, limit);
    const last = data[data.length - 1];
    return { data, nextCursor: records.length > limit && last ? encodeCursor(last) : null };
  }

  async stats(sessionId: string, range: TimeRange = {}): Promise<MessageStats> {
    const stats = new StatsAccumulator(range);
    let cursor: CursorPosition | null = null;
    for (;;) {
      const chunk = await this.scan(sessionId, { since: range.since, until: range.until }, SCAN_BUDGET, cursor);
      for (const record of chunk) stats.add(record);
      const last = chunk[chunk.length - 1];
      if (chunk.length < SCAN_BUDGET || !last) return stats.result();
      cursor = { ms: Date.parse(last.createdAt), id: last.id };
    }
  }

  private payloadKey(id: string): string {
    return `${this.prefix}:msgpayload:${id}`;
  }

  async insert(record: MessageRecord, payload?: string, alongside?: () => void): Promise<boolean> {
    return this.runInsert(record, payload, false, alongside);
  }

  async insertUnlessKnown(record: MessageRecord & { waMessageId: string }): Promise<boolean> {
    return this.runInsert(record, undefined, true);
  }

  private runInsert(record: MessageRecord, payload: string | undefined, unlessKnown: boolean, alongside?: () => void): Promise<boolean> {
    const write = {
      keys: this.keysOf(record),
      json: JSON.stringify(record),
      score: Date.parse(record.createdAt),
      id: record.id,
      payloadKey: payload === undefined ? '' : this.payloadKey(record.id),
      payload: payload ?? '',
      unlessKnown,
    };
    return this.writes.insert(write, alongside);
  }

  async getPayload(id: string): Promise<string | null> {
    return this.redis.get(this.payloadKey(id));
  }

  async getWithPayload(id: string): Promise<{ record: MessageRecord; payload: string | null } | null> {
    const [raw, payload] = await this.redis.mget(this.recordKey(id), this.payloadKey(id));
    if (!raw) return null;
    // Read to be changed (the send worker's next step is a compare-and-set against it).
    const record = JSON.parse(raw) as MessageRecord;
    this.storedJson.set(record, raw);
    return { record, payload: payload ?? null };
  }

  async dropPayload(id: string): Promise<void> {
    await this.writes.delete(this.payloadKey(id));
  }

  async modify<T>(id: string, change: (record: MessageRecord) => { record?: MessageRecord | undefined; result: T }, current?: MessageRecord): Promise<T | null> {
    return this.mutate<T | null>(
      id,
      (record) => {
        const outcome = change(record);
        return outcome.record === undefined ? { record, write: false, result: outcome.result } : { record: outcome.record, write: true, result: outcome.result };
      },
      null,
      current,
    );
  }

  /** Read → change → compare-and-set, retried when another writer got there first. */
  private async mutate<T>(id: string, change: (record: MessageRecord) => { record: MessageRecord; write: boolean; result: T }, missing: T, current?: MessageRecord): Promise<T> {
    // A held record stands for what was read, first (changes return new records, never change
    // theirs in place); the stored bytes are JSON.stringify of plain data, so it re-serialises to
    // them — or they are known from when this store read or wrote it.
    let held = current ?? null;
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = held === null ? await this.redis.get(this.recordKey(id)) : null;
      const before = held ?? (raw === null ? null : (JSON.parse(raw) as MessageRecord));
      held = null;
      if (before === null) return missing;
      const chatBefore = before.chatId;
      const outcome = change(before);
      if (!outcome.write) return outcome.result;
      const expected = raw ?? this.storedJson.get(before) ?? JSON.stringify(before);
      const json = JSON.stringify(outcome.record);
      const chatChanged = outcome.record.chatId !== chatBefore;
      const written = await this.writes.compareAndSet({
        keys: this.keysOf(outcome.record),
        expected,
        json,
        id,
        // Only a chat move re-adds the id to the indexes (score: createdAt).
        score: chatChanged ? Date.parse(outcome.record.createdAt) : 0,
        chatChanged,
      });
      if (written === 1) {
        // The next move of this record (an ack, the send's outcome) holds what was written now.
        this.storedJson.set(outcome.record, json);
        return outcome.result;
      }
      if (written === -1) return missing;
    }
    throw new Error(`message ${id}: too many concurrent updates`);
  }

  async updateStatus(id: string, update: StatusUpdate, current?: MessageRecord): Promise<{ changed: boolean; record: MessageRecord | null }> {
    return this.mutate<{ changed: boolean; record: MessageRecord | null }>(
      id,
      (record) => {
        const outcome = applyStatusUpdate(record, update);
        return { record: outcome.record, write: outcome.dirty, result: { changed: outcome.changed, record: outcome.record } };
      },
      { changed: false, record: null },
      current,
    );
  }

  async setWaMessageId(id: string, waMessageId: string): Promise<boolean> {
    return this.mutate(
      id,
      (record) =>
        record.waMessageId !== null
          ? { record, write: false, result: record.waMessageId === waMessageId }
          : { record: { ...record, waMessageId }, write: true, result: true },
      false,
    );
  }

  async incrementAttempts(id: string): Promise<number | null> {
    return this.mutate<number | null>(id, (record) => ({ record: { ...record, attempts: record.attempts + 1 }, write: true, result: record.attempts + 1 }), null);
  }

  async deleteSession(sessionId: string): Promise<number> {
    const all = this.indexKey(sessionId, 'all');
    const indexes = new Set([all, this.indexKey(sessionId, 'dir', 'outbound'), this.indexKey(sessionId, 'dir', 'inbound')]);
    let removed = 0;
    for (;;) {
      const ids = await this.redis.zrange(all, 0, 499);
      if (ids.length === 0) break;
      const raws = await this.redis.mget(...ids.map((id) => this.recordKey(id)));
      const multi = this.redis.multi().zrem(all, ...ids);
      for (const raw of raws) {
        if (raw === null) continue;
        const record = JSON.parse(raw) as MessageRecord;
        const [recordKey, , chatKey, , waKey] = this.keysOf(record);
        if (chatKey !== undefined) indexes.add(chatKey);
        multi.del(...[recordKey, waKey, this.payloadKey(record.id)].filter((k): k is string => k !== undefined));
        removed += 1;
      }
      await multi.exec();
    }
    await this.redis.del(...indexes);
    this.refresh.forgetPrefix(this.indexPrefix(sessionId));
    return removed;
  }

  async close(): Promise<void> {
    // The connection is owned by the caller.
  }
}

import type { Redis } from 'ioredis';
import type { GatewayEvent } from '../../events/event-bus.js';
import { parseStoredEnvelope, toEnvelope, type EventEnvelope } from '../../events/event-envelope.js';
import type { EventLog, EventRangePage, EventRangeQuery } from '../event-log.js';
import { DEFAULT_MAX_EVENTS_PER_SESSION, compareSessionIds, sameSession, decodeRangeCursor, encodeRangeCursor, eventPageLimit, newEventId, rangeBounds } from '../event-log.js';
import { LUA_PCALL_ENTRY, LuaScript } from './lua-script.js';
import { RefreshSchedule, refreshIntervalMs } from './refresh-schedule.js';
import { ScriptBatch } from './script-batch.js';

/**
 * Appends the events of one or more sessions in one step: per block (one session's events), INCRBY
 * the session's counter by the number of events and XADD each envelope under `<seq>-0`. Each
 * envelope JSON comes in two halves around its `seq` value (head .. seq .. tail), so the script
 * never decodes the event data (cjson would turn `[]` into `{}`). KEYS: the sessions index, then
 * per block its counter and stream. ARGV: MAXLEN, TTL, now (ms), number of blocks, '1' when the
 * sessions index is due for its trim and TTL, then per block: session id, '1' when the stream is due
 * for its TTL and its score in the sessions index (see RefreshSchedule), count, and per event head,
 * tail, occurredAt (ms). Each block runs under pcall, so a session whose keys refuse (a key of the
 * wrong type) fails alone: the reply holds, per block, the first seq given or the error text. A
 * counter that is gone while the stream is not (removed by hand) starts again after the stream's
 * last id rather than failing every XADD. The sessions index (score: append time, refreshed with
 * the stream) lets replays of every session skip idle ones.
 */
const APPEND = new LuaScript(`${LUA_PCALL_ENTRY}
local maxlen, ttl, now = ARGV[1], ARGV[2], ARGV[3]
local blocks = tonumber(ARGV[4])
local out = {}
local a = 6
local function appendBlock(seqKey, streamKey, sessionId, due, n, base)
  local last = redis.call('INCRBY', seqKey, n)
  local first = last - n + 1
  if first == 1 and redis.call('EXISTS', streamKey) == 1 then
    local info = redis.call('XINFO', 'STREAM', streamKey)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then
        local previous = tonumber(string.match(info[i + 1], '^(%d+)'))
        if previous and previous >= first then
          first = previous + 1
          redis.call('SET', seqKey, first + n - 1)
        end
      end
    end
  end
  for i = 0, n - 1 do
    local s = string.format('%d', first + i)
    local at = base + i * 3
    redis.call('XADD', streamKey, 'MAXLEN', '~', maxlen, s .. '-0', 't', ARGV[at + 2], 'e', ARGV[at] .. s .. ARGV[at + 1])
  end
  if due == '1' then
    redis.call('PEXPIRE', streamKey, ttl)
    redis.call('ZADD', KEYS[1], now, sessionId)
  end
  return first
end
for b = 1, blocks do
  local n = tonumber(ARGV[a + 2])
  out[b] = entry(pcall(appendBlock, KEYS[b * 2], KEYS[b * 2 + 1], ARGV[a], ARGV[a + 1], n, a + 3))
  a = a + 3 + n * 3
end
if ARGV[5] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(now) - tonumber(ttl)))
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return out`);

/**
 * One step of a time-range scan of a session's stream from an exclusive start id: returns
 * { done, lastId, json... } after at most `budget` examined entries or `want` matches.
 */
const RANGE = new LuaScript(`
local start, since, untilMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local want, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local out, examined, last, done = {}, 0, '', 0
while #out < want and examined < budget do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 200)
  if #batch == 0 then done = 1 break end
  for _, entry in ipairs(batch) do
    examined = examined + 1
    last = entry[1]
    local fields = entry[2]
    local t = tonumber(fields[2])
    if t >= since and (untilMs == nil or t < untilMs) then
      out[#out + 1] = fields[4]
      if #out >= want then break end
    end
  end
  start = '(' .. last
end
return { done, last, unpack(out) }`);

/** Removes a session's entries and its place in the sessions index (the counter stays); the number removed. */
const DELETE = new LuaScript(`
local n = 0
if redis.call('EXISTS', KEYS[1]) == 1 then n = redis.call('XLEN', KEYS[1]) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n`);

const RANGE_BUDGET = 1_000;
/** appendMany calls sent in one APPEND script at most (more in one tick start another). */
const MAX_BLOCKS_PER_SCRIPT = 256;
const SEQ_MARKER = '"seq":0';

export interface RedisEventLogOptions {
  /** How long a session's entries live after its last event (the stream's TTL, refreshed on append). */
  retentionMs: number;
  /** Entries kept per session, trimmed with `MAXLEN ~` (so at least this many; default 10,000). */
  maxPerSession?: number;
}

/** One appendMany call waiting for the tick's APPEND script. */
interface PendingBlock {
  sessionId: string;
  /** Their seq is set from the reply. */
  envelopes: EventEnvelope[];
  /** Head and tail of each envelope's JSON around its seq, in turn. */
  halves: string[];
  occurredAt: number[];
}

/**
 * The event log in Redis:
 * - `<prefix>:evseq:<sessionId>` — the session's seq counter (INCR), no TTL: a few bytes per
 *   session id ever seen, so seq keeps counting across restarts, deletions and quiet months;
 * - `<prefix>:events:<sessionId>` — a stream of `{ t: occurredAt ms, e: envelope JSON }` entries
 *   with id `<seq>-0`, trimmed with `MAXLEN ~ maxPerSession` on each append, TTL `retentionMs` +
 *   the refresh interval (a tenth of the retention, at most a minute), refreshed by appends at most
 *   once per interval (so a session's log goes at least `retentionMs` after its last event);
 * - `<prefix>:evsessions` — sessions by last append time (ms), for replays of every session;
 *   the score refreshed with the stream's TTL (so it lags the last append by up to the interval,
 *   which replays allow for); members whose stream has expired are dropped, and the index given
 *   the stream's TTL, at most once per interval.
 * Appends are one Lua script per tick (INCRBY + XADD for each session appended in it), one step
 * even across instances (nothing runs between its commands). Scripts touch keys they derive from
 * a session id only (single-node Redis, not Cluster). The connection belongs to the caller.
 */
export class RedisEventLog implements EventLog {
  private readonly maxPerSession: number;
  private readonly retentionMs: number;
  /** When streams and the sessions index are given their TTL (and the index its scores and trim). */
  private readonly refresh: RefreshSchedule;
  /** appendMany calls of this tick, sent together in one APPEND script. */
  private readonly appends: ScriptBatch<PendingBlock, EventEnvelope[]>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    options: RedisEventLogOptions,
  ) {
    this.retentionMs = Math.max(1, Math.trunc(options.retentionMs));
    this.maxPerSession = Math.max(1, options.maxPerSession ?? DEFAULT_MAX_EVENTS_PER_SESSION);
    this.refresh = new RefreshSchedule(refreshIntervalMs(this.retentionMs));
    this.appends = new ScriptBatch({
      maxPerScript: MAX_BLOCKS_PER_SCRIPT,
      schedule: (flush) => process.nextTick(flush),
      send: async (blocks) => {
        const now = Date.now();
        const round = this.refresh.round(now);
        const keys = [this.indexKey()];
        const args: (string | number)[] = [this.maxPerSession, this.retentionMs + this.refresh.intervalMs, now, blocks.length, round.flag(this.indexKey())];
        for (const block of blocks) {
          const stream = this.streamKey(block.sessionId);
          keys.push(this.seqKey(block.sessionId), stream);
          args.push(block.sessionId, round.flag(stream), block.envelopes.length);
          block.occurredAt.forEach((at, i) => args.push(block.halves[i * 2] ?? '', block.halves[i * 2 + 1] ?? '', at));
        }
        try {
          return await APPEND.run(this.redis, keys, args);
        } catch (error) {
          round.undo();
          throw error;
        }
      },
      settle: (block, first) => {
        if (typeof first !== 'number') throw new Error(`appending to the event log of session '${block.sessionId}' failed: ${String(first)}`);
        block.envelopes.forEach((envelope, i) => (envelope.seq = first + i));
        return block.envelopes;
      },
    });
  }

  private seqKey(sessionId: string): string {
    return `${this.prefix}:evseq:${sessionId}`;
  }
  private streamKey(sessionId: string): string {
    return `${this.prefix}:events:${sessionId}`;
  }
  private indexKey(): string {
    return `${this.prefix}:evsessions`;
  }

  async append(event: GatewayEvent): Promise<EventEnvelope> {
    const [envelope] = await this.appendMany([event]);
    if (!envelope) throw new Error('appendMany returned no envelope');
    return envelope;
  }

  /**
   * Appends arrive in batches: the calls made in one tick (the event recorder's sessions at the end
   * of an event-loop turn) leave together in one APPEND script, one block per call, in call order.
   */
  async appendMany(events: readonly GatewayEvent[]): Promise<EventEnvelope[]> {
    const sessionId = sameSession(events);
    if (sessionId === null) return [];
    const block: PendingBlock = { sessionId, envelopes: [], halves: [], occurredAt: [] };
    for (const event of events) {
      const envelope = toEnvelope(event, newEventId(), 0);
      const json = JSON.stringify(envelope);
      // The envelope starts {"id":"evt_<hex>","seq":0,… so the first marker is the envelope's own.
      const at = json.indexOf(SEQ_MARKER);
      block.envelopes.push(envelope);
      block.halves.push(json.slice(0, at + SEQ_MARKER.length - 1), json.slice(at + SEQ_MARKER.length));
      block.occurredAt.push(event.occurredAt.getTime());
    }
    return this.appends.add(block);
  }

  async read(sessionId: string, afterSeq: number, limit: number): Promise<EventEnvelope[]> {
    const start = `${Math.max(0, Math.floor(afterSeq)) + 1}-0`;
    const entries = await this.redis.xrange(this.streamKey(sessionId), start, '+', 'COUNT', eventPageLimit(limit));
    return entries.map(([, fields]) => parseStoredEnvelope(fields[3] ?? 'null'));
  }

  async readTimeRange(query: EventRangeQuery): Promise<EventRangePage> {
    const { since, until } = rangeBounds(query);
    const limit = eventPageLimit(query.limit);
    const cursor = query.cursor === undefined ? null : decodeRangeCursor(query.cursor);
    // A session's score in the index lags its last append by up to the refresh interval.
    const candidates = query.sessionId ? [query.sessionId] : await this.redis.zrangebyscore(this.indexKey(), since - this.refresh.intervalMs, '+inf');
    const ids = candidates.filter((id) => !cursor || compareSessionIds(id, cursor.sessionId) >= 0).sort(compareSessionIds);
    const found: { sessionId: string; envelope: EventEnvelope }[] = [];
    for (const sessionId of ids) {
      let start = cursor?.sessionId === sessionId ? `(${cursor.seq}-0` : '-';
      for (;;) {
        const reply = (await RANGE.run(this.redis, [this.streamKey(sessionId)], [start, since, Number.isFinite(until) ? until : '', limit + 1 - found.length, RANGE_BUDGET])) as [
          number,
          string,
          ...string[],
        ];
        const [done, lastId, ...rows] = reply;
        for (const raw of rows) found.push({ sessionId, envelope: parseStoredEnvelope(raw) });
        if (done === 1 || found.length > limit || lastId === '') break;
        start = `(${lastId}`;
      }
      if (found.length > limit) break;
    }
    const data = found.slice(0, limit);
    const last = data[data.length - 1];
    return { data: data.map((f) => f.envelope), nextCursor: found.length > limit && last ? encodeRangeCursor({ sessionId: last.sessionId, seq: last.envelope.seq }) : null };
  }

  async lastSeq(sessionId: string): Promise<number> {
    const value = await this.redis.get(this.seqKey(sessionId));
    return value === null ? 0 : Number(value);
  }

  async deleteSession(sessionId: string): Promise<number> {
    const removed = Number(await DELETE.run(this.redis, [this.streamKey(sessionId), this.indexKey()], [sessionId]));
    this.refresh.forget(this.streamKey(sessionId));
    return removed;
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }
}

import type { Redis } from 'ioredis';
import { LUA_PCALL_ENTRY, LuaScript } from './lua-script.js';
import type { RefreshSchedule } from './refresh-schedule.js';
import { ScriptBatch } from './script-batch.js';

/**
 * The message store's writes of one turn, in one script. ARGV: TTL, the indexes' TTL, cutoff (ms),
 * number of steps, then per step its kind and fields; KEYS: per step, its keys. Steps run in order,
 * each under pcall, so one whose keys refuse (a key of the wrong type) fails alone with the error's text:
 * - `i` insert — fields: has mapping ('1' or ''), due, JSON, score, id, payload key or '', payload,
 *   '1' when it must not be inserted if its mapping exists; keys: record, its three indexes, [its
 *   WhatsApp id mapping]. SET NX PX of the JSON, ZADD to the indexes, SET of the mapping and of the
 *   payload. 1 inserted, 0 the id (or, unless-known, the mapping) exists.
 * - `c` compare-and-set — fields: has mapping, due, expected JSON, JSON, id, score, '1' when the
 *   chat changed; keys: those of an insert. -1 the record is gone, 0 it changed meanwhile (it is not
 *   the expected JSON), else 1: the JSON is written with the TTL, the indexes re-add the id when the chat
 *   changed (which indexes the new chatId), the mapping is written.
 * - `d` delete — no fields; keys: the key to delete. 1.
 * `due` says, one character per index ('1' or '0'), which of the step's three indexes are due for a
 * refresh (see RefreshSchedule). After the steps, each due index an insert touched is trimmed of
 * members older than the cutoff, and each due index gets the indexes' TTL — once per script.
 */
const WRITE_MANY = new LuaScript(`${LUA_PCALL_ENTRY}
local ttl, indexTtl, cutoff = ARGV[1], ARGV[2], '(' .. ARGV[3]
local out, touched, grown = {}, {}, {}
local k, a = 1, 5
local function insert(mapped, due, json, score, id, payloadKey, payload, unlessKnown)
  local mapping = mapped == '1' and KEYS[k + 4] or nil
  if unlessKnown == '1' and mapping and redis.call('EXISTS', mapping) == 1 then return 0 end
  if not redis.call('SET', KEYS[k], json, 'NX', 'PX', ttl) then return 0 end
  for i = 1, 3 do
    local index = KEYS[k + i]
    redis.call('ZADD', index, score, id)
    if string.byte(due, i) == 49 then
      touched[index] = true
      grown[index] = true
    end
  end
  if mapping then redis.call('SET', mapping, id, 'PX', ttl) end
  if payloadKey ~= '' then redis.call('SET', payloadKey, payload, 'PX', ttl) end
  return 1
end
local function cas(mapped, due, expected, json, id, score, chatChanged)
  local current = redis.call('GET', KEYS[k])
  if not current then return -1 end
  if current ~= expected then return 0 end
  redis.call('SET', KEYS[k], json, 'PX', ttl)
  for i = 1, 3 do
    local index = KEYS[k + i]
    if chatChanged == '1' then redis.call('ZADD', index, score, id) end
    if string.byte(due, i) == 49 then touched[index] = true end
  end
  if mapped == '1' then redis.call('SET', KEYS[k + 4], id, 'PX', ttl) end
  return 1
end
local function del(key)
  redis.call('DEL', key)
  return 1
end
for s = 1, tonumber(ARGV[4]) do
  local kind, mapped = ARGV[a], ARGV[a + 1]
  if kind == 'i' then
    out[s] = entry(pcall(insert, mapped, ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]))
    a = a + 9
  elseif kind == 'c' then
    out[s] = entry(pcall(cas, mapped, ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]))
    a = a + 8
  else
    out[s] = entry(pcall(del, KEYS[k]))
    a = a + 1
  end
  k = k + (kind == 'd' and 1 or (mapped == '1' and 5 or 4))
end
for index in pairs(grown) do redis.call('ZREMRANGEBYSCORE', index, '-inf', cutoff) end
for index in pairs(touched) do redis.call('PEXPIRE', index, indexTtl) end
return out`);

/** Steps sent in one WRITE_MANY script at most (more in one turn start another). */
const MAX_PER_SCRIPT = 256;

/** Record, its three indexes, then its WhatsApp id mapping when it has one. */
type RecordKeys = string[];

export interface Insert {
  kind: 'insert';
  keys: RecordKeys;
  json: string;
  score: number;
  id: string;
  /** '' for none. */
  payloadKey: string;
  payload: string;
  /** Not inserted when the WhatsApp id mapping exists (an inbound message seen before). */
  unlessKnown: boolean;
}

export interface CompareAndSet {
  kind: 'cas';
  keys: RecordKeys;
  /** The JSON the writer read (compared whole: cheaper than hashing it on both sides, measured). */
  expected: string;
  json: string;
  id: string;
  score: number;
  chatChanged: boolean;
}

export interface Delete {
  kind: 'del';
  key: string;
}

export type RecordWrite = Insert | CompareAndSet | Delete;

/** 1 done, 0 not done (insert: the id or mapping exists; compare-and-set: the record changed since it was read), -1 the record is gone. */
export type WriteOutcome = 1 | 0 | -1;

function describe(step: RecordWrite): string {
  return step.kind === 'del' ? `deleting '${step.key}'` : `${step.kind === 'insert' ? 'inserting' : 'updating'} message '${step.id}'`;
}

/**
 * Group commit of the message store's writes: the inserts (the accepts of the HTTP requests read
 * in one turn), compare-and-sets (status moves, attempts, WhatsApp ids — a send moves its record
 * four times, and with many sessions sending these come from many chains at once) and payload
 * deletes asked for in one turn of the event loop leave together at its end in one script — one
 * socket write and one reply for all of them. Each write is answered from its own entry of the
 * reply (a script that fails fails them all); a compare-and-set that lost a race is retried by its
 * caller. A write waits at most for the rest of its turn. The history indexes a write touches are
 * trimmed and given their TTL (MESSAGE_TTL + the schedule's interval) when `refresh` says they are
 * due, not by every write.
 */
export class RedisMessageWrites {
  private readonly batch: ScriptBatch<RecordWrite, WriteOutcome>;

  constructor(redis: Redis, ttlMs: number, refresh: RefreshSchedule) {
    this.batch = new ScriptBatch({
      maxPerScript: MAX_PER_SCRIPT,
      // Sent from a microtask of the turn's last phase: the connection (CoalescingRedis) uncorks in
      // a nextTick, which then waits for the microtasks to drain — so the commands that inserts'
      // `alongside` callbacks send a few microtasks later (BullMQ's job add) leave in the same
      // socket write with the script.
      schedule: (flush) => setImmediate(() => queueMicrotask(flush)),
      send: async (steps) => {
        const now = Date.now();
        const keys: string[] = [];
        const args: (string | number)[] = [ttlMs, ttlMs + refresh.intervalMs, now - ttlMs, steps.length];
        const round = refresh.round(now);
        for (const step of steps) {
          if (step.kind === 'del') {
            keys.push(step.key);
            args.push('d');
            continue;
          }
          keys.push(...step.keys);
          const mapped = step.keys.length === 5 ? '1' : '';
          // Two lookups, not three: the session's index of all records is refreshed with each of its
          // two direction indexes (every record is in both), so it is never refreshed less often than they are.
          const byDirection = round.flag(step.keys[3]);
          const indexes = byDirection + round.flag(step.keys[2]) + byDirection;
          if (step.kind === 'insert') args.push('i', mapped, indexes, step.json, step.score, step.id, step.payloadKey, step.payload, step.unlessKnown ? '1' : '');
          else args.push('c', mapped, indexes, step.expected, step.json, step.id, step.score, step.chatChanged ? '1' : '');
        }
        try {
          return await WRITE_MANY.run(redis, keys, args);
        } catch (error) {
          round.undo();
          throw error;
        }
      },
      settle: (step, result) => {
        if (result === 1 || result === 0 || result === -1) return result;
        throw new Error(`${describe(step)} failed: ${String(result)}`);
      },
    });
  }

  /** True when inserted, false when the id (or, `unlessKnown`, the WhatsApp id mapping) exists. `alongside`: see ScriptBatch.add. */
  async insert(write: Omit<Insert, 'kind'>, alongside?: () => void): Promise<boolean> {
    return (await this.batch.add({ kind: 'insert', ...write }, alongside)) === 1;
  }

  /** 1 written, 0 the record changed since it was read, -1 the record is gone. */
  compareAndSet(write: Omit<CompareAndSet, 'kind'>): Promise<WriteOutcome> {
    return this.batch.add({ kind: 'cas', ...write });
  }

  async delete(key: string): Promise<void> {
    await this.batch.add({ kind: 'del', key });
  }
}

import type { Redis } from 'ioredis';
import { LUA_PCALL_ENTRY, LuaScript } from './lua-script.js';
import { ScriptBatch } from './script-batch.js';

/**
 * Inserts records: per record SET NX PX of its JSON, ZADD to its three history indexes, SET of its
 * WhatsApp id mapping and of its payload (when given); then each index touched is trimmed of
 * members older than the retention and given the TTL once. ARGV: TTL, cutoff (ms), number of
 * records, then per record: its number of keys (4, or 5 with the mapping), JSON, score, id,
 * payload key or '', payload, '1' when it must not be inserted if its mapping exists. KEYS per
 * record: record, the three indexes, [mapping]. Each record runs under pcall, so one whose keys
 * refuse (a key of the wrong type) fails alone: the reply holds, per record, 1 (inserted), 0 (id
 * or mapping known) or the error text.
 */
const INSERT_MANY = new LuaScript(`${LUA_PCALL_ENTRY}
local ttl, cutoff = ARGV[1], '(' .. ARGV[2]
local out, touched = {}, {}
local k, a = 1, 4
local function insert(nkeys, json, score, id, payloadKey, payload, unlessKnown)
  local mapping = nkeys == 5 and KEYS[k + 4] or nil
  if unlessKnown == '1' and mapping and redis.call('EXISTS', mapping) == 1 then return 0 end
  if not redis.call('SET', KEYS[k], json, 'NX', 'PX', ttl) then return 0 end
  for i = 1, 3 do
    local index = KEYS[k + i]
    redis.call('ZADD', index, score, id)
    touched[index] = true
  end
  if mapping then redis.call('SET', mapping, id, 'PX', ttl) end
  if payloadKey ~= '' then redis.call('SET', payloadKey, payload, 'PX', ttl) end
  return 1
end
for r = 1, tonumber(ARGV[3]) do
  local nkeys = tonumber(ARGV[a])
  out[r] = entry(pcall(insert, nkeys, ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]))
  k = k + nkeys
  a = a + 7
end
for index in pairs(touched) do
  redis.call('ZREMRANGEBYSCORE', index, '-inf', cutoff)
  redis.call('PEXPIRE', index, ttl)
end
return out`);

/** Records sent in one INSERT_MANY script at most (more in one turn start another). */
const MAX_PER_SCRIPT = 256;

export interface PendingInsert {
  /** Record, its three indexes, then its WhatsApp id mapping when it has one. */
  keys: string[];
  json: string;
  score: number;
  id: string;
  payloadKey: string;
  payload: string;
  unlessKnown: boolean;
}

/**
 * Group commit of message inserts: the inserts asked for in one turn of the event loop (the
 * accepts of the HTTP requests read in it) leave together in one script at the end of the turn —
 * one socket write and one reply for all of them instead of one each. An insert waits at most
 * for the rest of its turn.
 */
export class RedisMessageInserts {
  private readonly batch: ScriptBatch<PendingInsert, boolean>;

  constructor(redis: Redis, ttlMs: number) {
    this.batch = new ScriptBatch({
      maxPerScript: MAX_PER_SCRIPT,
      schedule: (flush) => setImmediate(flush),
      send: (entries) => {
        const keys: string[] = [];
        const args: (string | number)[] = [ttlMs, Date.now() - ttlMs, entries.length];
        for (const entry of entries) {
          keys.push(...entry.keys);
          args.push(entry.keys.length, entry.json, entry.score, entry.id, entry.payloadKey, entry.payload, entry.unlessKnown ? '1' : '');
        }
        return INSERT_MANY.run(redis, keys, args);
      },
      settle: (entry, result) => {
        if (result === 1 || result === 0) return result === 1;
        throw new Error(`inserting message '${entry.id}' failed: ${String(result)}`);
      },
    });
  }

  /** True when inserted, false when the id (or, `unlessKnown`, the WhatsApp id mapping) exists. */
  insert(entry: PendingInsert): Promise<boolean> {
    return this.batch.add(entry);
  }
}

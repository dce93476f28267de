import type { Redis } from 'ioredis';
import { LUA_PCALL_ENTRY, LuaScript } from './lua-script.js';
import { ScriptBatch } from './script-batch.js';

/**
 * Record writes of one turn, in one script. ARGV: TTL, number of steps, then per step its kind and
 * fields. A step is either
 * - `c` (compare-and-set), fields: has mapping ('1' or ''), expected SHA1, JSON, id, score, '1'
 *   when the chat changed; keys: record, its three indexes, [its WhatsApp id mapping]. -1 when the
 *   record is gone, 0 when it changed meanwhile (its SHA1 differs), else 1: the JSON is written
 *   with the TTL, the indexes re-add the id when the chat changed (which indexes the new chatId),
 *   the mapping is written;
 * - `d` (delete), no fields; keys: the key to delete. 1.
 * Each index touched gets the TTL once per script, after the steps. Steps run in order under
 * pcall: one whose keys refuse (a key of the wrong type) fails alone with the error's text.
 */
const UPDATE_MANY = new LuaScript(`${LUA_PCALL_ENTRY}
local ttl = ARGV[1]
local out, touched = {}, {}
local k, a = 1, 3
local function cas(mapped, expected, json, id, score, chatChanged)
  local current = redis.call('GET', KEYS[k])
  if not current then return -1 end
  if redis.sha1hex(current) ~= expected then return 0 end
  redis.call('SET', KEYS[k], json, 'PX', ttl)
  for i = 1, 3 do
    local index = KEYS[k + i]
    if chatChanged == '1' then redis.call('ZADD', index, score, id) end
    touched[index] = true
  end
  if mapped == '1' then redis.call('SET', KEYS[k + 4], id, 'PX', ttl) end
  return 1
end
local function del(key)
  redis.call('DEL', key)
  return 1
end
for s = 1, tonumber(ARGV[2]) do
  if ARGV[a] == 'c' then
    local mapped = ARGV[a + 1]
    out[s] = entry(pcall(cas, mapped, ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]))
    k = k + (mapped == '1' and 5 or 4)
    a = a + 7
  else
    out[s] = entry(pcall(del, KEYS[k]))
    k = k + 1
    a = a + 1
  end
end
for index in pairs(touched) do redis.call('PEXPIRE', index, ttl) end
return out`);

/** Steps sent in one UPDATE_MANY script at most (more in one turn start another). */
const MAX_PER_SCRIPT = 256;

export interface CompareAndSet {
  kind: 'cas';
  /** Record, its three indexes, then its WhatsApp id mapping when it has one. */
  keys: string[];
  /** SHA1 (hex) of the JSON the writer read. */
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

export type RecordWrite = CompareAndSet | Delete;

/** 1 written, 0 the record changed since it was read, -1 the record is gone (a delete answers 1). */
type Written = 1 | 0 | -1;

/**
 * Group commit of the message store's writes after insert: the compare-and-sets (status moves,
 * attempts, WhatsApp ids) and payload deletes asked for in one turn of the event loop leave
 * together in one script at its end, as the inserts do (`redis-message-inserts.ts`). A send moves
 * its record four times (attempt begun, sent, delivered, read) and drops its payload; with many
 * sessions sending at once these come from many chains in the same turn. Each write is answered
 * from its own entry of the reply; a compare-and-set that lost a race is retried by its caller as
 * before. A write waits at most for the rest of its turn.
 */
export class RedisMessageUpdates {
  private readonly batch: ScriptBatch<RecordWrite, Written>;

  constructor(redis: Redis, ttlMs: number) {
    this.batch = new ScriptBatch({
      maxPerScript: MAX_PER_SCRIPT,
      schedule: (flush) => setImmediate(flush),
      send: (steps) => {
        const keys: string[] = [];
        const args: (string | number)[] = [ttlMs, steps.length];
        for (const step of steps) {
          if (step.kind === 'del') {
            keys.push(step.key);
            args.push('d');
            continue;
          }
          keys.push(...step.keys);
          args.push('c', step.keys.length === 5 ? '1' : '', step.expected, step.json, step.id, step.score, step.chatChanged ? '1' : '');
        }
        return UPDATE_MANY.run(redis, keys, args);
      },
      settle: (step, result) => {
        if (result === 1 || result === 0 || result === -1) return result;
        throw new Error(`${step.kind === 'del' ? `deleting '${step.key}'` : `updating message '${step.id}'`} failed: ${String(result)}`);
      },
    });
  }

  compareAndSet(write: Omit<CompareAndSet, 'kind'>): Promise<Written> {
    return this.batch.add({ kind: 'cas', ...write });
  }

  delete(key: string): Promise<void> {
    return this.batch.add({ kind: 'del', key }).then(() => undefined);
  }
}

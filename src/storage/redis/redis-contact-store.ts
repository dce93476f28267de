import type { Redis } from 'ioredis';
import { LuaScript } from './lua-script.js';
import type { Contact, ContactPage, ContactQuery, ContactStore, ContactSyncState } from '../contact-store.js';
import { contactPageLimit, contactSearchNeedle, contactSearchText, encodeContactCursor, requireContactCursor, uniqueContacts } from '../contact-store.js';

/**
 * One step of a filtered scan in id order: from `start` (a ZRANGEBYLEX bound), examines at most
 * `budget` ids, keeps those whose search text contains `needle` (plain find; '' keeps all) until
 * `want` matched, and returns { done, lastExaminedId, json... }.
 */
const SCAN = new LuaScript(`
local idsKey, searchKey, dataKey = KEYS[1], KEYS[2], KEYS[3]
local start, needle, want, budget = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local found, examined, last, done = {}, 0, '', 0
while #found < want and examined < budget do
  local ids = redis.call('ZRANGEBYLEX', idsKey, start, '+', 'LIMIT', 0, math.min(250, budget - examined))
  if #ids == 0 then done = 1 break end
  local texts = {}
  if needle ~= '' then texts = redis.call('HMGET', searchKey, unpack(ids)) end
  for i, id in ipairs(ids) do
    examined = examined + 1
    last = id
    if needle == '' or (texts[i] and string.find(texts[i], needle, 1, true)) then
      found[#found + 1] = id
      if #found >= want then break end
    end
  end
  start = '(' .. last
end
local rows = {}
if #found > 0 then rows = redis.call('HMGET', dataKey, unpack(found)) end
local out = { done, last }
for _, row in ipairs(rows) do if row then out[#out + 1] = row end end
return out`);

/** How many ids one SCAN step examines at most (a Lua script blocks Redis while it runs). */
const SCAN_BUDGET = 2_000;
/** Fields per HSET/ZADD command inside the replace transaction. */
const CHUNK = 500;

/**
 * Contacts in Redis, per session: `<prefix>:contacts:<sessionId>:data` (hash id → JSON),
 * `…:search` (hash id → lower-cased search text), `…:ids` (sorted set, all scores 0, for id
 * order and ZRANGEBYLEX keyset pages) and `…:state` (JSON of the last sync). A replace is one
 * MULTI/EXEC (delete, then write everything), so readers never see a half-written set. No TTL:
 * the cache lives until the next sync or until the session is deleted. The connection belongs to
 * the caller.
 */
export class RedisContactStore implements ContactStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private keys(sessionId: string): { data: string; search: string; ids: string; state: string } {
    const base = `${this.prefix}:contacts:${sessionId}`;
    return { data: `${base}:data`, search: `${base}:search`, ids: `${base}:ids`, state: `${base}:state` };
  }

  async list(sessionId: string, query: ContactQuery = {}): Promise<ContactPage> {
    const limit = contactPageLimit(query.limit);
    const after = requireContactCursor(query.cursor);
    const needle = contactSearchNeedle(query.query);
    const keys = this.keys(sessionId);
    const want = limit + 1;
    const found: Contact[] = [];
    let start = after === null ? '-' : `(${after}`;
    for (;;) {
      const reply = (await SCAN.run(this.redis, [keys.ids, keys.search, keys.data], [start, needle, String(want - found.length), String(SCAN_BUDGET)])) as [
        number,
        string,
        ...string[],
      ];
      const [done, last, ...rows] = reply;
      for (const row of rows) found.push(JSON.parse(row) as Contact);
      if (done === 1 || found.length >= want || last === '') break;
      start = `(${last}`;
    }
    const data = found.slice(0, limit);
    const lastContact = data[data.length - 1];
    return { data, nextCursor: found.length > limit && lastContact ? encodeContactCursor(lastContact.id) : null };
  }

  async syncState(sessionId: string): Promise<ContactSyncState | null> {
    const raw = await this.redis.get(this.keys(sessionId).state);
    return raw === null ? null : (JSON.parse(raw) as ContactSyncState);
  }

  async replace(sessionId: string, contacts: readonly Contact[], meta: { accountId: string | null; syncedAt?: string | undefined }): Promise<ContactSyncState> {
    const unique = uniqueContacts(contacts);
    const state: ContactSyncState = { accountId: meta.accountId, count: unique.length, syncedAt: meta.syncedAt ?? new Date().toISOString() };
    const keys = this.keys(sessionId);
    const multi = this.redis.multi().del(keys.data, keys.search, keys.ids);
    for (let i = 0; i < unique.length; i += CHUNK) {
      const chunk = unique.slice(i, i + CHUNK);
      multi.hset(keys.data, ...chunk.flatMap((c) => [c.id, JSON.stringify(c)]));
      multi.hset(keys.search, ...chunk.flatMap((c) => [c.id, contactSearchText(c)]));
      multi.zadd(keys.ids, ...chunk.flatMap((c) => ['0', c.id]));
    }
    multi.set(keys.state, JSON.stringify(state));
    const results = await multi.exec();
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (!results || failed) throw failed ?? new Error(`replacing the contacts of session ${sessionId} was aborted`);
    return state;
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    const keys = this.keys(sessionId);
    const removed = await this.redis.del(keys.data, keys.search, keys.ids, keys.state);
    return removed > 0;
  }

  async close(): Promise<void> {
    // The connection is owned by the storage plugin, which quits it.
  }
}

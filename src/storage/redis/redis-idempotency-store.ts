import type { Redis } from 'ioredis';
import { LuaScript } from './lua-script.js';
import type { IdempotencyReservation, IdempotencyStore } from '../idempotency-store.js';

/** Claims the key (SET NX PX) or returns what holds it, in one atomic step. */
const RESERVE = new LuaScript(`
local value = ARGV[1] .. ' ' .. ARGV[2]
if redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[3]) then return { 'reserved' } end
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
  return { 'reserved' }
end
local space = string.find(held, ' ', 1, true)
if string.sub(held, 1, space - 1) == ARGV[1] then return { 'replay', string.sub(held, space + 1) } end
return { 'conflict' }`);

/**
 * Reservations in Redis: `<prefix>:idem:<sessionId>:<key>` = `<bodyHash> <messageId>` with a TTL
 * (`ttlMs`, 24 h by the contract), claimed by a Lua script so parallel duplicates resolve to one
 * `reserved`. Body hashes must not contain spaces (hex or base64 digests). The connection belongs
 * to the caller.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(sessionId: string, key: string): string {
    return `${this.prefix}:idem:${sessionId}:${key}`;
  }

  async reserve(sessionId: string, key: string, bodyHash: string, messageId: string, ttlMs: number): Promise<IdempotencyReservation> {
    if (bodyHash.includes(' ')) throw new RangeError('bodyHash must not contain spaces');
    const reply = (await RESERVE.run(this.redis, [this.key(sessionId, key)], [bodyHash, messageId, String(Math.max(1, Math.trunc(ttlMs)))])) as string[];
    const [status, held] = reply;
    if (status === 'reserved') return { status: 'reserved' };
    if (status === 'replay' && held !== undefined) return { status: 'replay', messageId: held };
    return { status: 'conflict' };
  }

  async release(sessionId: string, key: string): Promise<boolean> {
    return (await this.redis.del(this.key(sessionId, key))) === 1;
  }

  async close(): Promise<void> {
    // The connection is owned by the caller.
  }
}

import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { LuaScript } from '../storage/redis/lua-script.js';

/**
 * Adds a batch's count to a window counter: INCRBY, and PEXPIRE when this batch opened the window
 * (or the key lost its TTL). Returns { counter after the batch, milliseconds left in the window }.
 */
const INCREMENT = new LuaScript(`
local n = tonumber(ARGV[1])
local value = redis.call('INCRBY', KEYS[1], n)
local ttl = -1
if value > n then ttl = redis.call('PTTL', KEYS[1]) end
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return { value, ttl }`);

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1];

/** The INCREMENT script's reply: { counter, milliseconds left }. */
function isCountReply(reply: unknown): reply is [number, number] {
  return Array.isArray(reply) && reply.length === 2 && typeof reply[0] === 'number' && typeof reply[1] === 'number';
}

/** Longest an increment answered from a known window waits before it is sent to Redis. */
export const SYNC_INTERVAL_MS = 20;

/** Most keys whose window this process tracks (ended ones are pruned first); past it, a new key's requests all wait for Redis. */
export const MAX_TRACKED_KEYS = 10_000;

/** What this process knows of one key's window. */
interface Window {
  /** The counter as Redis last answered it (every instance's requests up to that reply). */
  counted: number;
  /** This process's requests since then: answered, not yet in a reply. */
  unconfirmed: number;
  /** Not yet sent to Redis: requests answered from the window (`unconfirmed`) or waiting for the reply. */
  unsent: number;
  /** Requests waiting for the reply (no window known yet), in arrival order. */
  waiters: IncrCallback[];
  timeWindow: number;
  /** When the window ends, on this process's clock: when the last reply's command was sent + the PTTL it answered. */
  endsAt: number;
}

/**
 * @fastify/rate-limit calls `child()` with the route's merged limit settings, the route under
 * `routeInfo` (its typings say the route options themselves); the stock store keys by
 * `routeInfo`'s method and url, and so does this one.
 */
function routeKey(params: object): string {
  const info = 'routeInfo' in params && typeof params.routeInfo === 'object' && params.routeInfo !== null ? params.routeInfo : params;
  const method = 'method' in info ? info.method : undefined;
  const url = 'url' in info && typeof info.url === 'string' ? info.url : '';
  const methods = Array.isArray(method) ? method.join(',') : typeof method === 'string' ? method : '';
  return `${methods}${url}-`;
}

/**
 * A Redis store for @fastify/rate-limit that keeps the request path free of Redis round trips:
 * - the first request of a window waits for Redis (INCRBY); its reply tells this process the
 *   shared count and when the window ends;
 * - later requests of the window are counted from what this process knows (Redis' last count
 *   plus its own requests since) and answered at once; their increments go to Redis together,
 *   one script per key, with the next batch: at the end of the turn when a request waits for
 *   Redis, otherwise at most {@link SYNC_INTERVAL_MS} later (a steady load costs one script per
 *   key per interval, not one per turn); each reply brings the other instances' requests in.
 * One instance counts exactly as the stock store (one INCR per request) does. Several instances
 * sharing Redis each see the others' requests up to one interval and one round trip late, so
 * together they can let through a little more than the limit: at most what the others accept
 * meanwhile.
 * A Redis error reaches the requests waiting for it (the plugin's skipOnError lets them through)
 * and makes the next request wait for Redis again.
 */
export function batchedRedisRateLimitStore(redis: Redis, nameSpace: string): FastifyRateLimitStoreCtor {
  class BatchedStore implements FastifyRateLimitStore {
    private readonly windows = new Map<string, Window>();
    /** Windows with increments to send with the next batch. */
    private readonly dirty = new Map<string, Window>();
    /** The next batch: at the end of this turn (requests wait for it), or after SYNC_INTERVAL_MS. */
    private immediate: NodeJS.Immediate | null = null;
    private timer: NodeJS.Timeout | null = null;
    /** `nameSpace`, plus the route for a route's own limit (see `child`). */
    private keyPrefix = nameSpace;

    incr(key: string, callback: IncrCallback, timeWindow: number): void {
      const redisKey = this.keyPrefix + key;
      const now = Date.now();
      let window = this.windows.get(redisKey);
      if (window && window.waiters.length === 0 && now >= window.endsAt && window.unconfirmed === 0) {
        this.windows.delete(redisKey);
        window = undefined;
      }
      if (window && window.waiters.length === 0 && now < window.endsAt) {
        // Known window: answered now, sent with the turn's batch.
        window.unconfirmed += 1;
        window.unsent += 1;
        callback(null, { current: window.counted + window.unconfirmed, ttl: window.endsAt - now });
      } else if (window) {
        // A reply is awaited (window unknown or ended): wait for the next one.
        window.waiters.push(callback);
        window.unsent += 1;
      } else {
        window = { counted: 0, unconfirmed: 0, unsent: 1, waiters: [callback], timeWindow, endsAt: 0 };
        if (this.windows.size >= MAX_TRACKED_KEYS) this.prune(now);
        if (this.windows.size < MAX_TRACKED_KEYS) this.windows.set(redisKey, window);
      }
      this.dirty.set(redisKey, window);
      this.schedule(window.waiters.length > 0);
    }

    /** Forgets the windows that ended with nothing in flight. */
    private prune(now: number): void {
      for (const [redisKey, window] of this.windows) {
        if (now >= window.endsAt && window.unconfirmed === 0 && window.waiters.length === 0) this.windows.delete(redisKey);
      }
    }

    child(params: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      const store = new BatchedStore();
      store.keyPrefix = this.keyPrefix + routeKey(params);
      return store;
    }

    /**
     * Requests waiting for a reply are sent at the end of this turn; increments already answered
     * from a known window can wait: they leave with the next batch, at the latest
     * {@link SYNC_INTERVAL_MS} later — under a steady load one script per key per interval, not per turn.
     */
    private schedule(urgent: boolean): void {
      if (this.immediate) return;
      if (urgent) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.immediate = setImmediate(() => this.flush());
      } else {
        this.timer ??= setTimeout(() => this.flush(), SYNC_INTERVAL_MS).unref();
      }
    }

    private flush(): void {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate = null;
      for (const [redisKey, window] of this.dirty) this.send(redisKey, window);
      this.dirty.clear();
    }

    /** Sends the window's unsent increments; the reply answers its waiters and refreshes the window. */
    private send(redisKey: string, window: Window): void {
      const n = window.unsent;
      const waiters = window.waiters;
      const answered = n - waiters.length;
      window.unsent = 0;
      window.waiters = [];
      // The window's end is counted from the send: never later than Redis' own expiry.
      const sentAt = Date.now();
      INCREMENT.run(redis, [redisKey], [n, window.timeWindow])
        .then((reply) => {
          if (!isCountReply(reply)) throw new Error(`unexpected rate-limit reply: ${JSON.stringify(reply)}`);
          return reply;
        })
        .then(
          ([value, ttl]) => {
            window.unconfirmed -= answered;
            // Waiters come after the batch's already-answered requests in the count (those were
            // counted first, locally); each waiter gets its own place.
            const first = value - waiters.length + 1;
            window.counted = value;
            window.endsAt = sentAt + ttl;
            waiters.forEach((callback, i) => {
              callback(null, { current: first + i, ttl });
            });
          },
          (error: unknown) => {
            // Forget the window: the next request waits for Redis (and meets the error, if it lasts).
            if (this.windows.get(redisKey) === window) this.windows.delete(redisKey);
            const failure = error instanceof Error ? error : new Error(String(error));
            for (const callback of waiters) callback(failure);
          },
        );
    }
  }
  return BatchedStore;
}

import type { Redis } from 'ioredis';
import type { SessionRecord } from '../../sessions/session.js';
import type { SessionRegistry } from '../session-registry.js';
import { ScriptBatch } from './script-batch.js';

/** A `put` waiting for the end of its turn. */
interface PendingPut {
  id: string;
  /** The record in its state when `put` was called. */
  json: string;
  score: number;
}

/** Puts written in one MULTI at most (more in one turn start another). */
const MAX_PUTS_PER_MULTI = 1_000;

/**
 * Session records in one Redis hash (`<prefix>:sessions`, field = id, value = JSON) plus a sorted
 * set by creation time for a stable listing order. The connection belongs to the caller.
 *
 * The puts of one turn leave together in one MULTI (one HSET of all the records, one ZADD NX):
 * the session stats flush writes every busy session once a second, and a MULTI each was a socket
 * write each — 100 busy sessions cost ~1 % of the gateway's CPU in P2 (docs/benchmarks.md §16).
 */
export class RedisSessionRegistry implements SessionRegistry {
  private readonly hashKey: string;
  private readonly orderKey: string;
  private readonly puts: ScriptBatch<PendingPut, void>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.hashKey = `${prefix}:sessions`;
    this.orderKey = `${prefix}:sessions:order`;
    this.puts = new ScriptBatch<PendingPut, void>({
      maxPerScript: MAX_PUTS_PER_MULTI,
      schedule: (flush) => process.nextTick(flush),
      // One HSET of every record and one ZADD NX; a later put of the same id wins (HSET sets fields in order).
      send: async (batch) => {
        const fields: string[] = [];
        const members: (string | number)[] = [];
        for (const put of batch) {
          fields.push(put.id, put.json);
          members.push(put.score, put.id);
        }
        const replies = await this.redis.multi().hset(this.hashKey, ...fields).zadd(this.orderKey, 'NX', ...members).exec();
        const failed = replies?.find(([error]) => error !== null)?.[0];
        if (failed) throw failed;
      },
      settle: () => undefined,
    });
  }

  async get(id: string): Promise<SessionRecord | null> {
    const raw = await this.redis.hget(this.hashKey, id);
    return raw === null ? null : (JSON.parse(raw) as SessionRecord);
  }

  async list(): Promise<SessionRecord[]> {
    const [ids, all] = await Promise.all([this.redis.zrange(this.orderKey, 0, -1), this.redis.hgetall(this.hashKey)]);
    const records: SessionRecord[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      const raw = all[id];
      if (raw !== undefined) {
        records.push(JSON.parse(raw) as SessionRecord);
        seen.add(id);
      }
    }
    // Records written without an order entry (should not happen) still show, last.
    for (const [id, raw] of Object.entries(all)) if (!seen.has(id)) records.push(JSON.parse(raw) as SessionRecord);
    return records;
  }

  async count(): Promise<number> {
    return this.redis.hlen(this.hashKey);
  }

  async create(record: SessionRecord): Promise<boolean> {
    const created = await this.redis.hsetnx(this.hashKey, record.id, JSON.stringify(record));
    if (created === 1) await this.redis.zadd(this.orderKey, Date.parse(record.createdAt), record.id);
    return created === 1;
  }

  put(record: SessionRecord): Promise<void> {
    // Serialised now: a later change of the caller's record must not leak into this write.
    return this.puts.add({ id: record.id, json: JSON.stringify(record), score: Date.parse(record.createdAt) });
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.redis.multi().hdel(this.hashKey, id).zrem(this.orderKey, id).exec();
    const removed = result?.[0]?.[1];
    return removed === 1;
  }

  async close(): Promise<void> {
    // The connection is owned by the storage plugin, which quits it.
  }
}

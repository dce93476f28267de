import type { Redis } from 'ioredis';
import type { SessionRecord } from '../../sessions/session.js';
import type { SessionRegistry } from '../session-registry.js';

/**
 * Session records in one Redis hash (`<prefix>:sessions`, field = id, value = JSON) plus a sorted
 * set by creation time for a stable listing order. The connection belongs to the caller.
 */
export class RedisSessionRegistry implements SessionRegistry {
  private readonly hashKey: string;
  private readonly orderKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.hashKey = `${prefix}:sessions`;
    this.orderKey = `${prefix}:sessions:order`;
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

  async put(record: SessionRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(this.hashKey, record.id, JSON.stringify(record))
      .zadd(this.orderKey, 'NX', Date.parse(record.createdAt), record.id)
      .exec();
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

import type { SessionRecord } from '../sessions/session.js';

/**
 * Where session records live. Two drivers implement it — `memory/memory-session-registry.ts`
 * (embedded mode, persisted to a JSON file under SESSIONS_PATH) and
 * `redis/redis-session-registry.ts` — and both pass `tests/contract/session-registry.contract.ts`
 * (run by `tests/contract/session-registry.test.ts`).
 * Every later store (messages, idempotency keys, event log, deliveries) follows the same pattern.
 */
export interface SessionRegistry {
  // ---- READS ----
  get(id: string): Promise<SessionRecord | null>;
  /** Every record, in creation order. */
  list(): Promise<SessionRecord[]>;
  count(): Promise<number>;

  // ---- WRITES ----
  /** Inserts when the id is free; false when a record with that id exists (atomic). */
  create(record: SessionRecord): Promise<boolean>;
  /** Inserts or replaces. */
  put(record: SessionRecord): Promise<void>;
  /** True when a record was removed. */
  delete(id: string): Promise<boolean>;

  // ---- LIFECYCLE ----
  /** Makes every accepted write durable and releases resources the driver owns. */
  close(): Promise<void>;
}

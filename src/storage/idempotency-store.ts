/**
 * `Idempotency-Key` reservations, scoped to a session. Two drivers implement it —
 * `memory/memory-idempotency-store.ts` (embedded mode: as long as the process, bounded) and
 * `redis/redis-idempotency-store.ts` (kept `ttlMs`, 24 h by the contract) — and both pass
 * `tests/contract/idempotency-store.contract.ts`.
 */
export interface IdempotencyStore {
  /**
   * Atomically claims `key` for `messageId`, or reports what holds it: `replay` with the original
   * message id when the body hash is the same, `conflict` when it differs. Of parallel duplicates
   * exactly one gets `reserved`.
   */
  reserve(sessionId: string, key: string, bodyHash: string, messageId: string, ttlMs: number): Promise<IdempotencyReservation>;
  /** Frees a reservation whose send was refused before a record existed; true when one was removed. */
  release(sessionId: string, key: string): Promise<boolean>;
  close(): Promise<void>;
}

export type IdempotencyReservation = { status: 'reserved' } | { status: 'replay'; messageId: string } | { status: 'conflict' };

/** How long the contract keeps a key: 24 h. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

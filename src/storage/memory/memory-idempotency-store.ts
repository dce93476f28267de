import type { IdempotencyReservation, IdempotencyStore } from '../idempotency-store.js';
import { dropOldest } from '../../bounded-map.js';

/** Keys kept by default; the oldest reserved are forgotten beyond it. */
export const DEFAULT_MAX_IDEMPOTENCY_KEYS = 100_000;

/**
 * Embedded-mode reservations: one Map, checked and written synchronously (so parallel duplicates
 * cannot interleave). Keys live as long as the process, as the contract says for embedded mode
 * (`ttlMs` is not applied), bounded to `maxKeys` (default 100,000): beyond it the oldest
 * reservation is forgotten.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly keys = new Map<string, { bodyHash: string; messageId: string }>();
  private readonly maxKeys: number;

  constructor(options: { maxKeys?: number } = {}) {
    this.maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_IDEMPOTENCY_KEYS);
  }

  async reserve(sessionId: string, key: string, bodyHash: string, messageId: string, _ttlMs: number): Promise<IdempotencyReservation> {
    const id = `${sessionId}\u0000${key}`;
    const held = this.keys.get(id);
    if (held) return held.bodyHash === bodyHash ? { status: 'replay', messageId: held.messageId } : { status: 'conflict' };
    this.keys.set(id, { bodyHash, messageId });
    dropOldest(this.keys, this.maxKeys);
    return { status: 'reserved' };
  }

  async release(sessionId: string, key: string): Promise<boolean> {
    return this.keys.delete(`${sessionId}\u0000${key}`);
  }

  async close(): Promise<void> {
    // nothing to release
  }
}

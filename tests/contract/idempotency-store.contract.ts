import { describe, expect, it } from 'vitest';
import type { IdempotencyStore } from '../../src/storage/idempotency-store.js';
import { IDEMPOTENCY_TTL_MS } from '../../src/storage/idempotency-store.js';

export interface IdempotencyStoreHarness {
  /** A fresh, empty store. */
  open(): Promise<IdempotencyStore>;
}

/** The expectations every IdempotencyStore driver meets (memory, Redis). */
export function describeIdempotencyStoreContract(name: string, harness: IdempotencyStoreHarness): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    const withStore = (fn: (store: IdempotencyStore) => Promise<void>) => async () => {
      const store = await harness.open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    it('reserves a key, replays the same body and refuses a different one', withStore(async (store) => {
      expect(await store.reserve('sales', 'k1', 'hash-a', 'msg_1', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'reserved' });
      expect(await store.reserve('sales', 'k1', 'hash-a', 'msg_2', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'replay', messageId: 'msg_1' });
      expect(await store.reserve('sales', 'k1', 'hash-b', 'msg_3', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'conflict' });
      expect(await store.reserve('sales', 'k1', 'hash-a', 'msg_4', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'replay', messageId: 'msg_1' });
    }));

    it('scopes keys to the session', withStore(async (store) => {
      expect(await store.reserve('sales', 'order:1', 'h', 'msg_1', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'reserved' });
      expect(await store.reserve('support', 'order:1', 'other', 'msg_2', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'reserved' });
      expect(await store.reserve('sales', 'order:2', 'h', 'msg_3', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'reserved' });
    }));

    it('releases a reservation so that the key can be used again', withStore(async (store) => {
      await store.reserve('sales', 'k', 'h', 'msg_1', IDEMPOTENCY_TTL_MS);
      expect(await store.release('sales', 'k')).toBe(true);
      expect(await store.release('sales', 'k')).toBe(false);
      expect(await store.reserve('sales', 'k', 'other', 'msg_2', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'reserved' });
      expect(await store.reserve('sales', 'k', 'other', 'msg_3', IDEMPOTENCY_TTL_MS)).toEqual({ status: 'replay', messageId: 'msg_2' });
    }));

    it('resolves parallel duplicates to exactly one reservation', withStore(async (store) => {
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.reserve('sales', 'same', 'h', `msg_${i}`, IDEMPOTENCY_TTL_MS)));
      const reserved = results.flatMap((r, i) => (r.status === 'reserved' ? [`msg_${i}`] : []));
      expect(reserved).toHaveLength(1);
      expect(results.filter((r) => r.status === 'replay')).toEqual(Array.from({ length: 24 }, () => ({ status: 'replay', messageId: reserved[0] })));
    }));

    it('resolves parallel requests with different bodies to one reservation and conflicts', withStore(async (store) => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.reserve('sales', 'k', `h${i}`, `msg_${i}`, IDEMPOTENCY_TTL_MS)));
      expect(results.filter((r) => r.status === 'reserved')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'conflict')).toHaveLength(9);
    }));
  });
}

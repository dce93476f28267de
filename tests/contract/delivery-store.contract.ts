import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryStore } from '../../src/storage/delivery-store.js';
import { InvalidCursorError } from '../../src/storage/message-store.js';
import { newDelivery, randomDeliveryId, type DeliveryRecord, type DeliveryStatus } from '../../src/webhooks/delivery.js';

export interface DeliveryStoreHarness {
  /** A fresh, empty store. */
  open(): Promise<DeliveryStore>;
}

/** A minute ago: the Redis driver trims index members older than its retention on insert. */
export const T0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;

let counter = 0;

/** A pending delivery created at `T0 + ms` (default: a new millisecond each call). */
export function delivery(overrides: Partial<DeliveryRecord> & { at?: number } = {}): DeliveryRecord {
  counter += 1;
  const { at, ...rest } = overrides;
  const base = newDelivery({
    id: randomDeliveryId(),
    eventId: `evt_${counter.toString(16).padStart(24, '0')}`,
    event: 'message',
    seq: counter,
    sessionId: 'sales',
    target: { id: 'app', kind: 'app', url: 'https://monolith.example.com/hook' },
    origin: 'event',
    now: new Date(T0 + (at ?? counter)),
    firstDelayMs: 0,
  });
  return { ...base, ...rest };
}

const withStatus = (record: DeliveryRecord, status: DeliveryStatus): DeliveryRecord => ({ ...record, status, updatedAt: new Date().toISOString() });

/** The expectations every DeliveryStore driver meets (memory, Redis). */
export function describeDeliveryStoreContract(name: string, harness: DeliveryStoreHarness): void {
  describe(`DeliveryStore contract: ${name}`, () => {
    const opened: DeliveryStore[] = [];
    const open = async (): Promise<DeliveryStore> => {
      const store = await harness.open();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('inserts once, returns copies, and keeps the body beside the record', async () => {
      const store = await open();
      const record = delivery();
      expect(await store.insert(record, '{"a":1}')).toBe(true);
      expect(await store.insert({ ...record, seq: 999 }, '{"b":2}')).toBe(false);
      const got = await store.get(record.id);
      expect(got).toEqual(record);
      if (got) got.status = 'dead';
      expect((await store.get(record.id))?.status).toBe('pending');
      expect(await store.getBody(record.id)).toBe('{"a":1}');
      expect(await store.get(randomDeliveryId())).toBeNull();
      expect(await store.getBody(randomDeliveryId())).toBeNull();
      expect(await store.getWithBody(record.id)).toEqual({ record, body: '{"a":1}' });
      expect(await store.getWithBody(randomDeliveryId())).toBeNull();
    });

    it('modifies from the record the caller read, and from the stored one when that is stale', async () => {
      const store = await open();
      const record = delivery();
      await store.insert(record, 'x');
      const read = await store.get(record.id);
      if (!read) throw new Error('inserted record not found');
      const seen: number[] = [];
      const bump = (r: DeliveryRecord) => {
        seen.push(r.attempts);
        return { record: { ...r, attempts: r.attempts + 1 }, result: r.attempts + 1 };
      };
      expect(await store.modify(record.id, bump, read)).toBe(1);
      // `read` is stale now: the change runs again on what is stored, nothing lost.
      expect(await store.modify(record.id, bump, read)).toBe(2);
      expect((await store.get(record.id))?.attempts).toBe(2);
      expect(seen.at(-1)).toBe(1);
      expect(await store.modify(randomDeliveryId(), bump, read)).toBeNull();
    });

    it('modifies atomically: writes what change returns, or nothing; null for an unknown id', async () => {
      const store = await open();
      const record = delivery();
      await store.insert(record, 'x');
      expect(await store.modify(record.id, (r) => ({ record: { ...r, status: 'failed', attempts: 1 }, result: 'changed' }))).toBe('changed');
      expect(await store.get(record.id)).toMatchObject({ status: 'failed', attempts: 1 });
      expect(await store.modify(record.id, (r) => ({ result: r.attempts }))).toBe(1);
      expect(await store.modify(randomDeliveryId(), () => ({ result: 'never' }))).toBeNull();
      // Parallel increments: none lost (Redis retries its compare-and-set).
      await Promise.all(Array.from({ length: 10 }, () => store.modify(record.id, (r) => ({ record: { ...r, attempts: r.attempts + 1 }, result: null }))));
      expect((await store.get(record.id))?.attempts).toBe(11);
      expect(await store.getBody(record.id)).toBe('x');
    });

    it('lists newest first, filtered by session and by status, following status changes', async () => {
      const store = await open();
      const a1 = delivery({ sessionId: 'a', at: 10 });
      const a2 = delivery({ sessionId: 'a', at: 20 });
      const b1 = delivery({ sessionId: 'b', at: 15 });
      for (const r of [a1, a2, b1]) await store.insert(r, '{}');
      expect((await store.list()).data.map((r) => r.id)).toEqual([a2.id, b1.id, a1.id]);
      expect((await store.list({ sessionId: 'a' })).data.map((r) => r.id)).toEqual([a2.id, a1.id]);
      expect((await store.list({ status: 'pending' })).data).toHaveLength(3);
      await store.modify(a1.id, (r) => ({ record: withStatus(r, 'dead'), result: null }));
      await store.modify(b1.id, (r) => ({ record: withStatus(r, 'failed'), result: null }));
      await store.modify(b1.id, (r) => ({ record: withStatus(r, 'delivered'), result: null }));
      expect((await store.list({ status: 'dead' })).data.map((r) => r.id)).toEqual([a1.id]);
      expect((await store.list({ status: 'failed' })).data).toEqual([]);
      expect((await store.list({ status: 'delivered' })).data.map((r) => r.id)).toEqual([b1.id]);
      expect((await store.list({ status: 'pending' })).data.map((r) => r.id)).toEqual([a2.id]);
      expect((await store.list({ sessionId: 'a', status: 'dead' })).data.map((r) => r.id)).toEqual([a1.id]);
      expect((await store.list({ sessionId: 'b', status: 'dead' })).data).toEqual([]);
      expect((await store.list({ sessionId: 'none' })).data).toEqual([]);
      expect((await store.list({ sessionId: 'a' })).data[1]).toMatchObject({ id: a1.id, status: 'dead' });
    });

    it('pages with cursors, ties on createdAt included, with no repeat and no gap', async () => {
      const store = await open();
      const records = [
        ...Array.from({ length: 5 }, () => delivery({ at: 100 })),
        ...Array.from({ length: 6 }, (_, i) => delivery({ at: 200 + i })),
        ...Array.from({ length: 4 }, () => delivery({ at: 300 })),
      ];
      for (const r of records) await store.insert(r, '{}');
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 4, cursor });
        seen.push(...page.data.map((r) => r.id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor !== undefined && pages < 10);
      const expected = [...records].sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || (x.id < y.id ? 1 : -1)).map((r) => r.id);
      expect(seen).toEqual(expected);
      expect(pages).toBe(4);
      const last = await store.list({ limit: 15 });
      expect(last.nextCursor).toBeNull();
      await expect(store.list({ cursor: 'bm90IGEgY3Vyc29y' })).rejects.toBeInstanceOf(InvalidCursorError);
    });

    it('never lists a delivery twice while deliveries change status', async () => {
      const store = await open();
      const records = Array.from({ length: 120 }, () => delivery());
      for (const r of records) await store.insert(r, '{}');
      const lists = Array.from({ length: 10 }, () => store.list({ limit: 200 }));
      await Promise.all(records.map((r, i) => store.modify(r.id, (c) => ({ record: withStatus(c, i % 2 === 0 ? 'delivered' : 'dead'), result: null }))));
      for (const page of await Promise.all(lists)) {
        const ids = page.data.map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(120);
      }
      const delivered = await store.list({ status: 'delivered', limit: 200 });
      expect(delivered.data).toHaveLength(60);
    });

    it('clamps the page size to 1–200 (default 50)', async () => {
      const store = await open();
      for (let i = 0; i < 60; i++) await store.insert(delivery(), '{}');
      expect((await store.list()).data).toHaveLength(50);
      expect((await store.list({ limit: 0 })).data).toHaveLength(1);
      expect((await store.list({ limit: 1000 })).data).toHaveLength(60);
    });

    it('keeps a fan-out cursor per session that only moves forward, until deleted', async () => {
      const store = await open();
      expect(await store.getCursor('s')).toBeNull();
      await store.setCursor('s', 5);
      await store.setCursor('s', 3);
      expect(await store.getCursor('s')).toBe(5);
      await store.setCursor('s', 9);
      expect(await store.getCursor('s')).toBe(9);
      expect(await store.getCursor('other')).toBeNull();
      await store.deleteCursor('s');
      expect(await store.getCursor('s')).toBeNull();
      await store.setCursor('s', 1);
      expect(await store.getCursor('s')).toBe(1);
    });
  });
}

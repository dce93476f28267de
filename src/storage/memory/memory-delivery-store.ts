import { FINAL_STATUSES, type DeliveryRecord } from '../../webhooks/delivery.js';
import type { DeliveryPage, DeliveryQuery, DeliveryStore } from '../delivery-store.js';
import { decodeDeliveryCursor, deliveryPageLimit, encodeDeliveryCursor, isAfterDeliveryCursor, newestDeliveryFirst } from '../delivery-store.js';

const clone = (record: DeliveryRecord): DeliveryRecord => structuredClone(record);

/** Deliveries kept by default; beyond it the oldest finished ones are dropped. */
export const DEFAULT_MAX_DELIVERIES = 10_000;

interface Entry {
  record: DeliveryRecord;
  body: string;
}

/**
 * The embedded-mode delivery store: a Map in insertion order, nothing survives a restart. Bounded:
 * beyond `maxDeliveries` (default 10,000) the oldest `delivered`/`dead` deliveries are dropped; a
 * delivery still to be made is never dropped (the queue holds it).
 */
export class MemoryDeliveryStore implements DeliveryStore {
  private readonly entries = new Map<string, Entry>();
  private readonly cursors = new Map<string, number>();
  private readonly maxDeliveries: number;

  constructor(options: { maxDeliveries?: number } = {}) {
    this.maxDeliveries = Math.max(1, options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES);
  }

  async insert(record: DeliveryRecord, body: string): Promise<boolean> {
    if (this.entries.has(record.id)) return false;
    this.entries.set(record.id, { record: clone(record), body });
    this.evict();
    return true;
  }

  private evict(): void {
    if (this.entries.size <= this.maxDeliveries) return;
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.maxDeliveries) return;
      if (FINAL_STATUSES.has(entry.record.status)) this.entries.delete(id);
    }
  }

  async get(id: string): Promise<DeliveryRecord | null> {
    const entry = this.entries.get(id);
    return entry ? clone(entry.record) : null;
  }

  async getBody(id: string): Promise<string | null> {
    return this.entries.get(id)?.body ?? null;
  }

  async getWithBody(id: string): Promise<{ record: DeliveryRecord; body: string | null } | null> {
    const entry = this.entries.get(id);
    return entry ? { record: clone(entry.record), body: entry.body } : null;
  }

  /** `current` is not needed here: changes apply synchronously to the stored record. */
  async modify<T>(id: string, change: (record: DeliveryRecord) => { record?: DeliveryRecord | undefined; result: T }): Promise<T | null> {
    const entry = this.entries.get(id);
    if (!entry) return null;
    const outcome = change(clone(entry.record));
    if (outcome.record !== undefined) entry.record = clone(outcome.record);
    return outcome.result;
  }

  async list(query: DeliveryQuery = {}): Promise<DeliveryPage> {
    const limit = deliveryPageLimit(query.limit);
    const cursor = query.cursor === undefined ? null : decodeDeliveryCursor(query.cursor);
    const matching: DeliveryRecord[] = [];
    for (const { record } of this.entries.values()) {
      if (query.sessionId !== undefined && record.sessionId !== query.sessionId) continue;
      if (query.status !== undefined && record.status !== query.status) continue;
      if (cursor !== null && !isAfterDeliveryCursor(record, cursor)) continue;
      matching.push(record);
    }
    matching.sort(newestDeliveryFirst);
    const data = matching.slice(0, limit).map(clone);
    const last = data[data.length - 1];
    return { data, nextCursor: matching.length > limit && last ? encodeDeliveryCursor(last) : null };
  }

  async getCursor(sessionId: string): Promise<number | null> {
    return this.cursors.get(sessionId) ?? null;
  }

  async setCursor(sessionId: string, seq: number): Promise<void> {
    this.cursors.set(sessionId, Math.max(seq, this.cursors.get(sessionId) ?? -Infinity));
  }

  async deleteCursor(sessionId: string): Promise<void> {
    this.cursors.delete(sessionId);
  }

  async close(): Promise<void> {
    // nothing to release
  }
}

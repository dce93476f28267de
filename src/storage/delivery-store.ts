import { DELIVERY_ID_PATTERN, type DeliveryRecord, type DeliveryStatus } from '../webhooks/delivery.js';
import { InvalidCursorError, pageLimit } from './message-store.js';

/**
 * Webhook deliveries (the attempts log) and the fan-out cursors of the webhook dispatcher. Two
 * drivers implement it — `memory/memory-delivery-store.ts` (embedded mode, bounded) and
 * `redis/redis-delivery-store.ts` (records kept {@link DELIVERY_RETENTION_MS}) — and both pass
 * `tests/contract/delivery-store.contract.ts`. Every method returns copies. The body (the exact
 * bytes sent) is kept beside the record, never in it: it is not part of the API view.
 */
export interface DeliveryStore {
  /** Inserts a new delivery with its body; false (and nothing written) when the id exists. */
  insert(record: DeliveryRecord, body: string): Promise<boolean>;
  get(id: string): Promise<DeliveryRecord | null>;
  getBody(id: string): Promise<string | null>;
  /** The record and its body in one read (one round trip in Redis); null when the id is unknown. */
  getWithBody(id: string): Promise<{ record: DeliveryRecord; body: string | null } | null>;
  /**
   * Atomic read-modify-write: `change` sees the current record and returns the record to write (or
   * `undefined` to write nothing) and a result. It may run more than once (Redis: compare-and-set,
   * retried on a concurrent change), so it must be pure. Null when the id is unknown. `current`: the
   * record as the caller last read it (from this store, unchanged) — tried first without a read;
   * when it is stale, the store reads the record and `change` runs again on that.
   */
  modify<T>(id: string, change: (record: DeliveryRecord) => { record?: DeliveryRecord | undefined; result: T }, current?: DeliveryRecord): Promise<T | null>;
  /** Newest first (createdAt, then id, descending), keyset-paginated. Throws InvalidCursorError. */
  list(query?: DeliveryQuery): Promise<DeliveryPage>;

  /** The last envelope seq of a session the dispatcher has fanned out; null when it never did. */
  getCursor(sessionId: string): Promise<number | null>;
  /** Moves the session's cursor forward to `seq` (never back). */
  setCursor(sessionId: string, seq: number): Promise<void>;
  /** Forgets the session's cursor (session deleted: a new session of that id starts afresh). */
  deleteCursor(sessionId: string): Promise<void>;

  close(): Promise<void>;
}

export interface DeliveryQuery {
  sessionId?: string | undefined;
  status?: DeliveryStatus | undefined;
  /** 1–200, default 50 (clamped). */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface DeliveryPage {
  data: DeliveryRecord[];
  nextCursor: string | null;
}

/** How long a delivery (record and body) is kept after its last change. */
export const DELIVERY_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export { pageLimit as deliveryPageLimit };

/** A position in the newest-first order. */
export interface DeliveryCursor {
  ms: number;
  id: string;
}

export function encodeDeliveryCursor(record: Pick<DeliveryRecord, 'createdAt' | 'id'>): string {
  return Buffer.from(`${Date.parse(record.createdAt)}|${record.id}`, 'utf8').toString('base64url');
}

export function decodeDeliveryCursor(cursor: string): DeliveryCursor {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,15})\|(dlv_[0-9a-f]{24})$/.exec(text);
  if (!match?.[1] || !match[2] || !DELIVERY_ID_PATTERN.test(match[2])) throw new InvalidCursorError();
  return { ms: Number(match[1]), id: match[2] };
}

/** The message history's keyset order, shared (newest first, then id descending). */
export { isAfter as isAfterDeliveryCursor, newestFirst as newestDeliveryFirst } from './message-store.js';

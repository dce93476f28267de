import type { MessageDirection, MessageRecord, MessageStatus, StatusUpdate } from '../messages/message.js';
import { MESSAGE_DIRECTIONS, MESSAGE_STATUSES, maxLatencyMs } from '../messages/message.js';

/**
 * Where message records live (both directions). Two drivers implement it —
 * `memory/memory-message-store.ts` (embedded mode, bounded per session) and
 * `redis/redis-message-store.ts` (TTL `MESSAGE_TTL`) — and both pass
 * `tests/contract/message-store.contract.ts`. Every method returns copies.
 */
export interface MessageStore {
  // ---- READS ----
  get(id: string): Promise<MessageRecord | null>;
  /** The record WhatsApp knows as `waMessageId` in this session. */
  findByWaMessageId(sessionId: string, waMessageId: string): Promise<MessageRecord | null>;
  /** History, newest first (createdAt, then id, descending), keyset-paginated. Throws InvalidCursorError. */
  list(sessionId: string, query?: MessageQuery): Promise<MessagePage>;
  /** Counts and latency percentiles of the records created in [since, until). */
  stats(sessionId: string, range?: TimeRange): Promise<MessageStats>;

  // ---- WRITES ----
  /**
   * Inserts a new record; false when the id exists (atomic). `payload` (the full send body when it
   * carries base64 media, which the record's `content` leaves out) is kept beside it with the same
   * retention until {@link dropPayload}.
   *
   * `alongside` is called once, right after the insert has been sent (Redis: right after its write
   * is handed to the connection, before the reply; memory: after the record is stored), whatever
   * its outcome: what it sends on the store's connection reaches Redis after the insert. The
   * accept path adds the send's job there, so that both leave in one socket write.
   */
  insert(record: MessageRecord, payload?: string, alongside?: () => void): Promise<boolean>;
  /**
   * Inserts a record that carries a WhatsApp id unless the session already has a record with that
   * id (a repeated engine event); false when skipped. One atomic step: the inbound path's lookup
   * and insert in one round trip.
   */
  insertUnlessKnown(record: MessageRecord & { waMessageId: string }): Promise<boolean>;
  getPayload(id: string): Promise<string | null>;
  /** The record and its payload in one read (the send worker's first step); null when the record is unknown. */
  getWithPayload(id: string): Promise<{ record: MessageRecord; payload: string | null } | null>;
  dropPayload(id: string): Promise<void>;
  /**
   * Atomic read-modify-write: `change` sees the current record and returns the record to write (or
   * `undefined` to write nothing) and a result. It may run more than once (Redis: compare-and-set,
   * retried on a concurrent change), so it must be pure. Null when the id is unknown.
   * A changed `chatId` or a new `waMessageId` is indexed. `current`: as for {@link updateStatus}.
   */
  modify<T>(id: string, change: (record: MessageRecord) => { record?: MessageRecord | undefined; result: T }, current?: MessageRecord): Promise<T | null>;
  /**
   * Applies the status rules of `applyStatusUpdate` atomically; `record` is null when the id is
   * unknown. `current`, when the caller holds the record as last read or written, saves a read
   * (Redis: it is the compare-and-set's expected value; a stale one costs one retry, never a wrong write).
   */
  updateStatus(id: string, update: StatusUpdate, current?: MessageRecord): Promise<{ changed: boolean; record: MessageRecord | null }>;
  /** Records WhatsApp's id once: true when set (or already that value), false when unknown or set to another id. */
  setWaMessageId(id: string, waMessageId: string): Promise<boolean>;
  /** Adds one attempt; the new count, or null when the id is unknown. */
  incrementAttempts(id: string): Promise<number | null>;
  /** Removes every record of a session (and its indexes); the number removed. */
  deleteSession(sessionId: string): Promise<number>;

  // ---- LIFECYCLE ----
  close(): Promise<void>;
}

/** Times are ISO-8601: `since` inclusive, `until` exclusive, on `createdAt`. */
export interface TimeRange {
  since?: string | undefined;
  until?: string | undefined;
}

export interface MessageQuery extends TimeRange {
  chatId?: string | undefined;
  direction?: MessageDirection | undefined;
  status?: MessageStatus | undefined;
  type?: string | undefined;
  /** Records with any measured latency (toSent, toDelivered, toRead, received) above this. */
  latencyOverMs?: number | undefined;
  /** 1–200, default 50 (clamped). */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface MessagePage {
  data: MessageRecord[];
  nextCursor: string | null;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface MessageStats {
  since: string | null;
  until: string | null;
  total: number;
  byStatus: Record<MessageStatus, number>;
  byDirection: Record<MessageDirection, number>;
  latency: { toSentMs: Percentiles; toDeliveredMs: Percentiles; toReadMs: Percentiles; receivedMs: Percentiles };
  /** Share of outbound records that reached `sent` within 5 s of creation, among those that reached it. */
  under5s: { basis: 'toSentMs'; thresholdMs: number; count: number; of: number; share: number | null };
}

export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('The cursor is not one this API returned');
  }
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;
export const UNDER_THRESHOLD_MS = 5_000;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_LIMIT;
  return Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** A position in the newest-first order: a record's createdAt (ms) and id. */
export interface CursorPosition {
  ms: number;
  id: string;
}

export function encodeCursor(record: MessageRecord): string {
  return Buffer.from(`${Date.parse(record.createdAt)}|${record.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,15})\|(msg_[A-Za-z0-9_-]{1,64})$/.exec(text);
  if (!match?.[1] || !match[2]) throw new InvalidCursorError();
  return { ms: Number(match[1]), id: match[2] };
}

/** Epoch ms of an optional ISO time; undefined when absent; NaN is refused. */
export function timeMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`Invalid time '${iso}'`);
  return ms;
}

/** What the newest-first keyset order needs of a record (messages, deliveries). */
export interface Keyed {
  createdAt: string;
  id: string;
}

/** Newest first: createdAt descending, then id descending (bytewise, as Redis orders equal scores). */
export function newestFirst(a: Keyed, b: Keyed): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** True when `record` comes strictly after `cursor` in the newest-first order. */
export function isAfter(record: Keyed, cursor: CursorPosition): boolean {
  const ms = Date.parse(record.createdAt);
  return ms < cursor.ms || (ms === cursor.ms && record.id < cursor.id);
}

export function matchesQuery(record: MessageRecord, query: MessageQuery): boolean {
  const ms = Date.parse(record.createdAt);
  const since = timeMs(query.since);
  const until = timeMs(query.until);
  if (since !== undefined && ms < since) return false;
  if (until !== undefined && ms >= until) return false;
  if (query.chatId !== undefined && record.chatId !== query.chatId) return false;
  if (query.direction !== undefined && record.direction !== query.direction) return false;
  if (query.status !== undefined && record.status !== query.status) return false;
  if (query.type !== undefined && record.type !== query.type) return false;
  if (query.latencyOverMs !== undefined) {
    const latency = maxLatencyMs(record);
    if (latency === null || latency <= query.latencyOverMs) return false;
  }
  return true;
}

/** Nearest-rank percentile of ascending `sorted`: the value at rank ceil(p/100 · n). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

/**
 * Accumulates stats record by record, so that a driver can stream a large range through it.
 * Latency percentiles use the nearest-rank method over the records that measured that latency.
 */
export class StatsAccumulator {
  private total = 0;
  private readonly byStatus = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
  private readonly byDirection = Object.fromEntries(MESSAGE_DIRECTIONS.map((d) => [d, 0])) as Record<MessageDirection, number>;
  private readonly values = { toSentMs: [] as number[], toDeliveredMs: [] as number[], toReadMs: [] as number[], receivedMs: [] as number[] };

  constructor(private readonly range: TimeRange) {}

  add(record: MessageRecord): void {
    this.total += 1;
    this.byStatus[record.status] += 1;
    this.byDirection[record.direction] += 1;
    const { toSentMs, toDeliveredMs, toReadMs, receivedMs } = record.latency;
    if (record.direction === 'outbound') {
      if (toSentMs !== null) this.values.toSentMs.push(toSentMs);
      if (toDeliveredMs !== null) this.values.toDeliveredMs.push(toDeliveredMs);
      if (toReadMs !== null) this.values.toReadMs.push(toReadMs);
    } else if (receivedMs !== undefined && receivedMs !== null) {
      this.values.receivedMs.push(receivedMs);
    }
  }

  result(): MessageStats {
    const sent = this.values.toSentMs;
    const under = sent.filter((ms) => ms < UNDER_THRESHOLD_MS).length;
    return {
      since: this.range.since ?? null,
      until: this.range.until ?? null,
      total: this.total,
      byStatus: { ...this.byStatus },
      byDirection: { ...this.byDirection },
      latency: {
        toSentMs: percentiles(sent),
        toDeliveredMs: percentiles(this.values.toDeliveredMs),
        toReadMs: percentiles(this.values.toReadMs),
        receivedMs: percentiles(this.values.receivedMs),
      },
      under5s: { basis: 'toSentMs', thresholdMs: UNDER_THRESHOLD_MS, count: under, of: sent.length, share: sent.length === 0 ? null : under / sent.length },
    };
  }
}

import type { GatewayEvent } from '../events/event-bus.js';
import type { EventEnvelope } from '../events/event-envelope.js';
import { randomHex } from '../random-hex.js';

/**
 * Every contract event the gateway published, per session, in `seq` order — what the event-log
 * route, the SSE stream's resume and webhook replays read. Two drivers implement it —
 * `memory/memory-event-log.ts` (embedded mode, bounded ring per session) and
 * `redis/redis-event-log.ts` (a stream per session, trimmed and expiring) — and both pass
 * `tests/contract/event-log.contract.ts`. Every method returns copies.
 *
 * `seq` is the session's: the previous one + 1, assigned atomically by `append` (concurrent
 * appends of one session, even from several instances on one Redis, never share or skip a seq),
 * and it keeps counting when a session's entries are deleted or trimmed. Entries come back oldest
 * first; a consumer that sees `seq` jump knows the log no longer holds what lies between (trimmed).
 */
export interface EventLog {
  /** Records one event under the next `seq` of its session and a new `evt_` id; the envelope. */
  append(event: GatewayEvent): Promise<EventEnvelope>;
  /**
   * Records events of ONE session (RangeError otherwise) under consecutive seqs, in one step (one
   * round trip in Redis): all or none. The envelopes in order; none for an empty list.
   */
  appendMany(events: readonly GatewayEvent[]): Promise<EventEnvelope[]>;
  /** The session's envelopes with `seq > afterSeq`, oldest first, at most `limit` (clamped to 1–1000). */
  read(sessionId: string, afterSeq: number, limit: number): Promise<EventEnvelope[]>;
  /**
   * Envelopes whose `occurredAt` is in [since, until), of one session or of every session, in pages
   * (replays). Order: by session id (bytewise), then `seq`. Throws InvalidCursorError for a cursor
   * this method did not return, RangeError for an invalid time.
   */
  readTimeRange(query: EventRangeQuery): Promise<EventRangePage>;
  /** The last `seq` given to the session (0 when none). */
  lastSeq(sessionId: string): Promise<number>;
  /** Removes the session's entries (its `seq` counter is kept, so a re-created session never reuses one); the number removed. */
  deleteSession(sessionId: string): Promise<number>;
  close(): Promise<void>;
}

export interface EventRangeQuery {
  /** One session; absent or null: every session. */
  sessionId?: string | null | undefined;
  /** ISO-8601, inclusive, compared with `occurredAt`. */
  since: string;
  /** ISO-8601, exclusive; absent: no upper bound. */
  until?: string | undefined;
  /** 1–1000, default 100 (clamped). */
  limit?: number | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

export interface EventRangePage {
  data: EventEnvelope[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export const DEFAULT_EVENT_PAGE_LIMIT = 100;
export const MAX_EVENT_PAGE_LIMIT = 1_000;
/** Entries kept per session by default (memory: exactly; Redis: `MAXLEN ~`, at least this many). */
export const DEFAULT_MAX_EVENTS_PER_SESSION = 10_000;

export function eventPageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_EVENT_PAGE_LIMIT;
  return Math.min(MAX_EVENT_PAGE_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** The session id shared by every event; null for none; RangeError when they are of several sessions. */
export function sameSession(events: readonly GatewayEvent[]): string | null {
  const sessionId = events[0]?.sessionId;
  if (sessionId === undefined) return null;
  if (events.some((e) => e.sessionId !== sessionId)) throw new RangeError('appendMany: every event must be of the same session');
  return sessionId;
}

/** `evt_` + 24 lowercase hex characters. */
export function newEventId(): string {
  return `evt_${randomHex(12)}`;
}

/** A position in the (session id, seq) order of {@link EventLog.readTimeRange}. */
export interface RangePosition {
  sessionId: string;
  seq: number;
}

export class InvalidEventCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('The cursor is not one this API returned');
  }
}

export function encodeRangeCursor(envelope: RangePosition): string {
  return Buffer.from(`${envelope.sessionId}|${envelope.seq}`, 'utf8').toString('base64url');
}

export function decodeRangeCursor(cursor: string): RangePosition {
  const match = /^([A-Za-z0-9_-]{1,64})\|(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1] || !match[2]) throw new InvalidEventCursorError();
  return { sessionId: match[1], seq: Number(match[2]) };
}

/** Epoch ms of an ISO time; RangeError when it does not parse. */
export function rangeMs(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`Invalid time '${iso}'`);
  return ms;
}

/** The bounds of a range query in epoch ms (`until` Infinity when absent). */
export function rangeBounds(query: EventRangeQuery): { since: number; until: number } {
  return { since: rangeMs(query.since), until: query.until === undefined ? Number.POSITIVE_INFINITY : rangeMs(query.until) };
}

/** Bytewise comparison of session ids (the order Redis and `Buffer.compare` agree on for ASCII ids). */
export function compareSessionIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

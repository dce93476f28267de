import type { GatewayEvent } from '../../events/event-bus.js';
import { parseStoredEnvelope, toEnvelope, type EventEnvelope } from '../../events/event-envelope.js';
import type { EventLog, EventRangePage, EventRangeQuery } from '../event-log.js';
import {
  DEFAULT_MAX_EVENTS_PER_SESSION,
  compareSessionIds,
  decodeRangeCursor,
  encodeRangeCursor,
  eventPageLimit,
  newEventId,
  sameSession,
  rangeBounds,
} from '../event-log.js';
import { dropOldest } from '../../bounded-map.js';

/** Bytes of envelope JSON kept per session by default (the oldest entries go first beyond it). */
export const DEFAULT_MAX_EVENT_BYTES_PER_SESSION = 16 * 1024 * 1024;
/** Sessions with a log kept by default; beyond it the one with the oldest last append is forgotten. */
export const DEFAULT_MAX_EVENT_SESSIONS = 1_000;

export interface MemoryEventLogOptions {
  /** Entries per session (default 10,000). */
  maxPerSession?: number;
  /** Approximate bytes (envelope JSON) per session (default 16 MiB); the newest entry is always kept. */
  maxBytesPerSession?: number;
  /** Sessions remembered (default 1,000). */
  maxSessions?: number;
}

/** The envelope as JSON (compact, and a copy by construction: what the Redis driver stores too). */
interface Entry {
  seq: number;
  occurredMs: number;
  json: string;
  bytes: number;
}

/** A session's newest entries, oldest first; their seqs are consecutive (appends are +1, evictions take the oldest). */
class SessionRing {
  lastSeq = 0;
  bytes = 0;
  /** Grows up to `capacity` (not preallocated: most sessions never fill it), then wraps. */
  private readonly slots: (Entry | undefined)[] = [];
  private head = 0;
  size = 0;

  constructor(private readonly capacity: number) {}

  push(entry: Entry): void {
    if (this.size === this.capacity) this.shift();
    this.slots[(this.head + this.size) % this.capacity] = entry;
    this.size += 1;
    this.bytes += entry.bytes;
  }

  shift(): void {
    const oldest = this.slots[this.head];
    if (!oldest) return;
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size -= 1;
    this.bytes -= oldest.bytes;
  }

  at(index: number): Entry | undefined {
    return index < 0 || index >= this.size ? undefined : this.slots[(this.head + index) % this.capacity];
  }

  /** The seq of the oldest entry held (lastSeq + 1 when empty). */
  firstSeq(): number {
    return this.lastSeq - this.size + 1;
  }

  clear(): number {
    const removed = this.size;
    while (this.size > 0) this.shift();
    return removed;
  }
}

const parse = (entry: Entry): EventEnvelope => parseStoredEnvelope(entry.json);

/**
 * The embedded-mode event log: nothing survives a restart (seq starts again at 1). Bounded: per
 * session at most `maxPerSession` entries (default 10,000) and about `maxBytesPerSession` of
 * envelope JSON (default 16 MiB), the oldest dropped first; at most `maxSessions` sessions
 * (default 1,000), the one appended to least recently forgotten entirely (entries and seq) beyond it.
 * Appends are synchronous inside, so concurrent appends of a session get consecutive seqs.
 */
export class MemoryEventLog implements EventLog {
  /** In order of last append (a Map keeps insertion order; a session is re-inserted on append). */
  private readonly sessions = new Map<string, SessionRing>();
  private readonly maxPerSession: number;
  private readonly maxBytesPerSession: number;
  private readonly maxSessions: number;

  constructor(options: MemoryEventLogOptions = {}) {
    this.maxPerSession = Math.max(1, options.maxPerSession ?? DEFAULT_MAX_EVENTS_PER_SESSION);
    this.maxBytesPerSession = Math.max(1, options.maxBytesPerSession ?? DEFAULT_MAX_EVENT_BYTES_PER_SESSION);
    this.maxSessions = Math.max(1, options.maxSessions ?? DEFAULT_MAX_EVENT_SESSIONS);
  }

  async append(event: GatewayEvent): Promise<EventEnvelope> {
    return this.appendNow(event);
  }

  async appendMany(events: readonly GatewayEvent[]): Promise<EventEnvelope[]> {
    sameSession(events);
    // Synchronous throughout: the seqs are consecutive even with other appends running.
    return events.map((event) => this.appendNow(event));
  }

  private appendNow(event: GatewayEvent): EventEnvelope {
    let ring = this.sessions.get(event.sessionId);
    if (ring) this.sessions.delete(event.sessionId);
    else ring = new SessionRing(this.maxPerSession);
    this.sessions.set(event.sessionId, ring);
    dropOldest(this.sessions, this.maxSessions);
    ring.lastSeq += 1;
    const json = JSON.stringify(toEnvelope(event, newEventId(), ring.lastSeq));
    const entry: Entry = { seq: ring.lastSeq, occurredMs: event.occurredAt.getTime(), json, bytes: json.length };
    ring.push(entry);
    while (ring.bytes > this.maxBytesPerSession && ring.size > 1) ring.shift();
    return parse(entry);
  }

  async read(sessionId: string, afterSeq: number, limit: number): Promise<EventEnvelope[]> {
    const ring = this.sessions.get(sessionId);
    if (!ring) return [];
    const out: EventEnvelope[] = [];
    const max = eventPageLimit(limit);
    for (let i = Math.max(0, Math.floor(afterSeq) + 1 - ring.firstSeq()); out.length < max; i++) {
      const entry = ring.at(i);
      if (!entry) break;
      out.push(parse(entry));
    }
    return out;
  }

  async readTimeRange(query: EventRangeQuery): Promise<EventRangePage> {
    const { since, until } = rangeBounds(query);
    const limit = eventPageLimit(query.limit);
    const cursor = query.cursor === undefined ? null : decodeRangeCursor(query.cursor);
    const ids = (query.sessionId ? [query.sessionId] : [...this.sessions.keys()]).filter((id) => !cursor || compareSessionIds(id, cursor.sessionId) >= 0).sort(compareSessionIds);
    const found: { sessionId: string; entry: Entry }[] = [];
    for (const sessionId of ids) {
      const ring = this.sessions.get(sessionId);
      if (!ring) continue;
      const start = cursor?.sessionId === sessionId ? Math.max(0, cursor.seq + 1 - ring.firstSeq()) : 0;
      for (let i = start; found.length <= limit; i++) {
        const entry = ring.at(i);
        if (!entry) break;
        if (entry.occurredMs >= since && entry.occurredMs < until) found.push({ sessionId, entry });
      }
      if (found.length > limit) break;
    }
    const data = found.slice(0, limit);
    const last = data[data.length - 1];
    return { data: data.map((f) => parse(f.entry)), nextCursor: found.length > limit && last ? encodeRangeCursor({ sessionId: last.sessionId, seq: last.entry.seq }) : null };
  }

  async lastSeq(sessionId: string): Promise<number> {
    return this.sessions.get(sessionId)?.lastSeq ?? 0;
  }

  async deleteSession(sessionId: string): Promise<number> {
    return this.sessions.get(sessionId)?.clear() ?? 0;
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}

import type { MessageRecord, StatusUpdate } from '../../messages/message.js';
import { applyStatusUpdate } from '../../messages/message.js';
import type { MessagePage, MessageQuery, MessageStats, MessageStore, TimeRange } from '../message-store.js';
import { StatsAccumulator, decodeCursor, encodeCursor, isAfter, matchesQuery, newestFirst, pageLimit, timeMs } from '../message-store.js';
import { dropOldest } from '../../bounded-map.js';

const clone = (record: MessageRecord): MessageRecord => structuredClone(record);

/** Records kept per session by default; the oldest inserted are dropped beyond it. */
export const DEFAULT_MAX_MESSAGES_PER_SESSION = 10_000;

interface SessionMessages {
  /** By id, in insertion order (the eviction order). */
  readonly records: Map<string, MessageRecord>;
  readonly byWaId: Map<string, string>;
}

/**
 * The embedded-mode message store: plain Maps, nothing survives a restart. Bounded: at most
 * `maxPerSession` records per session (default 10,000); inserting beyond it drops that session's
 * oldest inserted record (and its waMessageId mapping). The number of sessions is bounded by
 * WHATSAPP_MAX_SESSIONS, and `deleteSession` frees a session's records. No TTL in memory.
 */
export class MemoryMessageStore implements MessageStore {
  private readonly sessions = new Map<string, SessionMessages>();
  private readonly sessionOf = new Map<string, string>();
  private readonly maxPerSession: number;
  private readonly payloads = new Map<string, string>();

  constructor(options: { maxPerSession?: number } = {}) {
    this.maxPerSession = Math.max(1, options.maxPerSession ?? DEFAULT_MAX_MESSAGES_PER_SESSION);
  }

  private find(id: string): { session: SessionMessages; record: MessageRecord } | null {
    const sessionId = this.sessionOf.get(id);
    const session = sessionId === undefined ? undefined : this.sessions.get(sessionId);
    const record = session?.records.get(id);
    return session && record ? { session, record } : null;
  }

  async get(id: string): Promise<MessageRecord | null> {
    const found = this.find(id);
    return found ? clone(found.record) : null;
  }

  async findByWaMessageId(sessionId: string, waMessageId: string): Promise<MessageRecord | null> {
    const session = this.sessions.get(sessionId);
    const id = session?.byWaId.get(waMessageId);
    const record = id === undefined ? undefined : session?.records.get(id);
    return record ? clone(record) : null;
  }

  async list(sessionId: string, query: MessageQuery = {}): Promise<MessagePage> {
    const limit = pageLimit(query.limit);
    const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
    timeMs(query.since);
    timeMs(query.until);
    const records = [...(this.sessions.get(sessionId)?.records.values() ?? [])]
      .filter((r) => (cursor === null || isAfter(r, cursor)) && matchesQuery(r, query))
      .sort(newestFirst);
    const data = records.slice(0, limit).map(clone);
    const last = data[data.length - 1];
    return { data, nextCursor: records.length > limit && last ? encodeCursor(last) : null };
  }

  async stats(sessionId: string, range: TimeRange = {}): Promise<MessageStats> {
    const stats = new StatsAccumulator(range);
    for (const record of this.sessions.get(sessionId)?.records.values() ?? []) {
      if (matchesQuery(record, { since: range.since, until: range.until })) stats.add(record);
    }
    return stats.result();
  }

  async insertUnlessKnown(record: MessageRecord & { waMessageId: string }): Promise<boolean> {
    if (this.sessions.get(record.sessionId)?.byWaId.has(record.waMessageId)) return false;
    return this.insert(record);
  }

  async insert(record: MessageRecord, payload?: string, alongside?: () => void): Promise<boolean> {
    const inserted = this.store(record, payload);
    alongside?.();
    return inserted;
  }

  private store(record: MessageRecord, payload: string | undefined): boolean {
    if (this.sessionOf.has(record.id)) return false;
    if (payload !== undefined) this.payloads.set(record.id, payload);
    let session = this.sessions.get(record.sessionId);
    if (!session) {
      session = { records: new Map(), byWaId: new Map() };
      this.sessions.set(record.sessionId, session);
    }
    session.records.set(record.id, clone(record));
    this.sessionOf.set(record.id, record.sessionId);
    if (record.waMessageId !== null) session.byWaId.set(record.waMessageId, record.id);
    dropOldest(session.records, this.maxPerSession, (id) => this.remove(session, id));
    return true;
  }

  private remove(session: SessionMessages, id: string): void {
    const record = session.records.get(id);
    if (record?.waMessageId != null && session.byWaId.get(record.waMessageId) === id) session.byWaId.delete(record.waMessageId);
    session.records.delete(id);
    this.sessionOf.delete(id);
    this.payloads.delete(id);
  }

  async getPayload(id: string): Promise<string | null> {
    return this.payloads.get(id) ?? null;
  }

  async getWithPayload(id: string): Promise<{ record: MessageRecord; payload: string | null } | null> {
    const found = this.find(id);
    return found ? { record: clone(found.record), payload: this.payloads.get(id) ?? null } : null;
  }

  async dropPayload(id: string): Promise<void> {
    this.payloads.delete(id);
  }

  async modify<T>(id: string, change: (record: MessageRecord) => { record?: MessageRecord | undefined; result: T }): Promise<T | null> {
    const found = this.find(id);
    if (!found) return null;
    const outcome = change(clone(found.record));
    if (outcome.record !== undefined) this.replace(found.session, clone(outcome.record));
    return outcome.result;
  }

  private replace(session: SessionMessages, record: MessageRecord): void {
    session.records.set(record.id, record);
    if (record.waMessageId !== null) session.byWaId.set(record.waMessageId, record.id);
  }

  async updateStatus(id: string, update: StatusUpdate): Promise<{ changed: boolean; record: MessageRecord | null }> {
    const found = this.find(id);
    if (!found) return { changed: false, record: null };
    const outcome = applyStatusUpdate(found.record, update);
    if (outcome.dirty) this.replace(found.session, outcome.record);
    return { changed: outcome.changed, record: clone(outcome.record) };
  }

  async setWaMessageId(id: string, waMessageId: string): Promise<boolean> {
    const found = this.find(id);
    if (!found) return false;
    if (found.record.waMessageId !== null) return found.record.waMessageId === waMessageId;
    this.replace(found.session, { ...found.record, waMessageId });
    return true;
  }

  async incrementAttempts(id: string): Promise<number | null> {
    const found = this.find(id);
    if (!found) return null;
    const attempts = found.record.attempts + 1;
    this.replace(found.session, { ...found.record, attempts });
    return attempts;
  }

  async deleteSession(sessionId: string): Promise<number> {
    const session = this.sessions.get(sessionId);
    if (!session) return 0;
    for (const id of session.records.keys()) {
      this.sessionOf.delete(id);
      this.payloads.delete(id);
    }
    this.sessions.delete(sessionId);
    return session.records.size;
  }

  async close(): Promise<void> {
    // nothing to release
  }
}

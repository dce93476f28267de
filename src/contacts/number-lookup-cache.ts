import type { SessionManager } from '../sessions/session-manager.js';
import { dropOldest } from '../bounded-map.js';

/** "Cached briefly" (contract): how long a lookup answer, positive or negative, is reused. */
export const NUMBER_LOOKUP_TTL_MS = 10 * 60_000;
export const NUMBER_LOOKUP_MAX_ENTRIES = 10_000;

export interface NumberLookupOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Answers of WhatsApp's number lookup (`getNumberId`: the canonical chat id of a phone, or null
 * when it is not on WhatsApp), kept in memory for a short while so that repeated `exists` checks
 * and phone-addressed actions do not ask WhatsApp each time. Keyed by session, because sessions
 * may run different engines (a simulator's answers must never serve a real account). Bounded: the
 * oldest entries go first. Failed lookups are not cached; concurrent lookups of one key share one
 * call.
 */
export class NumberLookupCache {
  private readonly entries = new Map<string, { chatId: string | null; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string | null>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: NumberLookupOptions = {}) {
    this.ttlMs = options.ttlMs ?? NUMBER_LOOKUP_TTL_MS;
    this.maxEntries = options.maxEntries ?? NUMBER_LOOKUP_MAX_ENTRIES;
    this.now = options.now ?? ((): number => Date.now());
  }

  /** The canonical chat id of `phone` (digits) for this session, asking `lookup` only when no fresh answer is cached. */
  async resolve(sessionId: string, phone: string, lookup: (phone: string) => Promise<string | null>): Promise<string | null> {
    const key = `${sessionId}:${phone}`;
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.chatId;
    if (cached) this.entries.delete(key);
    const running = this.pending.get(key);
    if (running) return running;
    const promise = lookup(phone)
      .then((chatId) => {
        this.remember(key, chatId);
        return chatId;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, promise);
    return promise;
  }

  /** Drops a session's answers (deleted or unlinked: the next account may see other ids). */
  forgetSession(sessionId: string): void {
    const prefix = `${sessionId}:`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(key: string, chatId: string | null): void {
    this.entries.delete(key);
    this.entries.set(key, { chatId, expiresAt: this.now() + this.ttlMs });
    dropOldest(this.entries, this.maxEntries);
  }
}

const perGateway = new WeakMap<SessionManager, NumberLookupCache>();

/** The one cache of a gateway (its SessionManager), shared by the contacts and chats routes. */
export function numberLookupOf(sessions: SessionManager): NumberLookupCache {
  let cache = perGateway.get(sessions);
  if (!cache) {
    cache = new NumberLookupCache();
    perGateway.set(sessions, cache);
  }
  return cache;
}

import type { EngineContact } from '../engines/engine.js';
/**
 * The cache of a session's synced contacts (what the engine's `getContacts` returned last). Two
 * drivers implement it — `memory/memory-contact-store.ts` (embedded mode) and
 * `redis/redis-contact-store.ts` — and both pass `tests/contract/contact-store.contract.ts`.
 * Every method returns copies.
 */
export interface ContactStore {
  // ---- READS ----
  /** Contacts ordered by id (bytewise), keyset-paginated; `query` filters. Throws InvalidContactCursorError. */
  list(sessionId: string, query?: ContactQuery): Promise<ContactPage>;
  /** What the last replace stored, or null when the session has no cached contacts (never synced, or deleted). */
  syncState(sessionId: string): Promise<ContactSyncState | null>;

  // ---- WRITES ----
  /** Replaces every cached contact of the session at once (readers see the old set or the new one, never a mix). */
  replace(sessionId: string, contacts: readonly Contact[], meta: { accountId: string | null; syncedAt?: string | undefined }): Promise<ContactSyncState>;
  /** Drops the session's cache; true when there was one. */
  deleteSession(sessionId: string): Promise<boolean>;

  // ---- LIFECYCLE ----
  close(): Promise<void>;
}

/** A contact as the API returns it (`Contact` of the contract): what the engine reports, cached as is. */
export type Contact = EngineContact;

export interface ContactQuery {
  /** Case-insensitive substring of id, phone, name or pushName; a phone-looking query matches on its digits. */
  query?: string | undefined;
  /** 1–200, default 50 (clamped). */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface ContactPage {
  data: Contact[];
  nextCursor: string | null;
}

export interface ContactSyncState {
  /** The linked account (`me.id`) the contacts belong to: a cache of another account is stale. */
  accountId: string | null;
  count: number;
  /** ISO-8601. */
  syncedAt: string;
}

export class InvalidContactCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('The cursor is not one this API returned');
  }
}

export const CONTACT_PAGE_DEFAULT = 50;
export const CONTACT_PAGE_MAX = 200;
export const CONTACT_ID_MAX_LENGTH = 256;
export const CONTACT_QUERY_MAX_LENGTH = 100;

export function contactPageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return CONTACT_PAGE_DEFAULT;
  return Math.min(CONTACT_PAGE_MAX, Math.max(1, Math.trunc(limit)));
}

const CURSOR_TAG = 'c1:';

/** The opaque cursor that resumes after the contact with this id. */
export function encodeContactCursor(id: string): string {
  return Buffer.from(`${CURSOR_TAG}${id}`, 'utf8').toString('base64url');
}

/** The id a cursor resumes after, or null when it is not one {@link encodeContactCursor} made. */
export function decodeContactCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(CURSOR_TAG)) return null;
  const id = text.slice(CURSOR_TAG.length);
  if (id.length === 0 || id.length > CONTACT_ID_MAX_LENGTH || encodeContactCursor(id) !== cursor) return null;
  return id;
}

export function requireContactCursor(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  const id = decodeContactCursor(cursor);
  if (id === null) throw new InvalidContactCursorError();
  return id;
}

/** The lower-cased text a query is matched against. */
export function contactSearchText(contact: Contact): string {
  return [contact.id, contact.phone, contact.name, contact.pushName]
    .filter((part): part is string => part !== null && part !== '')
    .join('\n')
    .toLowerCase();
}

const PHONE_LIKE = /^\+?[\d\s\-.()]+$/;

/** What to look for: lower case; a phone-looking query (`+55 11 9999`) as its digits. Empty = everything. */
export function contactSearchNeedle(query: string | undefined): string {
  const trimmed = (query ?? '').trim();
  if (PHONE_LIKE.test(trimmed) && /\d/.test(trimmed)) return trimmed.replace(/\D/g, '');
  return trimmed.toLowerCase();
}

/** Last one wins when the engine lists an id twice. */
export function uniqueContacts(contacts: readonly Contact[]): Contact[] {
  const byId = new Map<string, Contact>();
  for (const contact of contacts) byId.set(contact.id, { ...contact });
  return [...byId.values()];
}

import type { Contact, ContactPage, ContactQuery, ContactStore, ContactSyncState } from '../contact-store.js';
import { contactPageLimit, contactSearchNeedle, contactSearchText, encodeContactCursor, requireContactCursor, uniqueContacts } from '../contact-store.js';

interface Entry {
  contact: Contact;
  key: Buffer;
  search: string;
}

interface SessionContacts {
  state: ContactSyncState;
  /** Ordered by id, bytewise. */
  entries: Entry[];
}

/** The embedded-mode contact cache: per session, the contacts sorted by id once per replace. */
export class MemoryContactStore implements ContactStore {
  private readonly sessions = new Map<string, SessionContacts>();

  async list(sessionId: string, query: ContactQuery = {}): Promise<ContactPage> {
    const limit = contactPageLimit(query.limit);
    const after = requireContactCursor(query.cursor);
    const entries = this.sessions.get(sessionId)?.entries ?? [];
    const needle = contactSearchNeedle(query.query);
    const afterKey = after === null ? null : Buffer.from(after, 'utf8');
    let index = afterKey === null ? 0 : firstAfter(entries, afterKey);
    const data: Contact[] = [];
    let more = false;
    for (; index < entries.length; index++) {
      const entry = entries[index];
      if (!entry || (needle !== '' && !entry.search.includes(needle))) continue;
      if (data.length === limit) {
        more = true;
        break;
      }
      data.push({ ...entry.contact });
    }
    const last = data[data.length - 1];
    return { data, nextCursor: more && last ? encodeContactCursor(last.id) : null };
  }

  async syncState(sessionId: string): Promise<ContactSyncState | null> {
    const state = this.sessions.get(sessionId)?.state;
    return state ? { ...state } : null;
  }

  async replace(sessionId: string, contacts: readonly Contact[], meta: { accountId: string | null; syncedAt?: string | undefined }): Promise<ContactSyncState> {
    const entries = uniqueContacts(contacts)
      .map((contact) => ({ contact, key: Buffer.from(contact.id, 'utf8'), search: contactSearchText(contact) }))
      .sort((a, b) => Buffer.compare(a.key, b.key));
    const state: ContactSyncState = { accountId: meta.accountId, count: entries.length, syncedAt: meta.syncedAt ?? new Date().toISOString() };
    this.sessions.set(sessionId, { state, entries });
    return { ...state };
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    return this.sessions.delete(sessionId);
  }

  async close(): Promise<void> {
    this.sessions.clear();
  }
}

/** Index of the first entry whose key sorts after `key` (binary search). */
function firstAfter(entries: readonly Entry[], key: Buffer): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const entry = entries[mid];
    if (entry && Buffer.compare(entry.key, key) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

import type { EngineContact } from '../engines/engine.js';
import type { GatewayEvent } from '../events/event-bus.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Contact, ContactPage, ContactQuery, ContactStore, ContactSyncState } from '../storage/contact-store.js';

const toContact = (c: EngineContact): Contact => ({
  id: c.id,
  phone: c.phone,
  name: c.name,
  pushName: c.pushName,
  isBusiness: c.isBusiness,
  isMyContact: c.isMyContact,
  isGroup: c.isGroup,
});

/**
 * A session's contacts: fetched from the engine on sync, served from the {@link ContactStore}
 * cache. The cache belongs to the linked account it was synced for; a listing syncs first when
 * there is none or it belongs to another account (the session was relinked to another phone).
 */
export class ContactDirectory {
  private readonly syncing = new Map<string, Promise<ContactSyncState>>();

  constructor(
    private readonly sessions: SessionManager,
    private readonly store: ContactStore,
  ) {}

  /** Replaces the cache with the engine's contacts; concurrent syncs of one session share one fetch. Needs a ready session. */
  async sync(sessionId: string): Promise<ContactSyncState> {
    const engine = this.sessions.readyEngine(sessionId);
    const running = this.syncing.get(sessionId);
    if (running) return running;
    const accountId = this.accountOf(sessionId);
    const sync = (async () => {
      const contacts = await engine.getContacts();
      const state = await this.store.replace(sessionId, contacts.map(toContact), { accountId });
      // Deleted while WhatsApp was answering: do not leave its contacts behind.
      if (!this.sessions.has(sessionId)) await this.store.deleteSession(sessionId);
      return state;
    })().finally(() => this.syncing.delete(sessionId));
    this.syncing.set(sessionId, sync);
    return sync;
  }

  /** A page of the cached contacts, syncing first when the cache is missing or stale. Needs a ready session. */
  async list(sessionId: string, query: ContactQuery): Promise<ContactPage> {
    this.sessions.readyEngine(sessionId);
    const state = await this.store.syncState(sessionId);
    if (state?.accountId !== this.accountOf(sessionId)) await this.sync(sessionId);
    return this.store.list(sessionId, query);
  }

  /** Drops the cache of a session. */
  async forget(sessionId: string): Promise<void> {
    await this.store.deleteSession(sessionId);
  }

  private accountOf(sessionId: string): string | null {
    return this.sessions.get(sessionId).me?.id ?? null;
  }
}

/**
 * True for the `session.status` event that ends a session's account: the session was deleted, or
 * it stopped or failed with its link dropped (logout, unlinked from the phone). Its cached
 * contacts and number lookups must go.
 */
export function endsAccount(event: GatewayEvent, sessions: SessionManager): boolean {
  if (event.event !== 'session.status' || (event.data.detail !== 'stopped' && event.data.detail !== 'failed')) return false;
  return !sessions.has(event.sessionId) || sessions.get(event.sessionId).me === null;
}

import { describe, expect, it } from 'vitest';
import { InvalidContactCursorError, type Contact, type ContactStore } from '../../src/storage/contact-store.js';

export function contact(id: string, overrides: Partial<Contact> = {}): Contact {
  const isGroup = id.endsWith('@g.us');
  return {
    id,
    phone: id.endsWith('@c.us') ? id.slice(0, -'@c.us'.length) : null,
    name: null,
    pushName: null,
    isBusiness: false,
    isMyContact: false,
    isGroup,
    ...overrides,
  };
}

export interface ContactStoreHarness {
  /** A fresh, empty store. */
  open(): Promise<ContactStore>;
}

const ACCOUNT = '5511988887777@c.us';

/** Every page of a listing, following nextCursor. */
async function allPages(store: ContactStore, sessionId: string, query: { query?: string; limit?: number } = {}): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.list(sessionId, { ...query, cursor });
    pages.push(page.data.map((c) => c.id));
    if (page.nextCursor === null) return pages;
    cursor = page.nextCursor;
    if (pages.length > 1_000) throw new Error('pagination does not end');
  }
}

/** The expectations every ContactStore driver meets (memory, Redis). */
export function describeContactStoreContract(name: string, harness: ContactStoreHarness): void {
  describe(`ContactStore contract: ${name}`, () => {
    const withStore = async (fn: (store: ContactStore) => Promise<void>): Promise<void> => {
      const store = await harness.open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    // ---- REPLACE AND STATE ----
    it('knows nothing of a session never synced', () =>
      withStore(async (store) => {
        expect(await store.syncState('never')).toBeNull();
        expect(await store.list('never')).toEqual({ data: [], nextCursor: null });
        expect(await store.deleteSession('never')).toBe(false);
      }));

    it('replaces every contact at once, returning copies, and records the sync', () =>
      withStore(async (store) => {
        const first = [contact('5511911110001@c.us', { name: 'Ana' }), contact('5511911110002@c.us')];
        const state = await store.replace('s', first, { accountId: ACCOUNT, syncedAt: '2026-11-21T12:00:00.000Z' });
        expect(state).toEqual({ accountId: ACCOUNT, count: 2, syncedAt: '2026-11-21T12:00:00.000Z' });
        expect(await store.syncState('s')).toEqual(state);
        first[0] = contact('changed@c.us');
        const listed = await store.list('s');
        expect(listed.data).toEqual([contact('5511911110001@c.us', { name: 'Ana' }), contact('5511911110002@c.us')]);
        const copy = listed.data[0];
        if (copy) copy.name = 'mutated';
        expect((await store.list('s')).data[0]?.name).toBe('Ana');

        const second = await store.replace('s', [contact('120363025246125486@g.us', { name: 'Equipe' })], { accountId: ACCOUNT });
        expect(second.count).toBe(1);
        expect(Date.parse(second.syncedAt)).not.toBeNaN();
        expect((await store.list('s')).data.map((c) => c.id)).toEqual(['120363025246125486@g.us']);

        expect(await store.replace('s', [], { accountId: null })).toMatchObject({ count: 0, accountId: null });
        expect(await store.list('s')).toEqual({ data: [], nextCursor: null });
        expect(await store.syncState('s')).toMatchObject({ count: 0 });
      }));

    it('keeps the last of duplicate ids and keeps sessions apart', () =>
      withStore(async (store) => {
        await store.replace('a', [contact('1@c.us', { pushName: 'old' }), contact('2@c.us'), contact('1@c.us', { pushName: 'new' })], { accountId: ACCOUNT });
        await store.replace('b', [contact('3@c.us')], { accountId: ACCOUNT });
        expect(await store.syncState('a')).toMatchObject({ count: 2 });
        expect((await store.list('a')).data).toEqual([contact('1@c.us', { pushName: 'new' }), contact('2@c.us')]);
        expect(await store.deleteSession('a')).toBe(true);
        expect(await store.syncState('a')).toBeNull();
        expect((await store.list('a')).data).toEqual([]);
        expect((await store.list('b')).data.map((c) => c.id)).toEqual(['3@c.us']);
      }));

    // ---- LISTING ----
    it('pages in id order with a keyset cursor, every contact exactly once', () =>
      withStore(async (store) => {
        const ids = Array.from({ length: 23 }, (_, i) => `55119111${String(10_000 + i * 7).padStart(5, '0')}@c.us`);
        await store.replace('p', [...ids].reverse().map((id) => contact(id)), { accountId: ACCOUNT });
        const pages = await allPages(store, 'p', { limit: 5 });
        expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
        expect(pages.flat()).toEqual([...ids].sort());
        expect((await store.list('p', { limit: 23 })).nextCursor).toBeNull();
        expect((await store.list('p')).data).toHaveLength(23);
      }));

    it('resumes after the cursor contact even when a new sync removed it', () =>
      withStore(async (store) => {
        await store.replace('r', ['a@c.us', 'b@c.us', 'c@c.us', 'd@c.us'].map((id) => contact(id)), { accountId: ACCOUNT });
        const first = await store.list('r', { limit: 2 });
        expect(first.data.map((c) => c.id)).toEqual(['a@c.us', 'b@c.us']);
        await store.replace('r', ['a@c.us', 'c@c.us', 'd@c.us', 'e@c.us'].map((id) => contact(id)), { accountId: ACCOUNT });
        const next = await store.list('r', { limit: 2, cursor: first.nextCursor ?? '' });
        expect(next.data.map((c) => c.id)).toEqual(['c@c.us', 'd@c.us']);
      }));

    it('filters case-insensitively on name, pushName, phone and id, paging through matches only', () =>
      withStore(async (store) => {
        await store.replace(
          'q',
          [
            contact('5511911110001@c.us', { name: 'Ana Souza' }),
            contact('5511922220002@c.us', { pushName: 'JOÃO da Ana' }),
            contact('5521933330003@c.us', { name: 'Bruno', pushName: 'bruno' }),
            contact('98765432109876@lid', { pushName: 'Mariana' }),
            contact('120363025246125486@g.us', { name: 'Equipe Vendas' }),
          ],
          { accountId: ACCOUNT },
        );
        const ids = async (query: string): Promise<string[]> => (await allPages(store, 'q', { query, limit: 1 })).flat();
        expect(await ids('ana')).toEqual(['5511911110001@c.us', '5511922220002@c.us', '98765432109876@lid']);
        expect(await ids('JOÃO')).toEqual(['5511922220002@c.us']);
        expect(await ids('joão')).toEqual(['5511922220002@c.us']);
        expect(await ids('5521')).toEqual(['5521933330003@c.us']);
        expect(await ids('+55 (21) 9333')).toEqual(['5521933330003@c.us']);
        expect(await ids('@g.us')).toEqual(['120363025246125486@g.us']);
        expect(await ids('vendas')).toEqual(['120363025246125486@g.us']);
        expect(await ids('nobody')).toEqual([]);
        expect((await store.list('q', { query: 'ana', limit: 2 })).nextCursor).not.toBeNull();
        expect((await store.list('q', { query: 'ana', limit: 3 })).nextCursor).toBeNull();
      }));

    it('finds sparse matches in a large set and clamps the page size to 1–200', () =>
      withStore(async (store) => {
        const many = Array.from({ length: 4_500 }, (_, i) => contact(`5511${String(900_000_000 + i)}@c.us`, { pushName: i === 4_321 ? 'Needle' : `Contact ${i}` }));
        await store.replace('big', many, { accountId: ACCOUNT });
        expect((await store.list('big', { query: 'needle' })).data.map((c) => c.id)).toEqual(['5511900004321@c.us']);
        expect((await store.list('big', { limit: 1_000 })).data).toHaveLength(200);
        expect((await store.list('big', { limit: 0 })).data).toHaveLength(1);
        const pages = await allPages(store, 'big', { limit: 200 });
        expect(pages.flat()).toHaveLength(4_500);
        expect(new Set(pages.flat()).size).toBe(4_500);
      }));

    it('refuses a cursor it did not make', () =>
      withStore(async (store) => {
        await store.replace('c', [contact('a@c.us')], { accountId: ACCOUNT });
        for (const cursor of ['', 'not a cursor!', 'bm9wZQ', Buffer.from('c1:').toString('base64url')]) {
          await expect(store.list('c', { cursor }), cursor).rejects.toBeInstanceOf(InvalidContactCursorError);
        }
      }));
  });
}

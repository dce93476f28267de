import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../src/engines/engine.js';
import { readySession } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

interface Contact {
  id: string;
  phone: string | null;
  name: string | null;
  pushName: string | null;
  isBusiness: boolean;
  isMyContact: boolean;
  isGroup: boolean;
}
interface ContactPage {
  data: Contact[];
  nextCursor: string | null;
}
interface ErrorBody {
  code: string;
  details: { path: string }[];
}

const ANA = '5511911110001';
const BRUNO = '5511922220002';
const CARLA = '5521933330003';
const NOT_ON_WHATSAPP = '5511999990000';

describe.each(STORAGE_MODES)('contact routes (%s)', (mode) => {
  let t: TestApp;

  beforeEach(async () => {
    t = await startTestApp({ mode });
    await readySession(t, 'c');
  });
  afterEach(() => t.close());

  const get = (url: string) => t.app.inject({ url: `/api/v1/sessions/${url}`, headers: AUTH });
  const sync = (id = 'c') => t.app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/contacts/sync`, headers: AUTH });
  const writes = async (from: string, pushName: string, id = 'c'): Promise<void> => {
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/inbound`, headers: AUTH, payload: { from, type: 'text', text: 'oi', pushName } });
    expect(res.statusCode, res.body).toBe(201);
  };
  const list = async (query = '', id = 'c'): Promise<ContactPage> => {
    const res = await get(`${id}/contacts${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<ContactPage>();
  };
  const engineOf = (id = 'c'): Engine => t.app.gateway.sessions.readyEngine(id);
  const expectError = (res: { statusCode: number; json: () => unknown }, status: number, code: string, path?: string): void => {
    expect(res.statusCode).toBe(status);
    const body = res.json() as ErrorBody;
    expect(body.code).toBe(code);
    if (path !== undefined) expect(body.details.map((d) => d.path)).toContain(path);
  };

  // ---- LIST AND SYNC ----
  it('lists synced contacts in the contract shape, syncing on the first listing', async () => {
    await writes(BRUNO, 'Bruno');
    await writes(ANA, 'Ana Souza');
    expect(await t.app.gateway.storage.contacts.syncState('c')).toBeNull();
    const page = await list();
    expect(page).toEqual({
      data: [
        { id: `${ANA}@c.us`, phone: ANA, name: null, pushName: 'Ana Souza', isBusiness: false, isMyContact: false, isGroup: false },
        { id: `${BRUNO}@c.us`, phone: BRUNO, name: null, pushName: 'Bruno', isBusiness: false, isMyContact: false, isGroup: false },
      ],
      nextCursor: null,
    });
    expect(await t.app.gateway.storage.contacts.syncState('c')).toMatchObject({ accountId: '5511988887777@c.us', count: 2 });
  });

  it('serves the cache until POST contacts/sync refreshes it; concurrent syncs share one fetch', async () => {
    await writes(ANA, 'Ana');
    expect((await list()).data).toHaveLength(1);
    await writes(BRUNO, 'Bruno');
    await writes('120363025246125486@g.us', 'Equipe');
    expect((await list()).data).toHaveLength(1);
    const getContacts = vi.spyOn(engineOf(), 'getContacts');
    const [a, b] = await Promise.all([sync(), sync()]);
    expect(a.statusCode).toBe(200);
    expect(a.json()).toEqual({ count: 3 });
    expect(b.json()).toEqual({ count: 3 });
    expect(getContacts).toHaveBeenCalledTimes(1);
    expect((await list()).data.map((c) => [c.id, c.isGroup])).toEqual([
      ['120363025246125486@g.us', true],
      [`${ANA}@c.us`, false],
      [`${BRUNO}@c.us`, false],
    ]);
  });

  it('filters with ?query and pages with ?limit and ?cursor', async () => {
    for (const [phone, name] of [[ANA, 'Ana Souza'], [BRUNO, 'JOÃO da Ana'], [CARLA, 'Carla']] as const) await writes(phone, name);
    expect((await list('?query=ana')).data.map((c) => c.phone)).toEqual([ANA, BRUNO]);
    expect((await list('?query=jo%C3%A3o')).data.map((c) => c.phone)).toEqual([BRUNO]);
    expect((await list(`?query=${encodeURIComponent('+55 21 9333')}`)).data.map((c) => c.phone)).toEqual([CARLA]);
    expect((await list('?query=nobody')).data).toEqual([]);
    const first = await list('?limit=2');
    expect(first.data.map((c) => c.phone)).toEqual([ANA, BRUNO]);
    expect(first.nextCursor).not.toBeNull();
    const second = await list(`?limit=2&cursor=${first.nextCursor ?? ''}`);
    expect(second).toEqual({ data: [expect.objectContaining({ phone: CARLA })], nextCursor: null });
    const filtered = await list('?query=ana&limit=1');
    expect((await list(`?query=ana&limit=1&cursor=${filtered.nextCursor ?? ''}`)).data.map((c) => c.phone)).toEqual([BRUNO]);
  });

  it('refuses bad list parameters with 400', async () => {
    for (const [query, path] of [
      ['?limit=0', 'querystring.limit'],
      ['?limit=201', 'querystring.limit'],
      ['?limit=x', 'querystring.limit'],
      ['?cursor=not-ours', 'querystring.cursor'],
      [`?cursor=${Buffer.from('h1|1|x').toString('base64url')}`, 'querystring.cursor'],
      [`?query=${'a'.repeat(101)}`, 'querystring.query'],
      ['?query=%20%20', 'querystring.query'],
    ] as const) {
      expectError(await get(`c/contacts${query}`), 400, 'VALIDATION_ERROR', path);
    }
  });

  it("drops a session's cache when it is logged out or deleted, and resyncs for the next account", async () => {
    await writes(ANA, 'Ana');
    await list();
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/c/logout', headers: AUTH });
    await vi.waitFor(async () => expect(await t.app.gateway.storage.contacts.syncState('c')).toBeNull());

    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/c/start', headers: AUTH });
    await t.app.gateway.sessions.waitForStatus('c', ['qr'], 2_000);
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/c/simulator/scan', headers: AUTH, payload: { phone: '5511955554444' } });
    expect((await list()).data).toEqual([]);
    expect(await t.app.gateway.storage.contacts.syncState('c')).toMatchObject({ accountId: '5511955554444@c.us', count: 0 });

    await t.app.inject({ method: 'DELETE', url: '/api/v1/sessions/c', headers: AUTH });
    await vi.waitFor(async () => expect(await t.app.gateway.storage.contacts.syncState('c')).toBeNull());
  });

  it('resyncs when the cache belongs to another account than the one linked now', async () => {
    await writes(ANA, 'Ana');
    await t.app.gateway.storage.contacts.replace('c', [{ id: 'stale@c.us', phone: null, name: null, pushName: null, isBusiness: false, isMyContact: false, isGroup: false }], { accountId: '5500000000000@c.us' });
    expect((await list()).data.map((c) => c.phone)).toEqual([ANA]);
  });

  // ---- EXISTS ----
  it("exists: resolves a number to WhatsApp's canonical id, normalizing the input", async () => {
    const res = await get(`c/contacts/${encodeURIComponent('+55 (11) 91111-0001')}/exists`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ phone: ANA, exists: true, chatId: `${ANA}@c.us` });
    expect((await get(`c/contacts/${NOT_ON_WHATSAPP}/exists`)).json()).toEqual({ phone: NOT_ON_WHATSAPP, exists: false, chatId: null });
  });

  it('exists: caches answers, positive and negative, so repeated checks do not ask WhatsApp', async () => {
    const getNumberId = vi.spyOn(engineOf(), 'getNumberId');
    for (let i = 0; i < 3; i++) {
      expect((await get(`c/contacts/${ANA}/exists`)).json()).toMatchObject({ exists: true });
      expect((await get(`c/contacts/${NOT_ON_WHATSAPP}/exists`)).json()).toMatchObject({ exists: false });
    }
    await Promise.all([get(`c/contacts/${BRUNO}/exists`), get(`c/contacts/${BRUNO}/exists`)]);
    expect(getNumberId.mock.calls.map(([phone]) => phone)).toEqual([ANA, NOT_ON_WHATSAPP, BRUNO]);
  });

  it('exists: 400 for anything but a phone number', async () => {
    for (const phone of ['abc', '1234567', '1234567890123456', `${ANA}@c.us`, '55 11 9111 1000 1x']) {
      expectError(await get(`c/contacts/${encodeURIComponent(phone)}/exists`), 400, 'VALIDATION_ERROR', 'params.phone');
    }
    expectError(await get(`c/contacts/${'1'.repeat(65)}/exists`), 400, 'VALIDATION_ERROR', 'params.phone');
  });

  // ---- PROFILE PICTURE ----
  it('profile-picture: by chat id or phone (resolved), null when hidden or not on WhatsApp', async () => {
    const engine = engineOf();
    expect((await get(`c/contacts/${ANA}@c.us/profile-picture`)).json()).toEqual({ url: null });
    const url = 'https://pps.whatsapp.net/v/t61/123_n.jpg?oe=1';
    const picture = vi.spyOn(engine, 'getProfilePictureUrl').mockResolvedValue(url);
    expect((await get(`c/contacts/${encodeURIComponent('+55 11 91111-0001')}/profile-picture`)).json()).toEqual({ url });
    expect((await get('c/contacts/120363025246125486@g.us/profile-picture')).json()).toEqual({ url });
    expect(picture.mock.calls.map(([id]) => id)).toEqual([`${ANA}@c.us`, '120363025246125486@g.us']);
    expect((await get(`c/contacts/${NOT_ON_WHATSAPP}/profile-picture`)).json()).toEqual({ url: null });
    expect(picture).toHaveBeenCalledTimes(2);
    for (const contactId of ['abc', 'someone@example.com', '123@c.us']) {
      expectError(await get(`c/contacts/${encodeURIComponent(contactId)}/profile-picture`), 400, 'VALIDATION_ERROR', 'params.contactId');
    }
  });

  // ---- WHICH SESSIONS ----
  it('answers 404 for an unknown session and 409 unless the session is ready', async () => {
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'waiting' } });
    await t.app.gateway.sessions.waitForStatus('waiting', ['qr'], 2_000);
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'off', start: false } });
    const calls = (id: string) => [
      get(`${id}/contacts`),
      sync(id),
      get(`${id}/contacts/${ANA}/exists`),
      get(`${id}/contacts/${ANA}/profile-picture`),
    ];
    for (const res of await Promise.all(calls('nope'))) expectError(res, 404, 'SESSION_NOT_FOUND');
    for (const res of await Promise.all([...calls('waiting'), ...calls('off')])) expectError(res, 409, 'SESSION_NOT_READY');
    expect(await t.app.gateway.storage.contacts.syncState('waiting')).toBeNull();
  });
});

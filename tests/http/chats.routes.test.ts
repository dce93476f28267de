import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineError, type Engine, type EngineChat } from '../../src/engines/engine.js';
import { readySession } from '../helpers/messaging.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

interface Chat {
  id: string;
  name: string;
  lastMessage: { id: string; body: string; fromMe: boolean; timestamp: string } | null;
}
interface ChatPage {
  data: Chat[];
  nextCursor: string | null;
}
interface ErrorBody {
  code: string;
  details: { path: string }[];
}

const CONTACT = '5511977776666';
const CHAT = `${CONTACT}@c.us`;
const NOT_ON_WHATSAPP = '5511999990000';

const chat = (id: string, at: number | null, overrides: Partial<EngineChat> = {}): EngineChat => ({
  id,
  name: id.split('@')[0] ?? id,
  isGroup: id.endsWith('@g.us'),
  unreadCount: 0,
  archived: false,
  pinned: false,
  muted: false,
  lastMessage: at === null ? null : { id: `false_${id}_3EB0${at}`, body: `at ${at}`, fromMe: false, timestamp: at },
  ...overrides,
});

describe('chat routes', () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await startTestApp();
    await readySession(t, 'c');
  });
  afterEach(() => t.close());

  const get = (url: string) => t.app.inject({ url: `/api/v1/sessions/${url}`, headers: AUTH });
  const post = (url: string, payload?: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: `/api/v1/sessions/${url}`, headers: AUTH, ...(payload === undefined ? {} : { payload }) });
  const page = async (query = ''): Promise<ChatPage> => {
    const res = await get(`c/chats${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<ChatPage>();
  };
  const engineOf = (): Engine => t.app.gateway.sessions.readyEngine('c');
  const expectError = (res: { statusCode: number; json: () => unknown }, status: number, code: string, path?: string): void => {
    expect(res.statusCode, JSON.stringify(res.json())).toBe(status);
    const body = res.json() as ErrorBody;
    expect(body.code).toBe(code);
    if (path !== undefined) expect(body.details.map((d) => d.path)).toContain(path);
  };

  // ---- LIST ----
  it("lists the engine's chats in the contract shape, times as ISO-8601", async () => {
    const inbound = await post('c/simulator/inbound', { from: CONTACT, type: 'text', text: 'Olá!', pushName: 'Carla' });
    const waMessageId = inbound.json<{ waMessageId: string }>().waMessageId;
    const { data, nextCursor } = await page();
    expect(nextCursor).toBeNull();
    expect(data).toEqual([
      {
        id: CHAT,
        name: 'Carla',
        isGroup: false,
        unreadCount: 0,
        archived: false,
        pinned: false,
        muted: false,
        lastMessage: { id: waMessageId, body: 'Olá!', fromMe: false, timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/) as unknown },
      },
    ]);
    expect(Math.abs(Date.parse(data[0]?.lastMessage?.timestamp ?? '') - Date.now())).toBeLessThan(5_000);
  });

  it('orders by latest activity (chats without messages last, ties by id) and pages with a keyset cursor', async () => {
    const chats = [chat('a@g.us', null), chat('5511900000001@c.us', 100), chat('5511900000002@c.us', 300), chat('5511900000003@c.us', 200), chat('5511900000004@c.us', 300)];
    const getChats = vi.spyOn(engineOf(), 'getChats').mockResolvedValue(chats);
    const first = await page('?limit=2');
    expect(first.data.map((c) => c.id)).toEqual(['5511900000002@c.us', '5511900000004@c.us']);
    expect(first.data[0]?.lastMessage?.timestamp).toBe('1970-01-01T00:05:00.000Z');
    const second = await page(`?limit=2&cursor=${first.nextCursor ?? ''}`);
    expect(second.data.map((c) => c.id)).toEqual(['5511900000003@c.us', '5511900000001@c.us']);
    // The chat the cursor points at is gone: the next page still starts after its position.
    getChats.mockResolvedValue(chats.filter((c) => c.id !== '5511900000001@c.us'));
    const third = await page(`?limit=2&cursor=${second.nextCursor ?? ''}`);
    expect(third).toEqual({ data: [expect.objectContaining({ id: 'a@g.us', lastMessage: null })], nextCursor: null });
    expect((await page()).data).toHaveLength(4);
  });

  it('refuses bad list parameters with 400', async () => {
    for (const [query, path] of [
      ['?limit=0', 'querystring.limit'],
      ['?limit=201', 'querystring.limit'],
      ['?cursor=garbage!', 'querystring.cursor'],
      [`?cursor=${Buffer.from('c1:5511@c.us').toString('base64url')}`, 'querystring.cursor'],
      [`?cursor=${'c'.repeat(513)}`, 'querystring.cursor'],
    ] as const) {
      expectError(await get(`c/chats${query}`), 400, 'VALIDATION_ERROR', path);
    }
  });

  // ---- SEEN AND PRESENCE ----
  it('seen: marks a chat read by chat id or phone (resolved to the canonical id)', async () => {
    const markSeen = vi.spyOn(engineOf(), 'markSeen');
    const res = await post(`c/chats/${CHAT}/seen`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ chatId: CHAT, seen: true });
    expect((await post(`c/chats/${encodeURIComponent('+55 (11) 97777-6666')}/seen`)).json()).toEqual({ chatId: CHAT, seen: true });
    expect((await post('c/chats/120363025246125486@g.us/seen')).json()).toEqual({ chatId: '120363025246125486@g.us', seen: true });
    expect(markSeen.mock.calls.map(([id]) => id)).toEqual([CHAT, CHAT, '120363025246125486@g.us']);
  });

  it('presence: typing, recording and paused, by chat id or phone', async () => {
    const setPresence = vi.spyOn(engineOf(), 'setPresence');
    for (const state of ['typing', 'recording', 'paused'] as const) {
      const res = await post(`c/chats/${CONTACT}/presence`, { state });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ chatId: CHAT, state });
    }
    expect(setPresence.mock.calls).toEqual([
      [CHAT, 'typing'],
      [CHAT, 'recording'],
      [CHAT, 'paused'],
    ]);
  });

  it('seen and presence: 400 for a malformed chat or body, 422 for a phone not on WhatsApp', async () => {
    const markSeen = vi.spyOn(engineOf(), 'markSeen');
    const setPresence = vi.spyOn(engineOf(), 'setPresence');
    for (const chatId of ['abc', '123', 'someone@example.com', '1'.repeat(65)]) {
      expectError(await post(`c/chats/${encodeURIComponent(chatId)}/seen`), 400, 'VALIDATION_ERROR', 'params.chatId');
      expectError(await post(`c/chats/${encodeURIComponent(chatId)}/presence`, { state: 'typing' }), 400, 'VALIDATION_ERROR', 'params.chatId');
    }
    for (const payload of [{ state: 'online' }, {}, { state: 'typing', extra: 1 }]) {
      expectError(await post(`c/chats/${CHAT}/presence`, payload), 400, 'VALIDATION_ERROR');
    }
    expectError(await post(`c/chats/${CHAT}/presence`, { state: 'away' }), 400, 'VALIDATION_ERROR', 'body.state');
    expectError(await post(`c/chats/${NOT_ON_WHATSAPP}/seen`), 422, 'NOT_SUPPORTED_BY_ENGINE');
    expectError(await post(`c/chats/${NOT_ON_WHATSAPP}/presence`, { state: 'typing' }), 422, 'NOT_SUPPORTED_BY_ENGINE');
    expect(markSeen).not.toHaveBeenCalled();
    expect(setPresence).not.toHaveBeenCalled();
  });

  it('reports an engine that does not know the chat instead of answering 200', async () => {
    vi.spyOn(engineOf(), 'markSeen').mockRejectedValue(new EngineError('ENGINE_ERROR', `Chat ${CHAT} was not marked as read: WhatsApp Web does not know it`));
    expectError(await post(`c/chats/${CHAT}/seen`), 422, 'NOT_SUPPORTED_BY_ENGINE');
  });

  // ---- WHICH SESSIONS ----
  it('answers 404 for an unknown session and 409 unless the session is ready', async () => {
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'waiting' } });
    await t.app.gateway.sessions.waitForStatus('waiting', ['qr'], 2_000);
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'off', start: false } });
    const calls = (id: string) => [get(`${id}/chats`), post(`${id}/chats/${CHAT}/seen`), post(`${id}/chats/${CHAT}/presence`, { state: 'typing' })];
    for (const res of await Promise.all(calls('nope'))) expectError(res, 404, 'SESSION_NOT_FOUND');
    for (const res of await Promise.all([...calls('waiting'), ...calls('off')])) expectError(res, 409, 'SESSION_NOT_READY');
  });
});

import { describe, expect, it } from 'vitest';
import { messagingHarness } from '../helpers/messaging-harness.js';
import { accepted, getMessage, readySession, simulatorOf } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, type TestApp } from '../helpers/test-app.js';

describe.each(STORAGE_MODES)('message actions (%s)', (mode) => {
  const h = messagingHarness(mode, {});
  const { start, sends } = h;
  const inject = (app: TestApp, method: 'PATCH' | 'DELETE' | 'POST', url: string, payload?: Record<string, unknown>) =>
    app.app.inject({ method, url: `/api/v1/sessions/${url}`, headers: AUTH, ...(payload ? { payload } : {}) });
  const sent = async (app: TestApp, text: string) => {
    const record = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text });
    await h.log.status(record.id, 'sent');
    return getMessage(app, 'sales', record.id);
  };

  it('edits a sent text by either id, and notes it on the record', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const record = await sent(app, 'Olá');
    const byOurs = await inject(app, 'PATCH', `sales/messages/${record.id}`, { text: 'Olá!' });
    expect(byOurs.statusCode, byOurs.body).toBe(200);
    expect(byOurs.json()).toMatchObject({ id: record.id, waMessageId: record.waMessageId, message: { content: { text: 'Olá!' } } });
    const byTheirs = await inject(app, 'PATCH', `sales/messages/${record.waMessageId ?? ''}`, { text: 'Olá!!' });
    expect(byTheirs.json()).toMatchObject({ id: record.id, message: { content: { text: 'Olá!!' } } });
    expect((await getMessage(app, 'sales', record.id)).content).toMatchObject({ text: 'Olá!!', editedAt: expect.any(Number) as unknown });
  });

  it('refuses edits: 404 unknown, 409 not sent yet, 422 not ours, 400 blank', async () => {
    const app = await start();
    await readySession(app, 'sales');
    expect((await inject(app, 'PATCH', 'sales/messages/msg_0123456789abcdef01234567', { text: 'x' })).json()).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    expect((await inject(app, 'PATCH', 'sales/messages/false_unknown@c.us_ABC', { text: 'x' })).json()).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    expect((await inject(app, 'PATCH', 'nobody/messages/msg_x', { text: 'x' })).json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect((await inject(app, 'PATCH', 'sales/messages/msg_x', { text: '  ' })).statusCode).toBe(400);
    const theirs = simulatorOf(app, 'sales').receive({ from: '5511977776666', type: 'text', text: 'oi' });
    const notOurs = await inject(app, 'PATCH', `sales/messages/${theirs}`, { text: 'x' });
    expect(notOurs.statusCode).toBe(422);
    expect(notOurs.json()).toMatchObject({ code: 'EDIT_NOT_ALLOWED' });

    simulatorOf(app, 'sales').setFaults({ sendLatencyMs: 60_000 });
    await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'slow' });
    const queued = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'behind it' });
    const early = await inject(app, 'PATCH', `sales/messages/${queued.id}`, { text: 'x' });
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ code: 'MESSAGE_NOT_SENT' });
    // Stopping the engine ends the slow send (kept queued, retried once the session is back).
    await inject(app, 'POST', 'sales/stop');
  });

  it('DELETE cancels a queued send (never sent), revokes a sent one, deletes for me with forEveryone=false', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const engine = simulatorOf(app, 'sales');
    engine.setFaults({ sendLatencyMs: 300 });
    const inFlight = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'first' });
    const queued = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'cancel me' });
    const cancelled = await inject(app, 'DELETE', `sales/messages/${queued.id}`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: queued.id, waMessageId: null, result: 'cancelled', message: { status: 'failed', error: { code: 'CANCELLED' } } });
    await h.log.status(inFlight.id, 'sent');
    engine.setFaults({ sendLatencyMs: 0 });
    const after = await sent(app, 'after');
    expect(sends.map((s) => (s.content.type === 'text' ? s.content.text : ''))).toEqual(['first', 'after']);
    expect(await getMessage(app, 'sales', queued.id)).toMatchObject({ status: 'failed', attempts: 0, waMessageId: null });
    expect((await inject(app, 'DELETE', `sales/messages/${queued.id}`)).json()).toMatchObject({ code: 'MESSAGE_NOT_SENT' });

    const revoked = await inject(app, 'DELETE', `sales/messages/${after.id}`);
    expect(revoked.json()).toMatchObject({ id: after.id, waMessageId: after.waMessageId, result: 'revoked', message: { content: { revokedAt: expect.any(Number) as unknown } } });
    const forMe = await inject(app, 'DELETE', `sales/messages/${inFlight.id}?forEveryone=false`);
    expect(forMe.json()).toMatchObject({ id: inFlight.id, result: 'deleted_for_me' });
    expect((await inject(app, 'DELETE', `sales/messages/${inFlight.id}?forEveryone=maybe`)).statusCode).toBe(400);
    const theirs = engine.receive({ from: '5511977776666', type: 'text', text: 'oi' });
    const notOurs = await inject(app, 'DELETE', `sales/messages/${theirs}`);
    expect(notOurs.statusCode).toBe(422);
    expect(notOurs.json()).toMatchObject({ code: 'REVOKE_NOT_ALLOWED' });
  });

  it('reacts to a message and removes the reaction; 404 for an unknown one; 409 when the session is not ready', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const theirs = simulatorOf(app, 'sales').receive({ from: '5511977776666', type: 'text', text: 'oi' });
    const react = await inject(app, 'POST', `sales/messages/${theirs}/reaction`, { emoji: '👍' });
    expect(react.statusCode, react.body).toBe(200);
    expect(react.json()).toMatchObject({ waMessageId: theirs });
    expect((await inject(app, 'POST', `sales/messages/${theirs}/reaction`, { emoji: '' })).statusCode).toBe(200);
    expect((await inject(app, 'POST', 'sales/messages/false_x@c.us_Y/reaction', { emoji: '👍' })).json()).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    expect((await inject(app, 'POST', `sales/messages/${theirs}/reaction`, { emoji: 'x'.repeat(17) })).statusCode).toBe(400);
    await inject(app, 'POST', 'sales/stop');
    expect((await inject(app, 'POST', `sales/messages/${theirs}/reaction`, { emoji: '👍' })).json()).toMatchObject({ code: 'SESSION_NOT_READY' });
  });
});

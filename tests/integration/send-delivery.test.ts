import { describe, expect, it } from 'vitest';
import { messagingHarness } from '../helpers/messaging-harness.js';
import { accepted, eventually, getMessage, readySession, send, simulatorOf } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES } from '../helpers/test-app.js';

describe.each(STORAGE_MODES)('send delivery (%s)', (mode) => {
  const h = messagingHarness(mode, { SEND_RETRY_DELAY: '10ms' });
  const { start, sends } = h;
  const simulator = simulatorOf;
  const text = (i: number | string) => ({ to: '5511999991234', type: 'text', text: `m${i}` });

  it('retries transient failures with backoff, holding the session’s later sends behind, and records the attempts', async () => {
    const app = await start();
    await readySession(app, 'sales');
    await readySession(app, 'other', '5511977776666');
    simulator(app, 'sales').setFaults({ failNextSends: 3 });
    const first = await accepted(app, 'sales', text(1));
    const second = await accepted(app, 'sales', text(2));
    const elsewhere = await accepted(app, 'other', text('x'));
    await h.log.allReach([first.id, second.id, elsewhere.id], ['sent']);
    expect(await getMessage(app, 'sales', first.id)).toMatchObject({ status: expect.stringMatching(/sent|delivered|read/) as unknown, attempts: 4, error: null });
    expect((await getMessage(app, 'sales', second.id)).attempts).toBe(1);
    expect(sends.filter((s) => s.sessionId === 'sales').map((s) => s.content)).toEqual([
      { type: 'text', text: 'm1', linkPreview: false },
      { type: 'text', text: 'm2', linkPreview: false },
    ]);
    expect(h.log.statusesOf(first.id).slice(0, 2)).toEqual(['queued', 'sent']);
  });

  it('gives up after SEND_MAX_ATTEMPTS with the engine’s error, then sends the next one', async () => {
    const app = await start({ SEND_MAX_ATTEMPTS: '3' });
    await readySession(app, 'sales');
    simulator(app, 'sales').setFaults({ failNextSends: 3 });
    const doomed = await accepted(app, 'sales', text(1));
    const next = await accepted(app, 'sales', text(2));
    await h.log.allReach([doomed.id], ['failed']);
    await h.log.allReach([next.id], ['sent']);
    const failed = await getMessage(app, 'sales', doomed.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 3, waMessageId: null, error: { code: 'ENGINE_ERROR' } });
    expect(failed.error?.message).toContain('3 attempts');
    expect(sends.map((s) => s.content)).toEqual([{ type: 'text', text: 'm2', linkPreview: false }]);
  });

  it('keeps per-session order for 50 sessions × 100 messages sent concurrently', async () => {
    const app = await start({ SIMULATOR_ACK_DELAYS_MS: '1,1,1' });
    const sessions = Array.from({ length: 50 }, (_, i) => `s${i}`);
    await Promise.all(sessions.map((id, i) => readySession(app, id, `55119${String(i).padStart(8, '0')}`)));
    const ids: string[] = [];
    // Requests of all sessions interleave; each session's own requests go one after the other.
    await Promise.all(
      sessions.map(async (id) => {
        for (let i = 0; i < 100; i++) ids.push((await accepted(app, id, text(i))).id);
      }),
    );
    await h.log.allReach(ids, ['sent', 'delivered', 'read'], 60_000);
    expect(sends).toHaveLength(5_000);
    for (const id of sessions) {
      expect(sends.filter((s) => s.sessionId === id).map((s) => (s.content.type === 'text' ? s.content.text : '')), id).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    }
  }, 90_000);

  it('paces a session’s sends by SEND_MIN_INTERVAL_MS at least', async () => {
    const app = await start({ SEND_MIN_INTERVAL_MS: '150', SEND_JITTER_MS: '50' });
    await readySession(app, 'sales');
    const records = [];
    for (let i = 0; i < 4; i++) records.push(await accepted(app, 'sales', text(i)));
    await h.log.allReach(records.map((r) => r.id), ['sent', 'delivered', 'read']);
    const sentAt = await Promise.all(records.map(async (r) => Date.parse((await getMessage(app, 'sales', r.id)).sentAt ?? '')));
    for (let i = 1; i < sentAt.length; i++) expect((sentAt[i] ?? 0) - (sentAt[i - 1] ?? 0)).toBeGreaterThanOrEqual(140);
  });

  it('shows typing for SEND_TYPING_MS before a text send (not before other types)', async () => {
    const presence: string[] = [];
    const app = await start({ SEND_TYPING_MS: '30' }, { onPresence: (_id, chatId, state) => presence.push(`${state} ${chatId} before send #${sends.length + 1}`) });
    await readySession(app, 'sales');
    const records = [await accepted(app, 'sales', text(1)), await accepted(app, 'sales', { to: '5511999991234', type: 'location', location: { latitude: 1, longitude: 2 } })];
    await h.log.allReach(records.map((r) => r.id), ['sent', 'delivered', 'read']);
    expect(presence).toEqual(['typing 5511999991234@c.us before send #1']);
    expect(sends.map((s) => s.content.type)).toEqual(['text', 'location']);
  });

  it('Idempotency-Key: a sequential repeat replays the record, another body is refused, parallel duplicates make one send', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const first = await send(app, 'sales', text(1), { 'idempotency-key': 'order-1' });
    expect(first.statusCode).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await send(app, 'sales', { ...text(1), to: '+55 (11) 99999-1234' }, { 'idempotency-key': 'order-1' });
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<{ id: string }>().id).toBe(first.json<{ id: string }>().id);
    const other = await send(app, 'sales', text(2), { 'idempotency-key': 'order-1' });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    const parallel = await Promise.all(Array.from({ length: 20 }, () => send(app, 'sales', text('p'), { 'idempotency-key': 'order-2' })));
    expect(parallel.map((r) => r.statusCode)).toEqual(Array(20).fill(202));
    const parallelIds = new Set(parallel.map((r) => r.json<{ id: string }>().id));
    expect(parallelIds.size).toBe(1);
    expect(parallel.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
    await h.log.allReach([first.json<{ id: string }>().id, ...parallelIds], ['sent', 'delivered', 'read']);
    // Keys are per session: the same key elsewhere is a new message.
    await readySession(app, 'other', '5511977776666');
    const elsewhere = await send(app, 'other', text(1), { 'idempotency-key': 'order-1' });
    expect(elsewhere.json<{ id: string }>().id).not.toBe(first.json<{ id: string }>().id);
    await h.log.allReach([elsewhere.json<{ id: string }>().id], ['sent', 'delivered', 'read']);
    expect(sends.map((s) => `${s.sessionId}:${s.content.type === 'text' ? s.content.text : ''}`)).toEqual(['sales:m1', 'sales:mp', 'other:m1']);
  });

  it('expires a send the session cannot make within SEND_TTL', async () => {
    const app = await start({ SEND_TTL: '300ms' });
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'waiting' } });
    await app.app.gateway.sessions.waitForStatus('waiting', ['qr'], 2_000);
    const record = await accepted(app, 'waiting', text(1));
    await h.log.status(record.id, 'failed');
    expect(await getMessage(app, 'waiting', record.id)).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'SEND_EXPIRED' } });
  });

  it('fails the queued sends of a deleted session with SESSION_DELETED and never sends them', async () => {
    const app = await start();
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'gone' } });
    await app.app.gateway.sessions.waitForStatus('gone', ['qr'], 2_000);
    const records = [await accepted(app, 'gone', text(1)), await accepted(app, 'gone', text(2))];
    expect((await app.app.inject({ method: 'DELETE', url: '/api/v1/sessions/gone', headers: AUTH })).statusCode).toBe(204);
    await h.log.allReach(records.map((r) => r.id), ['failed']);
    for (const r of records) expect(await app.app.gateway.storage.messages.get(r.id)).toMatchObject({ status: 'failed', error: { code: 'SESSION_DELETED' } });
    expect(await app.app.gateway.queue.counts('gone')).toEqual({ waiting: 0, active: 0 });
    expect(sends).toEqual([]);
  });

  it('an ack -1 fails a sent message with ACK_ERROR; later acks do not revive it', async () => {
    const app = await start();
    await readySession(app, 'sales');
    simulator(app, 'sales').setFaults({ autoAck: false });
    const record = await accepted(app, 'sales', text(1));
    const waId = await eventually(async () => (await getMessage(app, 'sales', record.id)).waMessageId);
    expect(simulator(app, 'sales').ack(waId, -1)).toBe(true);
    await h.log.status(record.id, 'failed');
    simulator(app, 'sales').ack(waId, 3);
    await app.app.gateway.pipeline.idle();
    expect(await getMessage(app, 'sales', record.id)).toMatchObject({ status: 'failed', waMessageId: waId, error: { code: 'ACK_ERROR' } });
  });

  it('applies an ack of a recorded send at once, while the session’s next send is still in the engine', async () => {
    const app = await start();
    await readySession(app, 'sales');
    simulator(app, 'sales').setFaults({ autoAck: false });
    const first = await accepted(app, 'sales', text(1));
    await h.log.status(first.id, 'sent');
    const waId = await eventually(async () => (await getMessage(app, 'sales', first.id)).waMessageId);
    // The next send stays in the engine for 30 s; the first one's ack must not wait for it.
    simulator(app, 'sales').setFaults({ sendLatencyMs: 30_000 });
    const second = await accepted(app, 'sales', text(2));
    await eventually(async () => (sends.length === 1 && (await getMessage(app, 'sales', second.id)).attempts === 1 ? true : null));
    expect(simulator(app, 'sales').ack(waId, 2)).toBe(true);
    await h.log.status(first.id, 'delivered', 5_000);
    expect((await getMessage(app, 'sales', second.id)).status).toBe('queued');
    // Stopping the session ends the send held in the engine (the app then closes without waiting for it).
    await app.app.gateway.sessions.stop('sales');
  });
});

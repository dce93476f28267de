import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineError, type EngineEvent } from '../../src/engines/engine.js';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import { GatewayEventLog } from '../helpers/gateway-event-log.js';
import { readySession } from '../helpers/messaging.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

const CONTACT = '5511977776666';
const CHAT = `${CONTACT}@c.us`;
const PNG_BASE64 = Buffer.from('not really a png').toString('base64');

interface ErrorBody {
  code: string;
  details: { path: string; message: string }[];
}

describe('simulator control routes', () => {
  let t: TestApp;
  let log: GatewayEventLog;
  /** Engine events as the simulated phone emits them (synchronously, inside the request): exact counts right after a call. */
  let engineEvents: EngineEvent[];

  beforeEach(async () => {
    t = await startTestApp();
    log = new GatewayEventLog(t.app.gateway.bus);
    engineEvents = [];
    t.app.gateway.bus.tapEngine((sessionId, event) => {
      if (sessionId === 'sim') engineEvents.push(event);
    });
    await readySession(t, 'sim');
  });
  afterEach(async () => {
    log.close();
    await t.close();
  });

  const post = (path: string, payload: unknown, session = 'sim') =>
    t.app.inject({ method: 'POST', url: `/api/v1/sessions/${session}/simulator/${path}`, headers: AUTH, payload: payload as Record<string, unknown> });
  const simulator = (id = 'sim'): SimulatorEngine => {
    const engine = t.app.gateway.sessions.readyEngine(id);
    if (!(engine instanceof SimulatorEngine)) throw new Error('not a simulator');
    return engine;
  };
  const inbound = async (payload: Record<string, unknown>): Promise<string> => {
    const res = await post('inbound', payload);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ waMessageId: string }>().waMessageId;
  };
  /** One of our messages, sent straight through the engine, with the automatic acks off. */
  const ourMessage = async (): Promise<string> => {
    expect((await post('faults', { autoAck: false })).statusCode).toBe(200);
    return (await simulator().send(CHAT, { type: 'text', text: 'ours' }, {})).waMessageId;
  };
  const emitted = (type: EngineEvent['type']): number => engineEvents.filter((e) => e.type === type).length;
  const expectError = (res: { statusCode: number; json: () => unknown }, status: number, code: string, path?: string): void => {
    expect(res.statusCode).toBe(status);
    const body = res.json() as ErrorBody;
    expect(body.code).toBe(code);
    if (path !== undefined) expect(body.details.map((d) => d.path)).toContain(path);
  };

  // ---- INBOUND ----
  it('inbound: a contact writes to us (201), and the gateway sees message_create and message', async () => {
    const res = await post('inbound', { from: '+55 (11) 97777-6666', type: 'text', text: 'Olá!', pushName: 'Carla' });
    expect(res.statusCode).toBe(201);
    const { waMessageId, chatId } = res.json<{ waMessageId: string; chatId: string }>();
    expect(chatId).toBe(CHAT);
    expect(waMessageId).toMatch(/^false_5511977776666@c\.us_3EB0/);
    const message = await log.nth('sim', 'message', 1);
    expect(message.data).toMatchObject({ from: CHAT, to: '5511988887777@c.us', body: 'Olá!', messageId: waMessageId, isGroup: false, type: 'chat', fromMe: false, quotedMessageId: null });
    expect((await log.nth('sim', 'message_create', 1)).data).toMatchObject({ id: waMessageId, fromMe: false });
  });

  it('inbound: media with a caption, a location, a group, and a quote of a known message', async () => {
    const first = await inbound({ from: CHAT, type: 'text', text: 'see below' });
    const image = await inbound({ from: '120363025246125486@g.us', type: 'image', text: 'catálogo', media: { data: PNG_BASE64, mimetype: 'image/png', filename: 'c.png' }, quotedMessageId: first });
    const place = await inbound({ from: CHAT, type: 'location', location: { latitude: -23.56, longitude: -46.65, name: 'Paulista' } });
    const events = [await log.nth('sim', 'message', 2), await log.nth('sim', 'message', 3)];
    expect(events[0]?.data).toMatchObject({ messageId: image, type: 'image', body: 'catálogo', hasMedia: true, isGroup: true, quotedMessageId: first });
    expect(events[1]?.data).toMatchObject({ messageId: place, type: 'location', location: { latitude: -23.56, longitude: -46.65, name: 'Paulista' } });
  });

  it('inbound: refuses incoherent or oversize bodies with 400 naming the field, and an unknown quote with 404', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ from: CHAT, type: 'text' }, 'body.text'],
      [{ from: CHAT, type: 'image' }, 'body.media'],
      [{ from: CHAT, type: 'text', text: 'x', media: { data: PNG_BASE64, mimetype: 'image/png' } }, 'body.media'],
      [{ from: CHAT, type: 'location' }, 'body.location'],
      [{ from: CHAT, type: 'text', text: 'x', location: { latitude: 0, longitude: 0 } }, 'body.location'],
      [{ from: CHAT, type: 'location', location: { latitude: 91, longitude: 0 } }, 'body.location.latitude'],
      [{ from: CHAT, type: 'poll', text: 'x' }, 'body.type'],
      [{ from: '12345', type: 'text', text: 'x' }, 'body.from'],
      [{ from: 'someone@example.com', type: 'text', text: 'x' }, 'body.from'],
      [{ from: '5511977770000', type: 'text', text: 'not on WhatsApp' }, 'body.from'],
      [{ from: CHAT, type: 'text', text: '' }, 'body.text'],
      [{ from: CHAT, type: 'text', text: 'x'.repeat(4097) }, 'body.text'],
      [{ from: CHAT, type: 'image', media: { data: 'not base64!', mimetype: 'image/png' } }, 'body.media.data'],
      [{ from: CHAT, type: 'image', media: { data: PNG_BASE64, mimetype: 'png' } }, 'body.media.mimetype'],
      [{ from: CHAT, type: 'image', media: { url: 'https://example.com/a.png' } }, 'body.media'],
      [{ from: CHAT, type: 'image', media: { data: Buffer.alloc(512 * 1024 + 1).toString('base64'), mimetype: 'image/png' } }, 'body.media.data'],
      [{ from: CHAT, type: 'text', text: 'x', quotedMessageId: 'has space' }, 'body.quotedMessageId'],
      [{ from: CHAT, type: 'text', text: 'x', extra: true }, 'body'],
    ];
    for (const [payload, path] of cases) {
      const res = await post('inbound', payload);
      expect(res.statusCode, `${path}: ${res.body}`).toBe(400);
      expect(res.json<ErrorBody>().details.some((d) => d.path.startsWith(path)), `${path}: ${res.body}`).toBe(true);
    }
    expectError(await post('inbound', { from: CHAT, type: 'text', text: 'x', quotedMessageId: 'false_x@c.us_3EB0NOPE' }), 404, 'MESSAGE_NOT_FOUND');
    // Exactly at the cap is fine; it is the first message the gateway sees, so none of the refused ones got through.
    const atCap = await inbound({ from: CHAT, type: 'image', media: { data: Buffer.alloc(512 * 1024).toString('base64'), mimetype: 'image/png' } });
    expect((await log.nth('sim', 'message', 1)).data.messageId).toBe(atCap);
  });

  // ---- ACK ----
  it('ack: drives message_ack by hand for a message the phone knows', async () => {
    const ours = await ourMessage();
    const res = await post('ack', { messageId: ours, ack: 3 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ messageId: ours, chatId: CHAT, ack: 3, status: 'read' });
    expect((await log.nth('sim', 'message_ack', 1)).data).toMatchObject({ messageId: ours, ack: 3, status: 'read' });
    expect((await post('ack', { messageId: ours, ack: -1 })).json()).toMatchObject({ ack: -1, status: 'error' });
    expect((await log.nth('sim', 'message_ack', 2)).data).toMatchObject({ ack: -1 });
  });

  it('ack: 404 for a message the phone does not know (with a hint for gateway ids), 400 for levels outside -1..4', async () => {
    expectError(await post('ack', { messageId: 'true_5511977776666@c.us_3EB0UNKNOWN', ack: 1 }), 404, 'MESSAGE_NOT_FOUND');
    const gatewayId = await post('ack', { messageId: 'msg_abc', ack: 1 });
    expectError(gatewayId, 404, 'MESSAGE_NOT_FOUND');
    expect(gatewayId.json<{ message: string }>().message).toContain('waMessageId');
    const ours = await ourMessage();
    for (const ack of [5, -2, 1.5, '3']) expectError(await post('ack', { messageId: ours, ack }), 400, 'VALIDATION_ERROR', 'body.ack');
    expectError(await post('ack', { ack: 1 }), 400, 'VALIDATION_ERROR', 'body.messageId');
    expect(emitted('message_ack')).toBe(0);
  });

  // ---- EDIT AND REVOKE ----
  it('edit: a contact edits their message (message_edit), never ours, a revoked one or a voice note', async () => {
    const theirs = await inbound({ from: CHAT, type: 'text', text: 'typo' });
    const res = await post('edit', { messageId: theirs, text: 'fixed' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ messageId: theirs, chatId: CHAT, newBody: 'fixed', previousBody: 'typo' });
    expect((await log.nth('sim', 'message_edit', 1)).data).toMatchObject({ messageId: theirs, newBody: 'fixed', previousBody: 'typo' });
    expect((await post('edit', { messageId: theirs, text: 'again' })).json()).toMatchObject({ previousBody: 'fixed' });

    expectError(await post('edit', { messageId: await ourMessage(), text: 'hijack' }), 422, 'EDIT_NOT_ALLOWED');
    const voice = await inbound({ from: CHAT, type: 'audio', media: { data: PNG_BASE64, mimetype: 'audio/ogg; codecs=opus' } });
    expectError(await post('edit', { messageId: voice, text: 'x' }), 422, 'EDIT_NOT_ALLOWED');
    expect((await post('revoke', { messageId: theirs })).statusCode).toBe(200);
    expectError(await post('edit', { messageId: theirs, text: 'after revoke' }), 422, 'EDIT_NOT_ALLOWED');
    expectError(await post('edit', { messageId: 'false_x@c.us_3EB0NOPE', text: 'x' }), 404, 'MESSAGE_NOT_FOUND');
    expectError(await post('edit', { messageId: theirs, text: '' }), 400, 'VALIDATION_ERROR', 'body.text');
    expectError(await post('edit', { messageId: theirs, text: 'x'.repeat(4097) }), 400, 'VALIDATION_ERROR', 'body.text');
    expect(emitted('message_edit')).toBe(2);
  });

  it('revoke: a contact revokes their message once (message_revoke_everyone), never ours', async () => {
    const theirs = await inbound({ from: CHAT, type: 'text', text: 'oops' });
    const res = await post('revoke', { messageId: theirs });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ messageId: theirs, chatId: CHAT, revoked: true });
    expect((await log.nth('sim', 'message_revoke_everyone', 1)).data).toMatchObject({ messageId: theirs });
    expectError(await post('revoke', { messageId: theirs }), 422, 'REVOKE_NOT_ALLOWED');
    expectError(await post('revoke', { messageId: await ourMessage() }), 422, 'REVOKE_NOT_ALLOWED');
    expectError(await post('revoke', { messageId: 'false_x@c.us_3EB0NOPE' }), 404, 'MESSAGE_NOT_FOUND');
    expect(emitted('message_revoke_everyone')).toBe(1);
  });

  // ---- FAULTS ----
  it('faults: failNextSends makes exactly the next n engine sends fail with a transient error', async () => {
    const res = await post('faults', { failNextSends: 2 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ failNextSends: 2, sendLatencyMs: 0, autoAck: true });
    const engine = t.app.gateway.sessions.readyEngine('sim');
    for (let i = 0; i < 2; i++) {
      const failure = await engine.send(CHAT, { type: 'text', text: `try ${i}` }, {}).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(EngineError);
      expect(failure).toMatchObject({ code: 'ENGINE_ERROR', reconnectable: true });
    }
    expect((await post('faults', {})).json()).toEqual({ failNextSends: 0, sendLatencyMs: 0, autoAck: true });
    const sent = await engine.send(CHAT, { type: 'text', text: 'third' }, {});
    expect((await log.nth('sim', 'message_ack', 1)).data).toMatchObject({ messageId: sent.waMessageId, ack: 1 });
  });

  it('faults: sendLatencyMs delays sends, autoAck false stops the automatic acks; other faults are kept', async () => {
    expect((await post('faults', { sendLatencyMs: 80, autoAck: false })).json()).toEqual({ failNextSends: 0, sendLatencyMs: 80, autoAck: false });
    expect((await post('faults', { failNextSends: 1 })).json()).toEqual({ failNextSends: 1, sendLatencyMs: 80, autoAck: false });
    expect((await post('faults', { failNextSends: 0 })).json()).toMatchObject({ failNextSends: 0 });
    const engine = t.app.gateway.sessions.readyEngine('sim');
    const startedAt = performance.now();
    const sent = await engine.send(CHAT, { type: 'text', text: 'slow' }, {});
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(75);
    // No automatic ack arrives; a manual one is the first.
    expect((await post('ack', { messageId: sent.waMessageId, ack: 2 })).statusCode).toBe(200);
    expect((await log.nth('sim', 'message_ack', 1)).data).toMatchObject({ messageId: sent.waMessageId, ack: 2 });
  });

  it('faults: refuses values outside their limits', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ failNextSends: 1001 }, 'body.failNextSends'],
      [{ failNextSends: -1 }, 'body.failNextSends'],
      [{ failNextSends: 1.5 }, 'body.failNextSends'],
      [{ sendLatencyMs: 60_001 }, 'body.sendLatencyMs'],
      [{ sendLatencyMs: -1 }, 'body.sendLatencyMs'],
      [{ autoAck: 'no' }, 'body.autoAck'],
      [{ failNextSends: 1, unknown: 1 }, 'body'],
    ];
    for (const [payload, path] of cases) expectError(await post('faults', payload), 400, 'VALIDATION_ERROR', path);
    expect((await post('faults', { failNextSends: 1000, sendLatencyMs: 60_000 })).statusCode).toBe(200);
  });

  // ---- WHICH SESSIONS ----
  it('answers 404 for an unknown session, 409 when the simulated phone is not connected, 422 on another engine', async () => {
    const theirs = await inbound({ from: CHAT, type: 'text', text: 'x' });
    const bodies: [string, Record<string, unknown>][] = [
      ['inbound', { from: CHAT, type: 'text', text: 'x' }],
      ['ack', { messageId: theirs, ack: 1 }],
      ['edit', { messageId: theirs, text: 'y' }],
      ['revoke', { messageId: theirs }],
      ['faults', { failNextSends: 1 }],
    ];
    const create = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload });
    await create({ id: 'waiting' });
    await t.app.gateway.sessions.waitForStatus('waiting', ['qr'], 2_000);
    await create({ id: 'stopped', start: false });
    await create({ id: 'web', engine: 'webjs', start: false });
    for (const [path, payload] of bodies) {
      expectError(await post(path, payload, 'nope'), 404, 'SESSION_NOT_FOUND');
      expectError(await post(path, payload, 'waiting'), 409, 'SESSION_NOT_READY');
      expectError(await post(path, payload, 'stopped'), 409, 'SESSION_NOT_READY');
      expectError(await post(path, payload, 'web'), 422, 'NOT_SUPPORTED_BY_ENGINE');
    }
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/sim/stop', headers: AUTH });
    for (const [path, payload] of bodies) expectError(await post(path, payload), 409, 'SESSION_NOT_READY');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { EngineContext, EngineEvent, EngineEventListener } from '../../src/engines/engine.js';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import type { SimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import { EVENT_DEFINITIONS, EVENT_NAMES, envelopeSchema, isEventName } from '../../src/events/event-schemas.js';
import { GatewayEventLog } from '../helpers/gateway-event-log.js';
import { MessageStatusLog, accepted } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

const CONTACT = '5511977776666@c.us';
const GROUP = '120363012345678901@g.us';

/** The simulator, plus a way to make it report any engine event (those it never emits by itself). */
class InjectableSimulator extends SimulatorEngine {
  private readonly subscribers = new Set<EngineEventListener>();

  override onEvent(listener: EngineEventListener): () => void {
    const off = super.onEvent(listener);
    this.subscribers.add(listener);
    return () => {
      off();
      this.subscribers.delete(listener);
    };
  }

  inject(event: EngineEvent): void {
    for (const listener of this.subscribers) listener(event);
  }
}

const injectableDriver: SimulatorDriver = {
  name: 'simulator',
  create: (context: EngineContext) => new InjectableSimulator(context, { qrRotationMs: 60_000, ackDelaysMs: [5, 10, 15] }),
  removeAuthData: async () => undefined,
};

/** `data` exactly as documented: no undocumented field, at any level the schema describes. */
const strictData = (name: keyof typeof EVENT_DEFINITIONS) => z.strictObject(EVENT_DEFINITIONS[name].data.shape);

describe.each(STORAGE_MODES)('every event the gateway publishes matches its documented schema (%s)', (mode) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('drives a session through all of them and checks each event and each logged envelope', async () => {
    t = await startTestApp({ mode }, { engineDrivers: [injectableDriver] });
    const app = t;
    const bus = new GatewayEventLog(app.app.gateway.bus);
    const statuses = new MessageStatusLog(app.app.gateway.bus);
    const post = async (url: string, payload: Record<string, unknown>, status: number): Promise<void> => {
      const res = await app.app.inject({ method: 'POST', url, headers: AUTH, payload });
      expect(res.statusCode, `${url} ${res.body}`).toBe(status);
    };

    await post('/api/v1/sessions', { id: 'cat', engine: 'simulator' }, 201);
    await bus.nth('cat', 'qr_code', 1);
    await post('/api/v1/sessions/cat/pairing-code', { phone: '5511988887777' }, 200);
    await bus.nth('cat', 'pairing_code', 1);
    await post('/api/v1/sessions/cat/simulator/scan', { phone: '5511988887777' }, 200);
    await app.app.gateway.sessions.waitForStatus('cat', ['ready'], 2_000);
    const engine = app.app.gateway.sessions.engineOf('cat');
    if (!(engine instanceof InjectableSimulator)) throw new Error('expected the injectable simulator');

    const sent = await accepted(app, 'cat', { to: '5511999991234', type: 'text', text: 'Olá!', clientRef: 'order-1' });
    await statuses.status(sent.id, 'read');
    const failed = await accepted(app, 'cat', { to: '5511999990000', type: 'text', text: 'nobody' });
    await statuses.status(failed.id, 'failed');

    const theirs = engine.receive({ from: CONTACT, type: 'text', text: 'first' });
    engine.receive({ from: CONTACT, type: 'location', location: { latitude: -23.5, longitude: -46.6, name: 'Office' } });
    expect(engine.contactEdits(theirs, 'second')).toBe(true);
    expect(engine.contactRevokes(theirs)).toBe(true);
    await engine.react(theirs, '👍');
    const now = Math.floor(Date.now() / 1000);
    const inbound = {
      waMessageId: 'false_123456789@lid_3EB0AAAA',
      from: '123456789@lid',
      to: '5511988887777@c.us',
      chatId: GROUP,
      author: '123456789@lid',
      body: '',
      type: 'image',
      timestamp: now,
      isGroup: true,
      fromMe: false,
      hasMedia: true,
      media: null,
      quotedMessageId: theirs,
      mentions: ['5511988887777@c.us'],
      location: null,
      isForwarded: true,
      isStatus: false,
      fromPhone: '5511966665555',
      mediaError: 'download failed',
    };
    engine.inject({ type: 'message_create', message: inbound });
    engine.inject({ type: 'message', message: inbound });
    engine.inject({ type: 'vote_update', waMessageId: 'true_x_POLL', voter: CONTACT, selectedOptions: ['a', 'b'], timestamp: now });
    engine.inject({ type: 'call', callId: 'CALL1', from: CONTACT, isVideo: true, isGroup: false, timestamp: now });
    engine.inject({ type: 'group_update', kind: 'admin_changed', chatId: GROUP, author: null, recipients: [CONTACT], subtype: 'promote', body: '', timestamp: now });
    engine.inject({ type: 'change_battery', battery: 55, plugged: true });
    engine.inject({ type: 'change_state', state: 'CONNECTED' });
    await bus.nth('cat', 'connection.status', 1);
    await post('/api/v1/sessions/cat/simulator/disconnect', { reason: 'CONFLICT' }, 202);
    await bus.nth('cat', 'disconnected', 1);
    await bus.nthStatus('cat', 'disconnected');
    const deleted = await app.app.inject({ method: 'DELETE', url: '/api/v1/sessions/cat', headers: AUTH });
    expect(deleted.statusCode, deleted.body).toBe(204);
    await bus.until(() => bus.of('cat', 'session.status').find((e) => e.data.reason === 'DELETED'), 2_000, 'DELETED');
    await app.app.gateway.pipeline.idle();
    await app.app.gateway.events.idle();

    const published = bus.of('cat');
    for (const event of published) {
      expect(isEventName(event.event), event.event).toBe(true);
      if (!isEventName(event.event)) continue;
      const parsed = strictData(event.event).safeParse(event.data);
      expect(parsed.success, `${event.event} ${JSON.stringify(event.data).slice(0, 300)}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    }
    expect([...new Set(published.map((e) => e.event))].sort()).toEqual([...EVENT_NAMES].sort());

    // The log holds the same events as envelopes that match the documented envelope exactly.
    const logged = await app.app.gateway.events.read('cat', 0, 1_000);
    expect(logged.map((e) => e.event)).toEqual(published.map((e) => e.event));
    for (const envelope of logged) {
      if (!isEventName(envelope.event)) continue;
      const schema = z.strictObject(envelopeSchema(z.literal(envelope.event), strictData(envelope.event)).shape);
      const parsed = schema.safeParse(envelope);
      expect(parsed.success, `${envelope.event}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    }
  });
});

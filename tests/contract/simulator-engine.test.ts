import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { pino } from 'pino';
import QRCode from 'qrcode';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engines/engine.js';
import { createSimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import { SimulatorEngine, type SimulatorOptions } from '../../src/engines/simulator/simulator-engine.js';
import { EngineEventLog, MemoryAuthStore, anyNumber, anyString, delay, describeEngineConformance, engineErrorOf } from './engine.contract.js';

const OPTIONS: SimulatorOptions = { qrRotationMs: 30, ackDelaysMs: [5, 10, 15] };
const TIMEOUT_MS = 2_000;
/** Longer than every simulator timer in OPTIONS. */
const QUIET_MS = 120;
const ON_WHATSAPP = '5511987654321';
const NOT_ON_WHATSAPP = '5511987650000';
const CHAT = `${ON_WHATSAPP}@c.us`;

// jsqr is a webpack UMD bundle: depending on the loader its default import is the function or a module object holding it.
const loadedJsQR: unknown = jsQRModule;
const jsQR = (typeof loadedJsQR === 'function' ? loadedJsQR : (loadedJsQR as { default: unknown }).default) as typeof jsQRModule.default;

async function scan(engine: Engine): Promise<void> {
  if (!(engine instanceof SimulatorEngine)) throw new Error(`expected a SimulatorEngine, got ${engine.name}`);
  if (!(await engine.scan({}))) throw new Error('the simulator showed no QR to scan');
}

describeEngineConformance('simulator', (context) => createSimulatorDriver(OPTIONS).create(context), {
  showsQr: true,
  canLink: scan,
  numbers: { onWhatsApp: ON_WHATSAPP, notOnWhatsApp: NOT_ON_WHATSAPP },
  eventTimeoutMs: TIMEOUT_MS,
  quietMs: QUIET_MS,
});

describe('simulator engine (simulator-only behaviour)', () => {
  const logger = pino({ level: 'silent' });
  const engines: SimulatorEngine[] = [];

  const create = (options: SimulatorOptions = OPTIONS, auth = new MemoryAuthStore()): { engine: SimulatorEngine; log: EngineEventLog; auth: MemoryAuthStore } => {
    const engine = new SimulatorEngine({ sessionId: `sim_${engines.length}`, logger, auth }, options);
    engines.push(engine);
    return { engine, log: new EngineEventLog(engine), auth };
  };

  const ready = async (
    input: { phone?: string; pushName?: string } = {},
    options: SimulatorOptions = OPTIONS,
  ): Promise<{ engine: SimulatorEngine; log: EngineEventLog; auth: MemoryAuthStore }> => {
    const created = create(options);
    await created.engine.start();
    await created.log.next('qr', TIMEOUT_MS);
    expect(await created.engine.scan(input)).toBe(true);
    await created.log.next('ready', TIMEOUT_MS);
    return created;
  };

  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.stop()));
  });

  describe('QR', () => {
    it('rotates the QR code every qrRotationMs with a new code each time', async () => {
      const rotationMs = 40;
      const { engine, log } = create({ ...OPTIONS, qrRotationMs: rotationMs });
      const seenAt: number[] = [];
      engine.onEvent((event) => {
        if (event.type === 'qr') seenAt.push(performance.now());
      });
      await engine.start();
      await log.nth('qr', 4, TIMEOUT_MS);
      const codes = log.ofType('qr').map((e) => e.qr);
      expect(new Set(codes).size).toBe(codes.length);
      for (let i = 1; i < 4; i++) {
        const gap = (seenAt[i] ?? 0) - (seenAt[i - 1] ?? 0);
        // Timers never fire early (1 ms of rounding allowed); an upper bound only catches a runaway.
        expect(gap).toBeGreaterThanOrEqual(rotationMs - 1);
        expect(gap).toBeLessThan(1_000);
      }
    });

    it('shows codes in the WhatsApp Web format that survive a QR image round trip', async () => {
      const { engine, log } = create();
      await engine.start();
      const { qr } = await log.next('qr', TIMEOUT_MS);
      expect(qr).toMatch(/^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+$/);
      const png = PNG.sync.read(await QRCode.toBuffer(qr, { type: 'png', errorCorrectionLevel: 'L', margin: 2, width: 300 }));
      const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
      expect(decoded?.data).toBe(qr);
    });

    it('stops rotating once scanned, and scan() is refused when no QR is showing', async () => {
      const { engine, log } = create();
      expect(await engine.scan({})).toBe(false);
      await engine.start();
      await log.next('qr', TIMEOUT_MS);
      expect(await engine.scan({ phone: '5511912345678', pushName: 'Sales' })).toBe(true);
      expect(await engine.scan({})).toBe(false);
      const readyEvent = await log.next('ready', TIMEOUT_MS);
      expect(readyEvent.me).toEqual({ id: '5511912345678@c.us', phone: '5511912345678', pushName: 'Sales' });
      const qrs = log.ofType('qr').length;
      await delay(QUIET_MS);
      expect(log.ofType('qr').length).toBe(qrs);
      // whatsapp-web.js order: loading_screen, authenticated, then ready (with the CONNECTED state).
      const types = log.types().filter((t) => t !== 'qr');
      expect(types).toEqual(['loading_screen', 'authenticated', 'change_state', 'ready']);
    });

    it('keeps the link in the auth store once scanned', async () => {
      const { auth } = await ready({ phone: '5511912345678', pushName: 'Sales' });
      expect(auth.state).toEqual({ phone: '5511912345678', pushName: 'Sales' });
      expect(auth.saves).toBe(1);
    });

    it('gives a pairing code (and a pairing_code event) only while waiting for the scan', async () => {
      const { engine, log } = create();
      await engine.start();
      await log.next('qr', TIMEOUT_MS);
      const code = await engine.requestPairingCode(ON_WHATSAPP);
      expect(code).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
      expect((await log.next('pairing_code', TIMEOUT_MS)).code).toBe(code);
      await scan(engine);
      await log.next('ready', TIMEOUT_MS);
      expect((await engineErrorOf(engine.requestPairingCode(ON_WHATSAPP))).code).toBe('ENGINE_ERROR');
    });
  });

  describe('sends and acks', () => {
    it('acknowledges every send automatically with acks 1, 2, 3 in order, after the configured delays', async () => {
      const ackDelaysMs = [10, 30, 50];
      const { engine, log } = await ready({}, { ...OPTIONS, ackDelaysMs });
      const sentAt = performance.now();
      const ackAt: number[] = [];
      engine.onEvent((event) => {
        if (event.type === 'message_ack') ackAt.push(performance.now() - sentAt);
      });
      const { waMessageId } = await engine.send(CHAT, { type: 'text', text: 'hi' }, {});
      await log.nth('message_ack', 3, TIMEOUT_MS);
      expect(log.ofType('message_ack')).toEqual([
        { type: 'message_ack', waMessageId, chatId: CHAT, ack: 1 },
        { type: 'message_ack', waMessageId, chatId: CHAT, ack: 2 },
        { type: 'message_ack', waMessageId, chatId: CHAT, ack: 3 },
      ]);
      ackAt.forEach((at, i) => expect(at).toBeGreaterThanOrEqual((ackDelaysMs[i] ?? 0) - 1));
      await delay(QUIET_MS);
      expect(log.ofType('message_ack')).toHaveLength(3);
    });

    it('setFaults({ failNextSends }) fails exactly that many sends with a reconnectable ENGINE_ERROR', async () => {
      const { engine } = await ready();
      engine.setFaults({ failNextSends: 2 });
      for (let i = 0; i < 2; i++) {
        const error = await engineErrorOf(engine.send(CHAT, { type: 'text', text: `try ${i}` }, {}));
        expect({ code: error.code, reconnectable: error.reconnectable }).toEqual({ code: 'ENGINE_ERROR', reconnectable: true });
      }
      await expect(engine.send(CHAT, { type: 'text', text: 'third' }, {})).resolves.toMatchObject({ waMessageId: anyString });
    });

    it('setFaults({ autoAck: false }) turns automatic acks off; ack() drives them by hand', async () => {
      const { engine, log } = await ready();
      engine.setFaults({ autoAck: false });
      const { waMessageId } = await engine.send(CHAT, { type: 'text', text: 'manual acks' }, {});
      await delay(QUIET_MS);
      expect(log.ofType('message_ack')).toEqual([]);
      expect(engine.ack(waMessageId, 2)).toBe(true);
      expect(engine.ack(waMessageId, -1)).toBe(true);
      expect(engine.ack('true_x@c.us_3EB0UNKNOWN', 1)).toBe(false);
      expect(log.ofType('message_ack').map((e) => e.ack)).toEqual([2, -1]);
      // Other faults are kept when one is changed.
      engine.setFaults({ failNextSends: 1 });
      await engineErrorOf(engine.send(CHAT, { type: 'text', text: 'fails' }, {}));
      await engine.send(CHAT, { type: 'text', text: 'still no acks' }, {});
      await delay(QUIET_MS);
      expect(log.ofType('message_ack')).toHaveLength(2);
    });

    it('setFaults({ sendLatencyMs }) delays every send', async () => {
      const { engine } = await ready();
      engine.setFaults({ sendLatencyMs: 60 });
      const startedAt = performance.now();
      await engine.send(CHAT, { type: 'text', text: 'slow' }, {});
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(59);
    });

    it('a send held by sendLatencyMs when the engine stops rejects with a reconnectable EngineError', async () => {
      // Broke: stop() cleared the latency timer, so the pending send never settled (the send queue would hang on it).
      const { engine } = await ready();
      engine.setFaults({ sendLatencyMs: 5_000 });
      const pending = engine.send(CHAT, { type: 'text', text: 'in flight' }, {});
      await delay(5);
      await engine.stop();
      const error = await Promise.race([engineErrorOf(pending), delay(1_000).then(() => null)]);
      expect(error?.reconnectable).toBe(true);
    });

    it('refuses a number not on WhatsApp and an unknown quoted message with permanent errors', async () => {
      const { engine } = await ready();
      const notOnWhatsApp = await engineErrorOf(engine.send(`${NOT_ON_WHATSAPP}@c.us`, { type: 'text', text: 'hi' }, {}));
      expect({ code: notOnWhatsApp.code, reconnectable: notOnWhatsApp.reconnectable }).toEqual({ code: 'NUMBER_NOT_ON_WHATSAPP', reconnectable: false });
      const unknownQuote = await engineErrorOf(engine.send(CHAT, { type: 'text', text: 'hi' }, { quotedMessageId: 'false_x@c.us_3EB0NOPE' }));
      expect(unknownQuote.code).toBe('QUOTED_MESSAGE_NOT_FOUND');
      const { waMessageId } = await engine.send(CHAT, { type: 'text', text: 'original' }, {});
      await expect(engine.send(CHAT, { type: 'text', text: 'reply' }, { quotedMessageId: waMessageId })).resolves.toMatchObject({ timestamp: anyNumber });
    });

    it('emits message_edit, message_revoke_everyone and message_reaction for its own actions', async () => {
      const { engine, log } = await ready({ phone: '5511912345678' });
      const { waMessageId } = await engine.send(CHAT, { type: 'text', text: 'before' }, {});
      await engine.react(waMessageId, '❤️');
      await engine.edit(waMessageId, 'after');
      await engine.revoke(waMessageId, true);
      expect(log.ofType('message_reaction')).toEqual([{ type: 'message_reaction', waMessageId, reaction: '❤️', senderId: '5511912345678@c.us', timestamp: anyNumber }]);
      expect(log.ofType('message_edit')).toEqual([{ type: 'message_edit', waMessageId, chatId: CHAT, newBody: 'after', previousBody: 'before', editedAt: anyNumber }]);
      expect(log.ofType('message_revoke_everyone')).toEqual([{ type: 'message_revoke_everyone', waMessageId, chatId: CHAT, revokedAt: anyNumber }]);
      expect((await engineErrorOf(engine.edit(waMessageId, 'revoked already'))).code).toBe('EDIT_NOT_ALLOWED');
    });
  });

  describe('a contact', () => {
    it('receive() emits message_create then message, addressed to me', async () => {
      const { engine, log } = await ready({ phone: '5511912345678' });
      const waMessageId = engine.receive({ from: CHAT, type: 'text', text: 'Olá!' });
      expect(log.types().slice(-2)).toEqual(['message_create', 'message']);
      const [message] = log.ofType('message');
      expect(message?.message).toMatchObject({
        waMessageId,
        from: CHAT,
        to: '5511912345678@c.us',
        chatId: CHAT,
        body: 'Olá!',
        type: 'chat',
        isGroup: false,
        fromMe: false,
        hasMedia: false,
        media: null,
        quotedMessageId: null,
      });
      expect(log.ofType('message_create')[0]?.message).toEqual(message?.message);
      const media = { data: Buffer.from('fake image').toString('base64'), mimetype: 'image/png' };
      engine.receive({ from: '120363025555555555@g.us', type: 'image', media, quotedMessageId: waMessageId });
      expect(log.ofType('message')[1]?.message).toMatchObject({ type: 'image', isGroup: true, hasMedia: true, media, quotedMessageId: waMessageId });
    });

    it('receive() before the engine is ready throws a reconnectable EngineError', async () => {
      const { engine, log } = create();
      await engine.start();
      await log.next('qr', TIMEOUT_MS);
      expect((await engineErrorOf(Promise.resolve().then(() => engine.receive({ from: CHAT, type: 'text', text: 'hi' })))).reconnectable).toBe(true);
      expect(log.ofType('message')).toEqual([]);
    });

    it('contactEdits() edits their message once it is known, never one of ours', async () => {
      const { engine, log } = await ready();
      const theirs = engine.receive({ from: CHAT, type: 'text', text: 'typo' });
      const ours = (await engine.send(CHAT, { type: 'text', text: 'mine' }, {})).waMessageId;
      expect(engine.contactEdits(theirs, 'fixed')).toBe(true);
      expect(engine.contactEdits(ours, 'hijack')).toBe(false);
      expect(engine.contactEdits('false_x@c.us_3EB0NOPE', 'x')).toBe(false);
      expect(log.ofType('message_edit')).toEqual([{ type: 'message_edit', waMessageId: theirs, chatId: CHAT, newBody: 'fixed', previousBody: 'typo', editedAt: anyNumber }]);
      // Our own edit of their message is refused, and only "for me" revokes are allowed on it.
      expect((await engineErrorOf(engine.edit(theirs, 'nope'))).code).toBe('EDIT_NOT_ALLOWED');
      expect((await engineErrorOf(engine.revoke(theirs, true))).code).toBe('REVOKE_NOT_ALLOWED');
      await expect(engine.revoke(theirs, false)).resolves.toBeUndefined();
    });

    it('contactRevokes() revokes their message once', async () => {
      const { engine, log } = await ready();
      const theirs = engine.receive({ from: CHAT, type: 'text', text: 'oops' });
      const ours = (await engine.send(CHAT, { type: 'text', text: 'mine' }, {})).waMessageId;
      expect(engine.contactRevokes(ours)).toBe(false);
      expect(engine.contactRevokes(theirs)).toBe(true);
      expect(engine.contactRevokes(theirs)).toBe(false);
      expect(log.ofType('message_revoke_everyone')).toEqual([{ type: 'message_revoke_everyone', waMessageId: theirs, chatId: CHAT, revokedAt: anyNumber }]);
    });

    it('after stop() the simulator controls change nothing and emit nothing', async () => {
      // Broke: ack(), contactEdits() and contactRevokes() emitted events on a stopped engine.
      const { engine, log } = await ready();
      engine.setFaults({ autoAck: false });
      const theirs = engine.receive({ from: CHAT, type: 'text', text: 'hello' });
      const ours = (await engine.send(CHAT, { type: 'text', text: 'mine' }, {})).waMessageId;
      await engine.stop();
      const seen = log.events.length;
      expect(engine.ack(ours, 3)).toBe(false);
      expect(engine.contactEdits(theirs, 'late edit')).toBe(false);
      expect(engine.contactRevokes(theirs)).toBe(false);
      expect(await engine.scan({})).toBe(false);
      expect(await engine.disconnect('CONFLICT')).toBe(false);
      expect(log.events.slice(seen)).toEqual([]);
    });
  });

  describe('disconnect(reason)', () => {
    it('emits change_state and disconnected with the reason, then behaves as stopped (auth kept)', async () => {
      const { engine, log, auth } = await ready();
      expect(await engine.disconnect('CONFLICT')).toBe(true);
      expect(log.events.slice(-2)).toEqual([
        { type: 'change_state', state: 'CONFLICT' },
        { type: 'disconnected', reason: 'CONFLICT' },
      ]);
      expect(await engine.disconnect('CONFLICT')).toBe(false);
      expect((await engineErrorOf(engine.send(CHAT, { type: 'text', text: 'hi' }, {}))).reconnectable).toBe(true);
      expect(auth.state).not.toBeNull();
      const seen = log.events.length;
      await delay(QUIET_MS);
      expect(log.events.slice(seen)).toEqual([]);
    });

    it('works while the QR is showing and stops the rotation; refused before start', async () => {
      const { engine, log } = create();
      expect(await engine.disconnect('TIMEOUT')).toBe(false);
      await engine.start();
      await log.next('qr', TIMEOUT_MS);
      expect(await engine.disconnect('UNPAIRED')).toBe(true);
      expect(log.ofType('disconnected')).toEqual([{ type: 'disconnected', reason: 'UNPAIRED' }]);
      const qrs = log.ofType('qr').length;
      await delay(QUIET_MS);
      expect(log.ofType('qr').length).toBe(qrs);
    });
  });

  it('the driver creates simulator engines and has no auth data of its own to remove', async () => {
    const driver = createSimulatorDriver(OPTIONS);
    expect(driver.name).toBe('simulator');
    const engine = driver.create({ sessionId: 'driver', logger, auth: new MemoryAuthStore() });
    expect(engine).toBeInstanceOf(SimulatorEngine);
    await expect(driver.removeAuthData('driver')).resolves.toBeUndefined();
  });
});

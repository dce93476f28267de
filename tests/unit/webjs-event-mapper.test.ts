import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engines/engine.js';
import type { WebjsEventName } from '../../src/engines/webjs/webjs-client.js';
import { attachWebjsEvents, formatPairingCode, type AttachOptions, type WebjsInboundMessage } from '../../src/engines/webjs/webjs-event-mapper.js';
import { CONTACT, EventCollector, FakeWebjsClient, Location, ME, MessageMedia, MessageTypes, deferred, fakeMessage, messageId, settle } from '../helpers/fake-webjs-client.js';

const ALL_EVENTS: WebjsEventName[] = [
  'qr', 'code', 'authenticated', 'auth_failure', 'ready', 'loading_screen', 'message', 'message_create', 'message_ack',
  'message_edit', 'message_revoke_everyone', 'message_reaction', 'change_state', 'change_battery', 'disconnected',
];
const GROUP = '120363000000000001@g.us';
const LID = '198765432101234@lid';
const LID_PHONE = '5511900000003';

describe('attachWebjsEvents', () => {
  let fake: FakeWebjsClient;
  let out: EventCollector;
  let errors: { error: unknown; event: string }[];
  let detach: () => void;

  const attach = (options: Partial<AttachOptions> = {}): void => {
    detach = attachWebjsEvents(fake, out.emit, { onError: (error, event) => errors.push({ error, event }), ...options });
  };

  beforeEach(() => {
    fake = new FakeWebjsClient();
    out = new EventCollector();
    errors = [];
    attach();
  });
  afterEach(() => detach());

  describe('lifecycle events', () => {
    it.each<[string, () => void, EngineEvent]>([
      ['qr', () => fake.emitEvent('qr', '2@abc,def'), { type: 'qr', qr: '2@abc,def' }],
      ['code', () => fake.emitEvent('code', 'w2wz3tsk'), { type: 'pairing_code', code: 'W2WZ-3TSK' }],
      ['authenticated', () => fake.emitEvent('authenticated'), { type: 'authenticated' }],
      ['auth_failure', () => fake.emitEvent('auth_failure', 'restore failed'), { type: 'auth_failure', message: 'restore failed' }],
      ['loading_screen (number)', () => fake.emitEvent('loading_screen', 45, 'WhatsApp'), { type: 'loading_screen', percent: 45, message: 'WhatsApp' }],
      ['loading_screen (string)', () => fake.emitEvent('loading_screen', '99', 'WhatsApp'), { type: 'loading_screen', percent: 99, message: 'WhatsApp' }],
      ['change_state', () => fake.emitEvent('change_state', 'CONFLICT'), { type: 'change_state', state: 'CONFLICT' }],
      ['change_battery', () => fake.emitEvent('change_battery', { battery: 42, plugged: true }), { type: 'change_battery', battery: 42, plugged: true }],
      ['disconnected', () => fake.emitEvent('disconnected', 'LOGOUT'), { type: 'disconnected', reason: 'LOGOUT' }],
    ])('maps %s synchronously', (_name, trigger, expected) => {
      trigger();
      expect(out.events).toEqual([expected]);
      expect(errors).toEqual([]);
    });

    it('formats pairing codes as ABCD-EFGH and leaves other shapes alone', () => {
      expect(['ABCDEFGH', 'ABCD-EFGH', 'ABC'].map(formatPairingCode)).toEqual(['ABCD-EFGH', 'ABCD-EFGH', 'ABC']);
    });

    it('maps ready to the linked account from client.info (pushName null when empty)', () => {
      fake.linkAs(ME, 'Sales');
      fake.emitEvent('ready');
      fake.linkAs(ME, '');
      fake.emitEvent('ready');
      expect(out.events).toEqual([
        { type: 'ready', me: { id: ME, phone: '5511900000001', pushName: 'Sales' } },
        { type: 'ready', me: { id: ME, phone: '5511900000001', pushName: null } },
      ]);
    });

    it('looks the phone number of an account linked by @lid up', async () => {
      fake.lidToPhone.set(LID, `${LID_PHONE}@c.us`);
      fake.linkAs(LID, 'Sales');
      fake.emitEvent('ready');
      expect(await out.next(1)).toEqual([{ type: 'ready', me: { id: LID, phone: LID_PHONE, pushName: 'Sales' } }]);
    });

    it('reports ready without client.info to onError instead of emitting a half-known account', () => {
      expect(() => fake.emitEvent('ready')).not.toThrow();
      expect(out.events).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.event).toBe('ready');
    });
  });

  describe('messages', () => {
    it('maps an incoming text message', async () => {
      const message = fakeMessage({ body: 'Olá!', timestamp: 1_700_000_000, mentionedIds: ['5511900000009@c.us'], isForwarded: true });
      fake.emitEvent('message', message);
      const expected: WebjsInboundMessage = {
        waMessageId: message.id._serialized, from: CONTACT, to: ME, chatId: CONTACT, author: null, body: 'Olá!', type: 'chat',
        timestamp: 1_700_000_000, isGroup: false, fromMe: false, hasMedia: false, media: null, mediaError: null, quotedMessageId: null,
        mentions: ['5511900000009@c.us'], location: null, isForwarded: true, isStatus: false, fromPhone: '5511900000002',
      };
      expect(await out.message()).toEqual(expected);
      expect(out.events[0]?.type).toBe('message');
    });

    it('takes the chat of an own message from `to` and looks no sender up', async () => {
      const message = fakeMessage({ fromMe: true, body: 'sent from the phone' });
      fake.emitEvent('message_create', message);
      const mapped = await out.message();
      expect(out.events[0]?.type).toBe('message_create');
      expect(mapped).toMatchObject({ from: ME, to: CONTACT, chatId: CONTACT, fromMe: true, fromPhone: null });
      expect(fake.lidLookups).toEqual([]);
    });

    it('maps a group message with its author', async () => {
      fake.emitEvent('message', fakeMessage({ from: GROUP, author: '5511900000004@c.us', body: 'hi all' }));
      expect(await out.message()).toMatchObject({ chatId: GROUP, isGroup: true, author: '5511900000004@c.us', fromPhone: '5511900000004' });
    });

    it('resolves an @lid sender to a phone number once per sender', async () => {
      fake.lidToPhone.set(LID, `${LID_PHONE}@c.us`);
      fake.emitEvent('message', fakeMessage({ from: LID, body: 'one' }));
      fake.emitEvent('message', fakeMessage({ from: LID, body: 'two' }));
      expect((await out.message(1)).fromPhone).toBe(LID_PHONE);
      const second = await out.message(2);
      expect(second).toMatchObject({ chatId: LID, from: LID, fromPhone: LID_PHONE });
      expect(fake.lidLookups).toEqual([[LID]]);
    });

    it('resolves an @lid group author, and leaves fromPhone null for an @lid WhatsApp cannot resolve', async () => {
      fake.lidToPhone.set(LID, `${LID_PHONE}@c.us`);
      fake.emitEvent('message', fakeMessage({ from: GROUP, author: LID }));
      fake.emitEvent('message', fakeMessage({ from: '100000000000001@lid' }));
      expect(await out.message(1)).toMatchObject({ author: LID, fromPhone: LID_PHONE });
      expect((await out.message(2)).fromPhone).toBeNull();
      fake.emitEvent('message', fakeMessage({ from: '100000000000001@lid' }));
      await out.next(3);
      expect(fake.lidLookups).toEqual([[LID], ['100000000000001@lid'], ['100000000000001@lid']]);
      expect(errors).toEqual([]);
    });

    it('still emits the message when the @lid lookup fails, and retries it next time', async () => {
      fake.failNext('getContactLidAndPhone', new Error('Execution context was destroyed'));
      fake.emitEvent('message', fakeMessage({ from: LID, body: 'first' }));
      expect(await out.message()).toMatchObject({ body: 'first', fromPhone: null });
      expect(errors.map((e) => e.event)).toEqual(['message:lid']);
      fake.lidToPhone.set(LID, `${LID_PHONE}@c.us`);
      fake.emitEvent('message', fakeMessage({ from: LID, body: 'second' }));
      expect((await out.message(2)).fromPhone).toBe(LID_PHONE);
    });

    it('downloads media once for message_create and message of the same message', async () => {
      const message = fakeMessage({ type: MessageTypes.IMAGE, body: 'caption', downloadMedia: async () => new MessageMedia('image/jpeg', 'AAEC', 'photo.jpg', 3) });
      fake.emitEvent('message_create', message);
      fake.emitEvent('message', message);
      const [created, received] = await out.next(2);
      const expected = { hasMedia: true, media: { data: 'AAEC', mimetype: 'image/jpeg', filename: 'photo.jpg' }, mediaError: null };
      expect(created).toMatchObject({ type: 'message_create', message: expected });
      expect(received).toMatchObject({ type: 'message', message: expected });
      expect(message.downloads()).toBe(1);
    });

    it('omits a null media filename', async () => {
      fake.emitEvent('message', fakeMessage({ downloadMedia: async () => new MessageMedia('audio/ogg', 'T2dn', null) }));
      expect((await out.message()).media).toEqual({ data: 'T2dn', mimetype: 'audio/ogg' });
    });

    it('keeps the message when the download fails or the media is gone (resolves undefined)', async () => {
      fake.emitEvent('message', fakeMessage({ body: 'pic', downloadMedia: () => Promise.reject(new Error('Evaluation failed: 404')) }));
      fake.emitEvent('message', fakeMessage({ body: 'gone', downloadMedia: async () => undefined }));
      expect(await out.message(1)).toMatchObject({ body: 'pic', hasMedia: true, media: null, mediaError: 'Evaluation failed: 404' });
      expect(await out.message(2)).toMatchObject({ body: 'gone', hasMedia: true, media: null, mediaError: expect.stringMatching(/no longer available/) as unknown });
    });

    it('gives up on a download that hangs after mediaTimeoutMs', async () => {
      detach();
      attach({ mediaTimeoutMs: 10 });
      fake.emitEvent('message', fakeMessage({ downloadMedia: () => new Promise(() => undefined) }));
      expect(await out.message()).toMatchObject({ media: null, mediaError: 'media download timed out after 10 ms' });
    });

    it('downloads nothing and asks for no quote when the message has neither', async () => {
      let calls = 0;
      const count = async (): Promise<undefined> => {
        calls += 1;
        return undefined;
      };
      fake.emitEvent('message', { ...fakeMessage({ downloadMedia: count, getQuotedMessage: count }), hasMedia: false, hasQuotedMsg: false });
      expect(await out.message()).toMatchObject({ hasMedia: false, media: null, mediaError: null, quotedMessageId: null });
      expect(calls).toBe(0);
    });

    it('maps the quoted message id', async () => {
      const quotedId = messageId(true, CONTACT, 'QUOTED1');
      fake.emitEvent('message', fakeMessage({ body: 'reply', getQuotedMessage: async () => ({ id: quotedId }) }));
      expect((await out.message()).quotedMessageId).toBe(quotedId._serialized);
    });

    it('keeps the message when the quoted message cannot be read', async () => {
      fake.emitEvent('message', fakeMessage({ body: 'reply', getQuotedMessage: () => Promise.reject(new Error('Target closed')) }));
      expect(await out.message()).toMatchObject({ body: 'reply', quotedMessageId: null });
      expect(errors.map((e) => e.event)).toEqual(['message:quoted']);
    });

    it('maps a location message', async () => {
      const location = new Location(-23.5614, -46.6559, { name: 'Paulista', address: 'Av. Paulista, 1000' });
      fake.emitEvent('message', fakeMessage({ type: MessageTypes.LOCATION, location }));
      expect((await out.message()).location).toEqual({ latitude: -23.5614, longitude: -46.6559, name: 'Paulista' });
    });

    it('accepts mentions given as Wid objects (older WhatsApp Web builds)', async () => {
      // EventEmitter.emit is untyped, as whatsapp-web.js's own payloads are at runtime.
      fake.emit('message', { ...fakeMessage(), mentionedIds: [{ server: 'c.us', user: '5511900000009', _serialized: '5511900000009@c.us' }, 42] });
      expect((await out.message()).mentions).toEqual(['5511900000009@c.us']);
    });
  });

  describe('message updates', () => {
    it('maps acks with whatsapp-web.js numbers and the chat of an own message', () => {
      const message = fakeMessage({ fromMe: true });
      fake.emitEvent('message_ack', message, 3);
      fake.emitEvent('message_ack', message, -1);
      expect(out.events).toEqual([
        { type: 'message_ack', waMessageId: message.id._serialized, chatId: CONTACT, ack: 3 },
        { type: 'message_ack', waMessageId: message.id._serialized, chatId: CONTACT, ack: -1 },
      ]);
    });

    it('reports an unknown ack level instead of emitting it', () => {
      fake.emitEvent('message_ack', fakeMessage({ fromMe: true }), 7);
      expect(out.events).toEqual([]);
      expect(errors.map((e) => e.event)).toEqual(['message_ack']);
    });

    it('maps edits with the edit time WhatsApp gives, else now', () => {
      const before = Math.floor(Date.now() / 1000);
      const message = fakeMessage({ body: 'new', latestEditSenderTimestampMs: 1_700_000_123_456 });
      fake.emitEvent('message_edit', message, 'new', 'old');
      fake.emitEvent('message_edit', fakeMessage(), 'newer', 'new');
      expect(out.events[0]).toEqual({ type: 'message_edit', waMessageId: message.id._serialized, chatId: CONTACT, newBody: 'new', previousBody: 'old', editedAt: 1_700_000_123 });
      const second = out.events[1];
      expect(second?.type === 'message_edit' ? second.editedAt : null).toBeGreaterThanOrEqual(before);
    });

    it('maps a revoke to the id of the revoked message', () => {
      const revoked = fakeMessage({ id: 'ORIGINAL' });
      const current = fakeMessage({ id: 'PLACEHOLDER', type: MessageTypes.REVOKED });
      fake.emitEvent('message_revoke_everyone', current, revoked);
      expect(out.events).toMatchObject([{ type: 'message_revoke_everyone', waMessageId: revoked.id._serialized, chatId: CONTACT }]);
    });

    it('falls back to protocolMessageKey, then the message id, when whatsapp-web.js missed the original', () => {
      const key = messageId(false, CONTACT, 'ORIGINAL');
      fake.emitEvent('message_revoke_everyone', fakeMessage({ type: MessageTypes.REVOKED, protocolMessageKey: key }), null);
      const plain = fakeMessage({ type: MessageTypes.REVOKED });
      fake.emitEvent('message_revoke_everyone', plain);
      expect(out.events.map((e) => (e.type === 'message_revoke_everyone' ? e.waMessageId : null))).toEqual([key._serialized, plain.id._serialized]);
    });

    it('maps reactions, with millisecond times in seconds', () => {
      const msgId = messageId(true, CONTACT, 'REACTED');
      fake.emitEvent('message_reaction', { msgId, reaction: '👍', senderId: CONTACT, timestamp: 1_700_000_000_500 });
      fake.emitEvent('message_reaction', { msgId, reaction: '', senderId: CONTACT, timestamp: 1_700_000_001 });
      expect(out.events).toEqual([
        { type: 'message_reaction', waMessageId: msgId._serialized, reaction: '👍', senderId: CONTACT, timestamp: 1_700_000_000 },
        { type: 'message_reaction', waMessageId: msgId._serialized, reaction: '', senderId: CONTACT, timestamp: 1_700_000_001 },
      ]);
    });
  });

  describe('ordering and isolation', () => {
    it('keeps the order whatsapp-web.js emitted in while a media download is slow', async () => {
      const media = deferred<InstanceType<typeof MessageMedia>>();
      const slow = fakeMessage({ body: 'slow', downloadMedia: () => media.promise });
      const fast = fakeMessage({ body: 'fast' });
      fake.emitEvent('message', slow);
      fake.emitEvent('message', fast);
      fake.emitEvent('message_ack', fakeMessage({ fromMe: true }), 2);
      fake.emitEvent('change_state', 'CONNECTED');
      await settle();
      expect(out.events).toEqual([]);
      media.resolve(new MessageMedia('image/png', 'iVBO'));
      const events = await out.next(4);
      expect(events.map((e) => e.type)).toEqual(['message', 'message', 'message_ack', 'change_state']);
      expect(events.map((e) => (e.type === 'message' ? e.message.body : null))).toEqual(['slow', 'fast', null, null]);
    });

    it('never lets a throwing listener reach whatsapp-web.js or stop later events', async () => {
      out.throwOn = (event) => event.type === 'qr' || (event.type === 'message' && event.message.body === 'first');
      expect(() => fake.emitEvent('qr', 'q1')).not.toThrow();
      fake.emitEvent('message', fakeMessage({ body: 'first', downloadMedia: async () => new MessageMedia('image/png', 'iVBO') }));
      fake.emitEvent('message', fakeMessage({ body: 'second' }));
      const events = await out.next(3);
      expect(events.map((e) => e.type)).toEqual(['qr', 'message', 'message']);
      expect(errors.map((e) => e.event)).toEqual(['qr', 'message']);
      fake.emitEvent('disconnected', 'CONFLICT');
      expect(out.events.at(-1)).toEqual({ type: 'disconnected', reason: 'CONFLICT' });
    });

    it('survives an onError that throws too', async () => {
      detach();
      attach({
        onError: () => {
          throw new Error('logger down');
        },
      });
      expect(() => fake.emitEvent('message_ack', fakeMessage(), 9)).not.toThrow();
      fake.emitEvent('message', fakeMessage({ body: 'q', getQuotedMessage: () => Promise.reject(new Error('gone')) }));
      fake.emitEvent('message_ack', fakeMessage(), 9);
      fake.emitEvent('qr', 'after');
      expect((await out.next(2)).map((e) => e.type)).toEqual(['message', 'qr']);
    });

    it('reports a payload that cannot be mapped and goes on', () => {
      expect(() => fake.emit('message_ack', { fromMe: true }, 2)).not.toThrow();
      fake.emitEvent('qr', 'q2');
      expect(out.events).toEqual([{ type: 'qr', qr: 'q2' }]);
      expect(errors.map((e) => e.event)).toEqual(['message_ack']);
      expect(errors[0]?.error).toBeInstanceOf(TypeError);
    });

    it('detach removes exactly its listeners and drops events still being mapped', async () => {
      let foreign = 0;
      fake.on('disconnected', () => (foreign += 1));
      const media = deferred<undefined>();
      fake.emitEvent('message', fakeMessage({ downloadMedia: () => media.promise }));
      for (const name of ALL_EVENTS) expect(fake.listenerCount(name)).toBe(name === 'disconnected' ? 2 : 1);
      detach();
      for (const name of ALL_EVENTS) expect(fake.listenerCount(name)).toBe(name === 'disconnected' ? 1 : 0);
      media.resolve(undefined);
      fake.emitEvent('disconnected', 'LOGOUT');
      await settle();
      expect(out.events).toEqual([]);
      expect(foreign).toBe(1);
    });
  });
});


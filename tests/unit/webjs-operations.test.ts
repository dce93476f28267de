import { beforeEach, describe, expect, it } from 'vitest';
import { EngineError, type OutboundContent, type SendOptions } from '../../src/engines/engine.js';
import { escapeVCardText, toVCard } from '../../src/engines/webjs/webjs-content.js';
import { REVOKE_WINDOW_SECONDS, WebjsOperations } from '../../src/engines/webjs/webjs-operations.js';
import { CONTACT, FakeActionableMessage, FakeChat, FakeWebjsClient, Location, MessageMedia, Poll, contactId, messageId, type SendCall } from '../helpers/fake-webjs-client.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const PNG = { data: 'iVBORw0KGgo=', mimetype: 'image/png', filename: 'dot.png' };

async function engineError(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected an EngineError, the operation succeeded');
}

describe('WebjsOperations', () => {
  let fake: FakeWebjsClient;
  let ops: WebjsOperations;

  beforeEach(() => {
    fake = new FakeWebjsClient();
    ops = new WebjsOperations(() => fake);
  });

  const own = (ageSeconds = 0): FakeActionableMessage => {
    const message = new FakeActionableMessage(messageId(true, CONTACT), true, nowSeconds() - ageSeconds);
    fake.messages.set(message.id._serialized, message);
    return message;
  };
  const theirs = (): FakeActionableMessage => {
    const message = new FakeActionableMessage(messageId(false, CONTACT), false, nowSeconds());
    fake.messages.set(message.id._serialized, message);
    return message;
  };
  const lastSend = (): SendCall => {
    const call = fake.sent.at(-1);
    if (!call) throw new Error('nothing was sent');
    return call;
  };

  describe('when WhatsApp Web is not ready', () => {
    const calls: [string, (ops: WebjsOperations) => Promise<unknown>][] = [
      ['getNumberId', (o) => o.getNumberId('5511900000002')],
      ['send', (o) => o.send(CONTACT, { type: 'text', text: 'hi' }, {})],
      ['react', (o) => o.react('id', '👍')],
      ['edit', (o) => o.edit('id', 'x')],
      ['revoke', (o) => o.revoke('id', true)],
      ['markSeen', (o) => o.markSeen(CONTACT)],
      ['setPresence', (o) => o.setPresence(CONTACT, 'typing')],
      ['getContacts', (o) => o.getContacts()],
      ['getChats', (o) => o.getChats()],
      ['getProfilePictureUrl', (o) => o.getProfilePictureUrl(CONTACT)],
      ['requestPairingCode', (o) => o.requestPairingCode('5511900000002')],
    ];
    it.each(calls)('%s fails with a reconnectable ENGINE_ERROR', async (_name, call) => {
      const error = await engineError(call(new WebjsOperations(() => null)));
      expect(error).toMatchObject({ code: 'ENGINE_ERROR', reconnectable: true });
      expect(error.message).toMatch(/not ready/);
    });

    it('uses the client current at each call', async () => {
      let current: FakeWebjsClient | null = null;
      const late = new WebjsOperations(() => current);
      await expect(late.getChats()).rejects.toBeInstanceOf(EngineError);
      current = fake;
      await expect(late.getChats()).resolves.toEqual([]);
    });
  });

  describe('getNumberId', () => {
    it('returns the canonical id WhatsApp resolves, or null', async () => {
      fake.numbers.set('5511900000002', '551100000002@c.us');
      expect(await ops.getNumberId('+55 (11) 90000-0002')).toBe('551100000002@c.us');
      expect(await ops.getNumberId('5511900000099')).toBeNull();
    });
  });

  describe('send', () => {
    const send = (content: OutboundContent, options: SendOptions = {}): Promise<unknown> => ops.send(CONTACT, content, options);

    it('sends text without link preview or read receipt and returns the WhatsApp id', async () => {
      const result = await ops.send(CONTACT, { type: 'text', text: 'Olá' }, {});
      expect(lastSend()).toEqual({ chatId: CONTACT, content: 'Olá', options: { sendSeen: false, linkPreview: false } });
      expect(result.waMessageId).toMatch(new RegExp(`^true_${CONTACT}_`));
      expect(result.timestamp).toBeGreaterThanOrEqual(nowSeconds() - 1);
    });

    it('turns link preview on when asked', async () => {
      await send({ type: 'text', text: 'https://example.com', linkPreview: true });
      expect(lastSend().options).toEqual({ sendSeen: false, linkPreview: true });
    });

    it('passes the quoted message (refusing silent quote loss) and mentions', async () => {
      await send({ type: 'text', text: 'hi @5511900000009' }, { quotedMessageId: 'false_x@c.us_Q1', mentions: ['5511900000009@c.us'] });
      expect(lastSend().options).toEqual({
        sendSeen: false, linkPreview: false, quotedMessageId: 'false_x@c.us_Q1', ignoreQuoteErrors: false, mentions: ['5511900000009@c.us'],
      });
    });

    it.each(['image', 'video'] as const)('sends %s as MessageMedia with its caption', async (type) => {
      await send({ type, media: PNG, caption: 'look' });
      const { content, options } = lastSend();
      expect(content).toBeInstanceOf(MessageMedia);
      expect(content).toMatchObject({ mimetype: 'image/png', data: PNG.data, filename: 'dot.png' });
      expect(options).toEqual({ sendSeen: false, caption: 'look' });
    });

    it('sends audio, as a voice note when asked', async () => {
      await send({ type: 'audio', media: { data: 'T2dn', mimetype: 'audio/ogg; codecs=opus' }, voice: true });
      expect(lastSend().content).toMatchObject({ mimetype: 'audio/ogg; codecs=opus', data: 'T2dn', filename: null });
      expect(lastSend().options).toEqual({ sendSeen: false, sendAudioAsVoice: true });
      await send({ type: 'audio', media: { data: 'SUQz', mimetype: 'audio/mpeg' } });
      expect(lastSend().options).toEqual({ sendSeen: false });
    });

    it('sends a document with its own file name', async () => {
      await send({ type: 'document', media: { data: 'JVBE', mimetype: 'application/pdf', filename: 'x.pdf' }, filename: 'invoice.pdf', caption: 'your invoice' });
      expect(lastSend().content).toBeInstanceOf(MessageMedia);
      expect(lastSend().content).toMatchObject({ mimetype: 'application/pdf', data: 'JVBE', filename: 'invoice.pdf' });
      expect(lastSend().options).toEqual({ sendSeen: false, sendMediaAsDocument: true, caption: 'your invoice' });
    });

    it('sends a sticker', async () => {
      await send({ type: 'sticker', media: { data: 'UklG', mimetype: 'image/webp' } });
      expect(lastSend().content).toBeInstanceOf(MessageMedia);
      expect(lastSend().options).toEqual({ sendSeen: false, sendMediaAsSticker: true });
    });

    it('sends a Location', async () => {
      await send({ type: 'location', location: { latitude: -23.56, longitude: -46.65, name: 'Office', address: 'Av. Paulista', url: 'https://maps.example' } });
      const { content, options } = lastSend();
      expect(content).toBeInstanceOf(Location);
      expect(content).toMatchObject({ latitude: -23.56, longitude: -46.65, name: 'Office', address: 'Av. Paulista', url: 'https://maps.example', description: 'Office\nAv. Paulista' });
      expect(options).toEqual({ sendSeen: false });
    });

    it('sends a contact as a vCard 3.0', async () => {
      await send({ type: 'contact', contact: { name: 'Maria Silva', phone: '+55 11 90000-0005' } });
      expect(lastSend().content).toBe(
        ['BEGIN:VCARD', 'VERSION:3.0', 'FN:Maria Silva', 'N:;Maria Silva;;;', 'TEL;type=CELL;type=VOICE;waid=5511900000005:+5511900000005', 'END:VCARD'].join('\n'),
      );
    });

    it('escapes vCard text', () => {
      expect(escapeVCardText('Doe, John; Jr.\\ \nline')).toBe('Doe\\, John\\; Jr.\\\\ \\nline');
      expect(toVCard('A;B\r\nBEGIN:VCARD', '1')).toContain('FN:A\\;B\\nBEGIN:VCARD\n');
      expect(toVCard('A;B\r\nBEGIN:VCARD', '1').split('\n')).toHaveLength(6);
    });

    it('sends a Poll', async () => {
      await send({ type: 'poll', poll: { name: 'Lunch?', options: ['Yes', 'No'], multipleAnswers: true } });
      const { content } = lastSend();
      expect(content).toBeInstanceOf(Poll);
      expect(content).toMatchObject({ pollName: 'Lunch?', pollOptions: [{ name: 'Yes', localId: 0 }, { name: 'No', localId: 1 }], options: { allowMultipleAnswers: true } });
      await send({ type: 'poll', poll: { name: 'One?', options: ['a', 'b'] } });
      expect(lastSend().content).toMatchObject({ options: { allowMultipleAnswers: false } });
    });

    it.each<[string, unknown, string, boolean]>([
      ['an unknown quoted message', new Error('Evaluation failed: Error: Could not get the quoted message.'), 'QUOTED_MESSAGE_NOT_FOUND', false],
      ['a number without WhatsApp', new Error('Error: No LID for user\n    at i (viHqVFvzl0J.js:77:180)'), 'NUMBER_NOT_ON_WHATSAPP', false],
      ['an unusable media', new Error('Evaluation failed: Error: Invalid media type'), 'MEDIA_FETCH_FAILED', false],
      ['a failed upload (nothing sent yet: retried)', new Error('upload failed: media entry was not created'), 'ENGINE_ERROR', true],
      ['a closed browser', new Error('Protocol error (Runtime.callFunctionOn): Target closed'), 'ENGINE_ERROR', true],
      ['a thrown string', 'Evaluation failed: something odd', 'ENGINE_ERROR', true],
    ])('maps %s', async (_name, thrown, code, reconnectable) => {
      fake.failNext('sendMessage', thrown);
      expect(await engineError(send({ type: 'text', text: 'x' }))).toMatchObject({ code, reconnectable });
    });

    it.each(['null', 'undefined'] as const)('fails, not retried, when whatsapp-web.js resolves %s (nothing sent)', async (outcome) => {
      fake.sendOutcome = outcome;
      expect(await engineError(send({ type: 'text', text: 'x' }))).toMatchObject({ code: 'ENGINE_ERROR', reconnectable: false });
    });
  });

  describe('message actions', () => {
    it('reacts, and removes a reaction with ""', async () => {
      const message = theirs();
      await ops.react(message.id._serialized, '❤️');
      await ops.react(message.id._serialized, '');
      expect(message.reactions).toEqual(['❤️', '']);
    });

    it.each<[string, (ops: WebjsOperations, id: string) => Promise<void>]>([
      ['react', (o, id) => o.react(id, '👍')],
      ['edit', (o, id) => o.edit(id, 'x')],
      ['revoke', (o, id) => o.revoke(id, true)],
    ])('%s of an unknown message fails MESSAGE_NOT_FOUND', async (_name, action) => {
      expect(await engineError(action(ops, 'true_5511900000002@c.us_NOPE'))).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
      fake.failNext('getMessageById', new Error('Evaluation failed: Error: Invalid serialized message id specified'));
      expect(await engineError(action(ops, 'garbage'))).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    });

    it('edits an own message', async () => {
      const message = own();
      await ops.edit(message.id._serialized, 'corrected');
      expect(message.edits).toEqual([{ content: 'corrected', options: { linkPreview: false } }]);
    });

    it('fails EDIT_NOT_ALLOWED when WhatsApp refuses (edit resolves null)', async () => {
      const message = own();
      message.editResult = 'refused';
      expect(await engineError(ops.edit(message.id._serialized, 'late'))).toMatchObject({ code: 'EDIT_NOT_ALLOWED' });
    });

    it('fails EDIT_NOT_ALLOWED for a message of someone else without trying', async () => {
      const message = theirs();
      expect(await engineError(ops.edit(message.id._serialized, 'x'))).toMatchObject({ code: 'EDIT_NOT_ALLOWED' });
      expect(message.edits).toEqual([]);
    });

    it('revokes an own recent message for everyone', async () => {
      const message = own(REVOKE_WINDOW_SECONDS - 60);
      await ops.revoke(message.id._serialized, true);
      expect(message.deletes).toEqual([{ everyone: true }]);
    });

    it('refuses to revoke for everyone what WhatsApp would only delete for me', async () => {
      const other = theirs();
      const old = own(REVOKE_WINDOW_SECONDS + 60);
      expect(await engineError(ops.revoke(other.id._serialized, true))).toMatchObject({ code: 'REVOKE_NOT_ALLOWED' });
      expect(await engineError(ops.revoke(old.id._serialized, true))).toMatchObject({ code: 'REVOKE_NOT_ALLOWED' });
      expect([...other.deletes, ...old.deletes]).toEqual([]);
    });

    it('deletes any message for me', async () => {
      const message = theirs();
      await ops.revoke(message.id._serialized, false);
      expect(message.deletes).toEqual([{ everyone: false }]);
    });
  });

  describe('chats', () => {
    it('marks a chat read, and fails when WhatsApp Web does not know it', async () => {
      fake.chats.set(CONTACT, new FakeChat());
      await ops.markSeen(CONTACT);
      expect(fake.seen).toEqual([CONTACT]);
      expect(await engineError(ops.markSeen('5511900000077@c.us'))).toMatchObject({ code: 'ENGINE_ERROR' });
    });

    it('sets typing, recording and paused presence on the chat', async () => {
      const chat = new FakeChat();
      fake.chats.set(CONTACT, chat);
      await ops.setPresence(CONTACT, 'typing');
      await ops.setPresence(CONTACT, 'recording');
      await ops.setPresence(CONTACT, 'paused');
      expect(chat.states).toEqual(['typing', 'recording', 'cleared']);
      expect(await engineError(ops.setPresence('5511900000077@c.us', 'typing'))).toMatchObject({ code: 'ENGINE_ERROR' });
    });

    it('maps contacts; an @lid contact has no phone number', async () => {
      fake.contactList = [
        { id: contactId(CONTACT), number: '5511900000002', name: 'Ana', pushname: 'Aninha', isBusiness: true, isMyContact: true, isGroup: false },
        { id: contactId('198765432101234@lid'), number: '198765432101234', pushname: '', isBusiness: false, isMyContact: false, isGroup: false },
      ];
      expect(await ops.getContacts()).toEqual([
        { id: CONTACT, phone: '5511900000002', name: 'Ana', pushName: 'Aninha', isBusiness: true, isMyContact: true, isGroup: false },
        { id: '198765432101234@lid', phone: null, name: null, pushName: null, isBusiness: false, isMyContact: false, isGroup: false },
      ]);
    });

    it('maps chats with their last message', async () => {
      const lastId = messageId(true, CONTACT, 'LAST');
      fake.chatList = [
        { id: contactId(CONTACT), name: 'Ana', isGroup: false, unreadCount: 2, archived: false, pinned: true, isMuted: false, lastMessage: { id: lastId, body: 'bye', fromMe: true, timestamp: 1_700_000_000 } },
        { id: contactId('120363000000000001@g.us'), name: 'Team', isGroup: true, unreadCount: 0, archived: true, pinned: false, isMuted: true },
      ];
      expect(await ops.getChats()).toEqual([
        { id: CONTACT, name: 'Ana', isGroup: false, unreadCount: 2, archived: false, pinned: true, muted: false, lastMessage: { id: lastId._serialized, body: 'bye', fromMe: true, timestamp: 1_700_000_000 } },
        { id: '120363000000000001@g.us', name: 'Team', isGroup: true, unreadCount: 0, archived: true, pinned: false, muted: true, lastMessage: null },
      ]);
    });

    it('returns the profile picture URL, null when hidden, and fails when the browser is gone', async () => {
      fake.profilePictures.set(CONTACT, 'https://pps.whatsapp.net/v/t61/pic.jpg');
      expect(await ops.getProfilePictureUrl(CONTACT)).toBe('https://pps.whatsapp.net/v/t61/pic.jpg');
      expect(await ops.getProfilePictureUrl('5511900000077@c.us')).toBeNull();
      fake.failNext('getProfilePicUrl', new Error('Evaluation failed: ServerStatusCodeError: 404'));
      expect(await ops.getProfilePictureUrl(CONTACT)).toBeNull();
      fake.failNext('getProfilePicUrl', new Error('Protocol error: Session closed. Most likely the page has been closed.'));
      expect(await engineError(ops.getProfilePictureUrl(CONTACT))).toMatchObject({ code: 'ENGINE_ERROR', reconnectable: true });
    });

    it('fails a listing with a reconnectable ENGINE_ERROR when the page is gone', async () => {
      fake.failNext('getContacts', new Error('Execution context was destroyed'));
      expect(await engineError(ops.getContacts())).toMatchObject({ code: 'ENGINE_ERROR', reconnectable: true });
    });
  });

  describe('requestPairingCode', () => {
    it('asks with the digits of the phone number and formats the code', async () => {
      fake.pairingCode = 'W2WZ3TSK';
      expect(await ops.requestPairingCode('+55 11 90000-0002')).toBe('W2WZ-3TSK');
      expect(fake.pairingRequests).toEqual([{ phone: '5511900000002', showNotification: true }]);
    });
  });
});

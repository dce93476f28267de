import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/engines/engine.js';
import { toContractEvent } from '../../src/events/contract-events.js';

describe('toContractEvent', () => {
  const at = new Date('2026-11-21T12:00:00.000Z');
  it('maps calls and group notifications to extra contract events', () => {
    expect(toContractEvent({ type: 'call', callId: 'c1', from: '5511@c.us', isVideo: true, isGroup: false, timestamp: 10 }, at)).toEqual({
      event: 'call',
      data: { callId: 'c1', from: '5511@c.us', isVideo: true, isGroup: false, timestamp: 10 },
    });
    expect(
      toContractEvent({ type: 'group_update', kind: 'join', chatId: '123-456@g.us', author: null, recipients: ['5511@c.us'], subtype: 'add', body: '', timestamp: 11 }, at),
    ).toEqual({ event: 'group_update', data: { kind: 'join', chatId: '123-456@g.us', author: null, recipients: ['5511@c.us'], subtype: 'add', body: '', timestamp: 11 } });
  });
  it('leaves lifecycle events to the session lifecycle', () => {
    expect(toContractEvent({ type: 'qr', qr: 'x' }, at)).toBeNull();
    expect(toContractEvent({ type: 'disconnected', reason: 'CONFLICT' }, at)).toBeNull();
  });
  describe('message media', () => {
    const message: InboundMessage = {
      waMessageId: 'false_5511@c.us_AB',
      from: '5511977776666@c.us',
      to: '5511900001111@c.us',
      chatId: '5511977776666@c.us',
      author: null,
      body: 'look',
      type: 'image',
      timestamp: 10,
      isGroup: false,
      fromMe: false,
      hasMedia: true,
      media: { data: Buffer.from('png bytes').toString('base64'), mimetype: 'image/png' },
      quotedMessageId: null,
      mentions: [],
      location: null,
      isForwarded: false,
      isStatus: false,
      fromPhone: null,
      mediaError: null,
    };
    const ref = { mediaId: 'med_0123456789abcdefABCDEF', mimetype: 'image/png', filename: 'a.png', size: 9, url: '/api/v1/sessions/s/media/med_0123456789abcdefABCDEF' };
    const dataOf = (m: InboundMessage, outcome?: Parameters<typeof toContractEvent>[2]): Record<string, unknown> => toContractEvent({ type: 'message', message: m }, at, outcome)?.data ?? {};

    it('references the stored media in place of the bytes, where the contract puts it', () => {
      const data = dataOf(message, { media: ref, mediaError: null });
      expect(data.media).toEqual(ref);
      expect(data).not.toHaveProperty('mediaError');
      expect(Object.keys(data).indexOf('media')).toBe(Object.keys(data).indexOf('hasMedia') + 1);
      expect(JSON.stringify(data)).not.toContain(message.media?.data);
    });

    it('is null with the store’s mediaError when storing failed, and with the engine’s when the download failed', () => {
      expect(dataOf(message, { media: null, mediaError: 'MEDIA_STORE_FAILED' })).toMatchObject({ media: null, mediaError: 'MEDIA_STORE_FAILED' });
      const notDownloaded = { ...message, media: null, mediaError: 'download timed out' };
      expect(dataOf(notDownloaded, { media: null, mediaError: 'download timed out' })).toMatchObject({ media: null, mediaError: 'download timed out' });
      // Without a store outcome (own messages): never the bytes, the engine's error kept.
      expect(dataOf(notDownloaded)).toMatchObject({ media: null, mediaError: 'download timed out' });
      expect(dataOf(message).media).toBeNull();
    });
  });

  it('names every ack level', () => {
    const names = ([-1, 0, 1, 2, 3, 4] as const).map((ack) => toContractEvent({ type: 'message_ack', waMessageId: 'm', chatId: 'c', ack }, at)?.data.status);
    expect(names).toEqual(['error', 'pending', 'sent', 'delivered', 'read', 'played']);
  });
});

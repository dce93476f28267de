import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  MESSAGE_LIMITS,
  SEND_MESSAGE_EXAMPLES,
  base64DecodedBytes,
  isInteractiveMessage,
  mentionIds,
  sendMessageBody,
  toOutboundContent,
  type EngineSendMessage,
  type SendMessage,
} from '../../src/messages/message.schemas.js';

const MEDIA_MAX = 1024;
const schema = sendMessageBody({ mediaMaxBytes: MEDIA_MAX });
const TO = '+55 11 99999-9999';
const PNG = { data: Buffer.from('fake-png').toString('base64'), mimetype: 'image/png' };

function parse(body: Record<string, unknown>) {
  return schema.safeParse(body);
}

function ok(body: Record<string, unknown>): SendMessage {
  const result = parse(body);
  if (!result.success) throw new Error(`expected valid: ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

/** Paths of the issues (joined by '.'), for a failing body. */
function issues(body: Record<string, unknown>): { path: string; message: string }[] {
  const result = parse(body);
  if (result.success) throw new Error(`expected invalid: ${JSON.stringify(body)}`);
  return result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function rejects(body: Record<string, unknown>, path?: string): void {
  const found = issues(body);
  // A path names the field or any of its parts (`media` covers `media.url`).
  if (path !== undefined) expect(found.some((i) => i.path === path || i.path.startsWith(`${path}.`)), JSON.stringify(found)).toBe(true);
}

function engineBody(body: Record<string, unknown>): EngineSendMessage {
  const parsed = ok(body);
  if (isInteractiveMessage(parsed)) throw new Error('interactive');
  return parsed;
}

const s = (n: number, c = 'a') => c.repeat(n);

describe('sendMessageBody: every type', () => {
  it.each(SEND_MESSAGE_EXAMPLES.map((e) => [e.type, e] as const))('accepts the %s example', (_type, example) => {
    expect(ok({ ...example }).type).toBe(example.type);
  });

  it('covers every type of the contract once in the examples', () => {
    expect(SEND_MESSAGE_EXAMPLES.map((e) => e.type)).toEqual(['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contact', 'poll', 'buttons', 'list']);
  });

  it('carries one example per type in its meta, and a oneOf per type in the JSON schema', () => {
    expect(z.globalRegistry.get(schema)?.examples).toHaveLength(SEND_MESSAGE_EXAMPLES.length);
    // zod drops `examples` of transforming schemas in io "input"; the OpenAPI plugin must re-add them from the meta.
    const json = z.toJSONSchema(schema, { io: 'input' });
    expect(json.oneOf).toHaveLength(SEND_MESSAGE_EXAMPLES.length);
  });

  it('accepts inline base64 media with a filename and parameters in the mimetype', () => {
    const body = ok({ to: TO, type: 'audio', media: { data: PNG.data, mimetype: 'audio/ogg; codecs=opus', filename: 'a.ogg' }, voice: true });
    expect(body).toMatchObject({ type: 'audio', voice: true, media: { mimetype: 'audio/ogg; codecs=opus' } });
  });

  it('defaults linkPreview to false and keeps true', () => {
    expect(ok({ to: TO, type: 'text', text: 'hi' })).toMatchObject({ linkPreview: false });
    expect(ok({ to: TO, type: 'text', text: 'hi', linkPreview: true })).toMatchObject({ linkPreview: true });
  });

  it('rejects an unknown type and a missing type', () => {
    rejects({ to: TO, type: 'carousel', text: 'x' }, 'type');
    rejects({ to: TO, text: 'x' }, 'type');
  });
});

describe('sendMessageBody: to', () => {
  it('normalises a phone number and keeps the input', () => {
    expect(ok({ to: TO, type: 'text', text: 'x' }).to).toEqual({ kind: 'phone', phone: '5511999999999', input: TO });
  });
  it.each(['5511999999999@c.us', '120363025246125486@g.us', '123456789012345@lid', '120363000000000000@newsletter'])('accepts chat id %s as is', (to) => {
    expect(ok({ to, type: 'text', text: 'x' }).to).toEqual({ kind: 'chat', chatId: to, input: to });
  });
  it.each(['', 'abc', '1234567', '1234567890123456', '++5511999999999', '5511999999999@s.whatsapp.net', 'user@g.us', s(70, '1')])('rejects %j', (to) => {
    rejects({ to, type: 'text', text: 'x' }, 'to');
  });
  it('rejects a missing or non-string to', () => {
    rejects({ type: 'text', text: 'x' }, 'to');
    rejects({ to: 5511999999999, type: 'text', text: 'x' }, 'to');
  });
});

describe('sendMessageBody: common fields', () => {
  it('accepts replyTo of either id kind and rejects whitespace or over-long ids', () => {
    expect(ok({ to: TO, type: 'text', text: 'x', replyTo: 'msg_0123456789abcdef01234567' }).replyTo).toBe('msg_0123456789abcdef01234567');
    expect(ok({ to: TO, type: 'text', text: 'x', replyTo: 'true_5511999999999@c.us_3EB0C767D26A1D2A8E1F' }).replyTo).toBeDefined();
    ok({ to: TO, type: 'text', text: 'x', replyTo: s(MESSAGE_LIMITS.replyToLength) });
    rejects({ to: TO, type: 'text', text: 'x', replyTo: s(MESSAGE_LIMITS.replyToLength + 1) }, 'replyTo');
    rejects({ to: TO, type: 'text', text: 'x', replyTo: 'msg 1' }, 'replyTo');
    rejects({ to: TO, type: 'text', text: 'x', replyTo: '' }, 'replyTo');
  });
  it('clientRef ≤ 128', () => {
    ok({ to: TO, type: 'text', text: 'x', clientRef: s(MESSAGE_LIMITS.clientRefLength) });
    rejects({ to: TO, type: 'text', text: 'x', clientRef: s(MESSAGE_LIMITS.clientRefLength + 1) }, 'clientRef');
  });
  it('rejects unknown fields at every level', () => {
    rejects({ to: TO, type: 'text', text: 'x', priority: 'high' });
    rejects({ to: TO, type: 'text', text: 'x', caption: 'not for text' });
    rejects({ to: TO, type: 'image', media: { ...PNG, extra: 1 } }, 'media');
    rejects({ to: TO, type: 'image', media: { url: 'https://a.example/x.png', mimetype: 'image/png' } }, 'media');
    rejects({ to: TO, type: 'location', location: { latitude: 0, longitude: 0, zoom: 3 } }, 'location');
    rejects({ to: TO, type: 'contact', contact: { name: 'A', phone: '5511999999999', email: 'a@b.c' } }, 'contact');
    rejects({ to: TO, type: 'poll', poll: { name: 'P', options: ['a', 'b'], anonymous: true } }, 'poll');
  });
});

describe('sendMessageBody: mentions', () => {
  it('normalises mentions to phones and dedupes them', () => {
    const body = ok({ to: TO, type: 'text', text: 'hi @5511988887777', mentions: ['+55 11 98888-7777', '5511988887777'] });
    expect(body.mentions).toEqual(['5511988887777']);
    expect(mentionIds(body)).toEqual(['5511988887777@c.us']);
  });
  it('requires each mention in the text as @<digits>, pointing at the mention', () => {
    const found = issues({ to: TO, type: 'text', text: 'hi @5511988887777', mentions: ['5511988887777', '5511977776666'] });
    expect(found).toEqual([{ path: 'mentions.1', message: '@5511977776666 does not appear in the text' }]);
  });
  it('does not take a longer number as the mention', () => {
    rejects({ to: TO, type: 'text', text: 'hi @55119888877771', mentions: ['5511988887777'] }, 'mentions.0');
  });
  it('checks the caption of media types', () => {
    ok({ to: TO, type: 'image', media: PNG, caption: 'look @5511988887777!', mentions: ['5511988887777'] });
    rejects({ to: TO, type: 'image', media: PNG, mentions: ['5511988887777'] }, 'mentions.0');
    rejects({ to: TO, type: 'document', media: PNG, caption: 'no mention', mentions: ['5511988887777'] }, 'mentions.0');
  });
  it('refuses mentions on types without text', () => {
    rejects({ to: TO, type: 'location', location: { latitude: 1, longitude: 1 }, mentions: ['5511988887777'] }, 'mentions.0');
  });
  it('rejects a mention that is not a phone', () => {
    rejects({ to: TO, type: 'text', text: '@abc', mentions: ['abc'] }, 'mentions.0');
  });
  it(`accepts ${MESSAGE_LIMITS.mentions} mentions, not one more`, () => {
    const phones = (n: number) => Array.from({ length: n }, (_, i) => `55119000${String(i).padStart(5, '0')}`);
    const text = (list: string[]) => list.map((p) => `@${p}`).join(' ');
    const max = phones(MESSAGE_LIMITS.mentions);
    ok({ to: TO, type: 'text', text: text(max), mentions: max });
    const over = phones(MESSAGE_LIMITS.mentions + 1);
    rejects({ to: TO, type: 'text', text: text(over), mentions: over }, 'mentions');
  });
});

describe('sendMessageBody: text limits', () => {
  it('text 1–4096, not blank', () => {
    ok({ to: TO, type: 'text', text: s(MESSAGE_LIMITS.textLength) });
    rejects({ to: TO, type: 'text', text: s(MESSAGE_LIMITS.textLength + 1) }, 'text');
    rejects({ to: TO, type: 'text', text: '' }, 'text');
    rejects({ to: TO, type: 'text', text: '   ' }, 'text');
    rejects({ to: TO, type: 'text' }, 'text');
  });
  it('caption ≤ 1024', () => {
    ok({ to: TO, type: 'video', media: PNG, caption: s(MESSAGE_LIMITS.captionLength) });
    rejects({ to: TO, type: 'video', media: PNG, caption: s(MESSAGE_LIMITS.captionLength + 1) }, 'caption');
  });
  it('document filename ≤ 255 (top level and inline media)', () => {
    ok({ to: TO, type: 'document', media: { ...PNG, filename: s(MESSAGE_LIMITS.filenameLength) }, filename: s(MESSAGE_LIMITS.filenameLength) });
    rejects({ to: TO, type: 'document', media: PNG, filename: s(MESSAGE_LIMITS.filenameLength + 1) }, 'filename');
    rejects({ to: TO, type: 'document', media: { ...PNG, filename: s(MESSAGE_LIMITS.filenameLength + 1) } }, 'media');
  });
});

describe('sendMessageBody: media', () => {
  it('accepts http and https URLs up to 2048 chars', () => {
    ok({ to: TO, type: 'image', media: { url: 'http://cdn.example.com/a.png' } });
    const base = 'https://cdn.example.com/';
    ok({ to: TO, type: 'image', media: { url: base + s(MESSAGE_LIMITS.urlLength - base.length) } });
    rejects({ to: TO, type: 'image', media: { url: base + s(MESSAGE_LIMITS.urlLength - base.length + 1) } }, 'media');
  });
  it.each(['ftp://cdn.example.com/a.png', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url', ''])('rejects media URL %j', (url) => {
    rejects({ to: TO, type: 'image', media: { url } }, 'media');
  });
  it('checks the decoded size of base64 data against the cap', () => {
    expect(base64DecodedBytes(Buffer.alloc(MEDIA_MAX).toString('base64'))).toBe(MEDIA_MAX);
    expect(base64DecodedBytes(Buffer.alloc(MEDIA_MAX - 1).toString('base64'))).toBe(MEDIA_MAX - 1);
    expect(base64DecodedBytes(Buffer.alloc(MEDIA_MAX - 2).toString('base64'))).toBe(MEDIA_MAX - 2);
    ok({ to: TO, type: 'image', media: { data: Buffer.alloc(MEDIA_MAX).toString('base64'), mimetype: 'image/png' } });
    const found = issues({ to: TO, type: 'image', media: { data: Buffer.alloc(MEDIA_MAX + 1).toString('base64'), mimetype: 'image/png' } });
    expect(JSON.stringify(found)).toContain(`at most ${MEDIA_MAX} bytes`);
  });
  it('takes the cap from the factory', () => {
    const small = sendMessageBody({ mediaMaxBytes: 4 });
    expect(small.safeParse({ to: TO, type: 'sticker', media: { data: 'AAAAAA==', mimetype: 'image/webp' } }).success).toBe(true);
    expect(small.safeParse({ to: TO, type: 'sticker', media: { data: 'AAAAAAA=', mimetype: 'image/webp' } }).success).toBe(false);
  });
  it.each(['not base64!', 'AAA', 'AA==AA==', ''])('rejects base64 data %j', (data) => {
    rejects({ to: TO, type: 'image', media: { data, mimetype: 'image/png' } }, 'media');
  });
  it.each(['image', 'image/', '/png', 'image/png/x', 'image png', s(300)])('rejects mimetype %j', (mimetype) => {
    rejects({ to: TO, type: 'image', media: { data: PNG.data, mimetype } }, 'media');
  });
  it('requires a mimetype with base64 data', () => {
    rejects({ to: TO, type: 'image', media: { data: PNG.data } }, 'media');
  });
});

describe('sendMessageBody: location', () => {
  it.each([
    [-90, -180],
    [90, 180],
    [0, 0],
  ])('accepts (%d, %d)', (latitude, longitude) => {
    ok({ to: TO, type: 'location', location: { latitude, longitude } });
  });
  it.each([
    [-90.0001, 0, 'location.latitude'],
    [90.0001, 0, 'location.latitude'],
    [0, -180.0001, 'location.longitude'],
    [0, 180.0001, 'location.longitude'],
  ])('rejects (%d, %d)', (latitude, longitude, path) => {
    rejects({ to: TO, type: 'location', location: { latitude, longitude } }, path);
  });
  it('rejects coordinates as strings', () => {
    rejects({ to: TO, type: 'location', location: { latitude: '1', longitude: 2 } }, 'location.latitude');
  });
  it('name and address ≤ 256, url ≤ 2048 http(s)', () => {
    const base = 'https://maps.example.com/';
    ok({ to: TO, type: 'location', location: { latitude: 1, longitude: 1, name: s(256), address: s(256), url: base + s(MESSAGE_LIMITS.urlLength - base.length) } });
    rejects({ to: TO, type: 'location', location: { latitude: 1, longitude: 1, name: s(MESSAGE_LIMITS.locationNameLength + 1) } }, 'location.name');
    rejects({ to: TO, type: 'location', location: { latitude: 1, longitude: 1, address: s(MESSAGE_LIMITS.locationAddressLength + 1) } }, 'location.address');
    rejects({ to: TO, type: 'location', location: { latitude: 1, longitude: 1, url: base + s(MESSAGE_LIMITS.urlLength - base.length + 1) } }, 'location.url');
    rejects({ to: TO, type: 'location', location: { latitude: 1, longitude: 1, url: 'ftp://maps.example.com/x' } }, 'location.url');
  });
});

describe('sendMessageBody: contact', () => {
  it('normalises the phone; name ≤ 256', () => {
    expect(ok({ to: TO, type: 'contact', contact: { name: s(MESSAGE_LIMITS.contactNameLength), phone: '+55 11 3333-4444' } })).toMatchObject({ contact: { phone: '551133334444' } });
    rejects({ to: TO, type: 'contact', contact: { name: s(MESSAGE_LIMITS.contactNameLength + 1), phone: '551133334444' } }, 'contact.name');
    rejects({ to: TO, type: 'contact', contact: { name: 'A', phone: '123' } }, 'contact.phone');
    rejects({ to: TO, type: 'contact', contact: { name: '', phone: '551133334444' } }, 'contact.name');
  });
});

describe('sendMessageBody: poll', () => {
  const options = (n: number) => Array.from({ length: n }, (_, i) => `option ${i}`);
  it('options 2–12', () => {
    ok({ to: TO, type: 'poll', poll: { name: 'P', options: options(MESSAGE_LIMITS.pollOptionsMin) } });
    ok({ to: TO, type: 'poll', poll: { name: 'P', options: options(MESSAGE_LIMITS.pollOptionsMax) } });
    rejects({ to: TO, type: 'poll', poll: { name: 'P', options: options(MESSAGE_LIMITS.pollOptionsMin - 1) } }, 'poll.options');
    rejects({ to: TO, type: 'poll', poll: { name: 'P', options: options(MESSAGE_LIMITS.pollOptionsMax + 1) } }, 'poll.options');
  });
  it('each option ≤ 100 and unique; name ≤ 255', () => {
    ok({ to: TO, type: 'poll', poll: { name: s(MESSAGE_LIMITS.pollNameLength), options: [s(MESSAGE_LIMITS.pollOptionLength), 'b'] } });
    rejects({ to: TO, type: 'poll', poll: { name: 'P', options: [s(MESSAGE_LIMITS.pollOptionLength + 1), 'b'] } }, 'poll.options.0');
    rejects({ to: TO, type: 'poll', poll: { name: 'P', options: ['a', 'a'] } }, 'poll.options');
    rejects({ to: TO, type: 'poll', poll: { name: s(MESSAGE_LIMITS.pollNameLength + 1), options: ['a', 'b'] } }, 'poll.name');
  });
});

describe('sendMessageBody: buttons and list (accepted, refused later by the route on webjs)', () => {
  it('accepts the minimal shapes and checks their limits', () => {
    expect(isInteractiveMessage(ok({ to: TO, type: 'buttons', text: 'Q?', buttons: [{ text: 'Yes' }] }))).toBe(true);
    rejects({ to: TO, type: 'buttons', text: 'Q?', buttons: [] }, 'buttons');
    rejects({ to: TO, type: 'buttons', text: 'Q?', buttons: Array.from({ length: MESSAGE_LIMITS.buttons + 1 }, () => ({ text: 'x' })) }, 'buttons');
    expect(isInteractiveMessage(ok({ to: TO, type: 'list', text: 'Pick', buttonText: 'Open', sections: [{ rows: [{ title: 'One' }] }] }))).toBe(true);
    rejects({ to: TO, type: 'list', text: 'Pick', buttonText: 'Open', sections: [] }, 'sections');
  });
});

describe('toOutboundContent', () => {
  const resolved = { data: 'AAAA', mimetype: 'image/jpeg', filename: 'fetched.jpg' };

  it('text', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'text', text: 'hi' }))).toEqual({ type: 'text', text: 'hi', linkPreview: false });
  });
  it('image and video with URL media use the resolved media', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'image', media: { url: 'https://a.example/x.jpg' }, caption: 'c' }), resolved)).toEqual({ type: 'image', media: resolved, caption: 'c' });
    expect(toOutboundContent(engineBody({ to: TO, type: 'video', media: { url: 'https://a.example/x.mp4' } }), resolved)).toEqual({ type: 'video', media: resolved, caption: undefined });
  });
  it('inline media is used as is', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'image', media: PNG }))).toEqual({ type: 'image', media: { ...PNG, filename: undefined }, caption: undefined });
  });
  it('throws when URL media was not resolved', () => {
    expect(() => toOutboundContent(engineBody({ to: TO, type: 'sticker', media: { url: 'https://a.example/s.webp' } }))).toThrow(/fetched/);
  });
  it('audio', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'audio', media: PNG, voice: true }))).toEqual({ type: 'audio', media: { ...PNG, filename: undefined }, voice: true });
  });
  it('document: filename from the body, else from the media', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'document', media: { url: 'https://a.example/f' }, filename: 'invoice.pdf', caption: 'c' }), resolved)).toEqual({
      type: 'document',
      media: resolved,
      filename: 'invoice.pdf',
      caption: 'c',
    });
    expect(toOutboundContent(engineBody({ to: TO, type: 'document', media: { url: 'https://a.example/f' } }), resolved)).toMatchObject({ filename: 'fetched.jpg' });
  });
  it('sticker', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'sticker', media: { url: 'https://a.example/s.webp' } }), resolved)).toEqual({ type: 'sticker', media: resolved });
  });
  it('location', () => {
    const location = { latitude: -23.5, longitude: -46.6, name: 'Loja', address: 'Av. Paulista', url: 'https://maps.example.com/x' };
    expect(toOutboundContent(engineBody({ to: TO, type: 'location', location }))).toEqual({ type: 'location', location });
  });
  it('contact, with the phone normalised', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'contact', contact: { name: 'Suporte', phone: '+55 11 3333-4444' } }))).toEqual({ type: 'contact', contact: { name: 'Suporte', phone: '551133334444' } });
  });
  it('poll', () => {
    expect(toOutboundContent(engineBody({ to: TO, type: 'poll', poll: { name: 'P', options: ['a', 'b'], multipleAnswers: true } }))).toEqual({
      type: 'poll',
      poll: { name: 'P', options: ['a', 'b'], multipleAnswers: true },
    });
  });
});

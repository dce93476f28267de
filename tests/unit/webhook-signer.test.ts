import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  generateWebhookSecret,
  isValidWebhookSecret,
  parseWebhookSecret,
  signWebhook,
  WebhookSecretError,
} from '../../src/webhooks/webhook-signer.js';

// The contract's test vector (docs/api.md, "Events and webhooks"), taken from the spec.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
} as const;

const SECRET_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_B = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const BODY = JSON.stringify({ id: 'evt_1', seq: 1, sessionId: 'sales', event: 'message', data: { body: 'hi' } });

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

afterEach(() => {
  vi.useRealTimers();
});

describe('signWebhook', () => {
  it('reproduces the spec test vector', () => {
    const headers = signWebhook({ id: SPEC.id, timestamp: SPEC.timestamp, body: SPEC.body, secrets: [SPEC.secret] });
    expect(headers).toEqual({
      'webhook-id': SPEC.id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': SPEC.signature,
    });
  });

  it('signs a Buffer body exactly like the equal string', () => {
    const fromString = signWebhook({ id: SPEC.id, timestamp: SPEC.timestamp, body: SPEC.body, secrets: [SPEC.secret] });
    const fromBuffer = signWebhook({
      id: SPEC.id,
      timestamp: SPEC.timestamp,
      body: Buffer.from(SPEC.body, 'utf8'),
      secrets: [SPEC.secret],
    });
    expect(fromBuffer).toEqual(fromString);
    expect(fromBuffer['webhook-signature']).toBe(SPEC.signature);
  });

  it('signs the UTF-8 bytes of a non-ASCII body', () => {
    const body = JSON.stringify({ body: 'olá, ação ✓ 👋 日本語' });
    const headers = signWebhook({ id: 'evt_utf8', timestamp: 1_700_000_000, body, secrets: [SECRET_A] });
    const key = Buffer.from(SECRET_A.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from('evt_utf8.1700000000.'), Buffer.from(body, 'utf8')]))
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(signWebhook({ id: 'evt_utf8', timestamp: 1_700_000_000, body: Buffer.from(body), secrets: [SECRET_A] })).toEqual(
      headers,
    );
  });

  it('emits one v1 signature per secret, space-separated, in order', () => {
    const both = signWebhook({ id: 'evt_rot', timestamp: 1_700_000_000, body: BODY, secrets: [SECRET_A, SECRET_B] });
    const onlyA = signWebhook({ id: 'evt_rot', timestamp: 1_700_000_000, body: BODY, secrets: [SECRET_A] });
    const onlyB = signWebhook({ id: 'evt_rot', timestamp: 1_700_000_000, body: BODY, secrets: [SECRET_B] });
    const parts = both['webhook-signature'].split(' ');
    expect(parts).toHaveLength(2);
    expect(parts).toEqual([onlyA['webhook-signature'], onlyB['webhook-signature']]);
    for (const part of parts) expect(part).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('refuses bad ids, timestamps and an empty secret list', () => {
    const base = { id: 'evt_1', timestamp: 1_700_000_000, body: BODY, secrets: [SECRET_A] };
    expect(() => signWebhook({ ...base, id: '' })).toThrow(TypeError);
    expect(() => signWebhook({ ...base, id: 'evt 1' })).toThrow(TypeError);
    expect(() => signWebhook({ ...base, id: 'evt_1\r\nx: y' })).toThrow(TypeError);
    expect(() => signWebhook({ ...base, timestamp: 1_700_000_000.5 })).toThrow(TypeError);
    expect(() => signWebhook({ ...base, timestamp: -1 })).toThrow(TypeError);
    expect(() => signWebhook({ ...base, timestamp: Number.NaN })).toThrow(TypeError);
    expect(() => signWebhook({ ...base, secrets: [] })).toThrow(WebhookSecretError);
    expect(() => signWebhook({ ...base, secrets: [SECRET_A, 'not-a-secret'] })).toThrow(WebhookSecretError);
  });
});

describe('webhook secrets', () => {
  it('decodes the base64 after whsec_', () => {
    expect(parseWebhookSecret(SECRET_A)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
    expect(parseWebhookSecret(SECRET_A)).toHaveLength(24);
    expect(parseWebhookSecret('whsec_QQ==')).toEqual(Buffer.from('A'));
  });

  it.each([
    ['no prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['wrong prefix case', 'WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['empty', ''],
    ['empty after the prefix', 'whsec_'],
    ['unpadded', 'whsec_QQ'],
    ['bad length', 'whsec_abcde'],
    ['base64url alphabet', 'whsec_ab-_cdef'],
    ['whitespace', 'whsec_MfKQ 9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['trailing newline', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n'],
    ['padding in the middle', 'whsec_QQ==QQ=='],
    ['non-canonical trailing bits', 'whsec_QR=='],
  ])('refuses %s with a clear error', (_label, secret) => {
    expect(() => parseWebhookSecret(secret)).toThrow(WebhookSecretError);
    expect(() => parseWebhookSecret(secret)).toThrow(/whsec_|base64/);
    expect(isValidWebhookSecret(secret)).toBe(false);
  });

  it('generates whsec_ + 24 random bytes, accepted by the parser and by standardwebhooks', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(a).not.toBe(b);
    expect(parseWebhookSecret(a)).toHaveLength(24);
    const headers = signWebhook({ id: 'evt_gen', timestamp: nowSeconds(), body: BODY, secrets: [a] });
    expect(new Webhook(a).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(b).verify(BODY, headers)).toThrow(WebhookVerificationError);
  });
});

describe('verification by the stock standardwebhooks package', () => {
  it('verifies the spec vector at its own time', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: SPEC.timestamp * 1000 });
    const headers = signWebhook({ id: SPEC.id, timestamp: SPEC.timestamp, body: SPEC.body, secrets: [SPEC.secret] });
    expect(new Webhook(SPEC.secret).verify(SPEC.body, headers)).toEqual({ test: 2432232314 });
    expect(new Webhook(SPEC.secret).sign(SPEC.id, new Date(SPEC.timestamp * 1000), SPEC.body)).toBe(SPEC.signature);
  });

  it('accepts a valid signature (string and Buffer payloads)', () => {
    const headers = signWebhook({ id: 'evt_ok', timestamp: nowSeconds(), body: BODY, secrets: [SECRET_A] });
    const wh = new Webhook(SECRET_A);
    expect(wh.verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(wh.verify(Buffer.from(BODY), headers)).toEqual(JSON.parse(BODY));
  });

  it('rejects a tampered body', () => {
    const headers = signWebhook({ id: 'evt_t', timestamp: nowSeconds(), body: BODY, secrets: [SECRET_A] });
    const wh = new Webhook(SECRET_A);
    expect(() => wh.verify(BODY.replace('"hi"', '"ho"'), headers)).toThrow(WebhookVerificationError);
    expect(() => wh.verify(`${BODY} `, headers)).toThrow('No matching signature found');
    expect(() => wh.verify(BODY, { ...headers, 'webhook-id': 'evt_other' })).toThrow(WebhookVerificationError);
  });

  it('rejects a wrong secret', () => {
    const headers = signWebhook({ id: 'evt_w', timestamp: nowSeconds(), body: BODY, secrets: [SECRET_A] });
    expect(() => new Webhook(SECRET_B).verify(BODY, headers)).toThrow('No matching signature found');
  });

  it('rejects a timestamp outside its 5-minute tolerance, either way', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    const now = 1_700_000_000;
    const wh = new Webhook(SECRET_A);
    const at = (timestamp: number) => signWebhook({ id: 'evt_old', timestamp, body: BODY, secrets: [SECRET_A] });
    expect(wh.verify(BODY, at(now - 300))).toEqual(JSON.parse(BODY));
    expect(wh.verify(BODY, at(now + 300))).toEqual(JSON.parse(BODY));
    expect(() => wh.verify(BODY, at(now - 301))).toThrow('Message timestamp too old');
    expect(() => wh.verify(BODY, at(now - 3600))).toThrow('Message timestamp too old');
    expect(() => wh.verify(BODY, at(now + 301))).toThrow('Message timestamp too new');
  });

  it('verifies a rotated delivery with either secret, and not with a third', () => {
    const headers = signWebhook({ id: 'evt_r', timestamp: nowSeconds(), body: BODY, secrets: [SECRET_A, SECRET_B] });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(SECRET_A).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(new Webhook(SECRET_B).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(generateWebhookSecret()).verify(BODY, headers)).toThrow(WebhookVerificationError);
  });

  it('verifies a non-ASCII body, as a string and as its UTF-8 bytes', () => {
    const body = JSON.stringify({ body: 'olá, ação ✓ 👋 日本語' });
    const headers = signWebhook({ id: 'evt_u', timestamp: nowSeconds(), body: Buffer.from(body, 'utf8'), secrets: [SECRET_A] });
    const wh = new Webhook(SECRET_A);
    expect(wh.verify(body, headers)).toEqual(JSON.parse(body));
    expect(wh.verify(Buffer.from(body, 'utf8'), headers)).toEqual(JSON.parse(body));
    expect(() => wh.verify(body.normalize('NFD'), headers)).toThrow(WebhookVerificationError);
  });

  it('reads the headers case-insensitively, as a receiver gets them', () => {
    const headers = signWebhook({ id: 'evt_h', timestamp: nowSeconds(), body: BODY, secrets: [SECRET_A] });
    const shouted = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(new Webhook(SECRET_A).verify(BODY, shouted)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(SECRET_A).verify(BODY, { 'webhook-id': 'evt_h' })).toThrow('Missing required headers');
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/duration.js';
import { createApiKeyMatcher, extractApiKey } from '../../src/http/api-key.js';
import { isChatId, normalizePhone, parseRecipient } from '../../src/messages/phone-number.js';
import { KeyedLock } from '../../src/sessions/keyed-lock.js';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['250', 250],
    ['500ms', 500],
    ['5s', 5000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['30d', 2_592_000_000],
    [' 1.5s ', 1500],
  ])('%s → %d ms', (input, ms) => expect(parseDuration(input)).toBe(ms));
  it.each(['', 's', '-1s', '5 minutes', '1e3', '5sec', 'NaN'])('refuses %j', (input) => expect(parseDuration(input)).toBeNull());
});

describe('phone numbers and chat ids', () => {
  it('normalises international numbers, ignoring separators', () => {
    expect(normalizePhone('+55 (11) 99999-9999')).toBe('5511999999999');
    expect(normalizePhone('55.11.99999.9999')).toBe('5511999999999');
    expect(normalizePhone('1234567')).toBeNull();
    expect(normalizePhone('1234567890123456')).toBeNull();
    expect(normalizePhone('55119999x9999')).toBeNull();
    expect(normalizePhone('++5511999999999')).toBeNull();
  });
  it('recognises the chat id kinds of the contract', () => {
    for (const id of ['5511999999999@c.us', '120363025246125486@g.us', '5511999999-1609999999@g.us', '123456789012345@lid', '120363025246125486@newsletter']) expect(isChatId(id), id).toBe(true);
    for (const id of ['abc@c.us', '5511999999999@s.whatsapp.net', '@g.us', '5511999999999']) expect(isChatId(id), id).toBe(false);
    expect(parseRecipient('+55 11 99999-9999')).toEqual({ kind: 'phone', phone: '5511999999999' });
    expect(parseRecipient('120363025246125486@g.us')).toEqual({ kind: 'chat', chatId: '120363025246125486@g.us' });
    expect(parseRecipient('hello')).toBeNull();
  });
});

describe('API keys', () => {
  it('matches any configured key, of any length, and nothing else', () => {
    const match = createApiKeyMatcher(['short', 'a-much-longer-key-with-more-bytes']);
    expect(match('short')).toMatch(/^[0-9a-f]{16}$/);
    expect(match('a-much-longer-key-with-more-bytes')).not.toBe(match('short'));
    for (const wrong of ['', 'shor', 'shortt', 'SHORT', 'a-much-longer-key-with-more-byte']) expect(match(wrong), wrong).toBeNull();
    expect(createApiKeyMatcher([])('anything')).toBeNull();
  });
  it('remembers a key that matched (no hash for it again) and hashes every wrong key', () => {
    const hashed: string[] = [];
    const counting = (value: string): Buffer => {
      hashed.push(value);
      return createHash('sha256').update(value).digest();
    };
    const match = createApiKeyMatcher(['short', 'other-key'], counting);
    hashed.length = 0;
    const id = match('short');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(match(['sh', 'ort'].join(''))).toBe(id);
    expect(match('other-key')).not.toBe(id);
    expect(hashed).toEqual(['short', 'other-key']);
    for (let i = 0; i < 3; i++) expect(match('shorT')).toBeNull();
    expect(hashed).toEqual(['short', 'other-key', 'shorT', 'shorT', 'shorT']);
  });
  it('reads the key from the accepted headers only', () => {
    expect(extractApiKey({ 'x-api-key': 'a' }, undefined)).toBe('a');
    expect(extractApiKey({ 'x-28web-gateway-key': 'b' }, undefined)).toBe('b');
    expect(extractApiKey({ authorization: 'Bearer   c ' }, undefined)).toBe('c');
    expect(extractApiKey({ 'x-mine': 'd' }, 'x-mine')).toBe('d');
    expect(extractApiKey({ 'x-mine': 'd' }, undefined)).toBeNull();
    expect(extractApiKey({ authorization: 'Basic abc' }, undefined)).toBeNull();
  });
});

describe('KeyedLock', () => {
  it('runs work on one key one at a time, in order, and other keys concurrently', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const a1 = lock.run('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
    });
    const a2 = lock.run('a', async () => {
      log.push('a2');
    });
    const b = lock.run('b', async () => {
      log.push('b');
    });
    await b;
    expect(log).toEqual(['a1 start', 'b']);
    releaseFirst();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    expect(lock.size).toBe(0);
  });
  it('keeps going after a failure', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run('k', async () => 42)).resolves.toBe(42);
  });
});

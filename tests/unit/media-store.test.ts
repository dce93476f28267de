import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanFilename, cleanMimetype, DiskMediaStore, type DiskMediaStoreOptions } from '../../src/media/disk-media-store.js';
import { MEDIA_ID_PATTERN, MediaStoreError, mediaRef, mediaStoreErrorCode } from '../../src/media/media-store.js';
import { contentDisposition } from '../../src/media/media.routes.js';

const HOUR = 3_600_000;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('DiskMediaStore', () => {
  let root: string;
  let now: number;
  const stores: DiskMediaStore[] = [];
  const storeOf = (options: Partial<DiskMediaStoreOptions> = {}): DiskMediaStore => {
    const store = new DiskMediaStore({ root, ttlMs: HOUR, maxFileBytes: 1024, now: () => now, ...options });
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    root = join(await mkdtemp(join(tmpdir(), 'wagw-media-')), 'media');
    now = Date.parse('2026-11-21T12:00:00.000Z');
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(join(root, '..'), { recursive: true, force: true });
  });

  it('writes <root>/<session>/<mediaId> with a sidecar and reads the exact bytes back', async () => {
    const store = storeOf();
    const data = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    const media = await store.put('s1', { data, mimetype: 'image/jpeg', filename: 'a.jpg' });
    expect(media.mediaId).toMatch(MEDIA_ID_PATTERN);
    expect(media).toMatchObject({ sessionId: 's1', mimetype: 'image/jpeg', filename: 'a.jpg', size: 7, createdAt: new Date(now), expiresAt: new Date(now + HOUR) });
    expect((await readdir(join(root, 's1'))).sort()).toEqual([media.mediaId, `${media.mediaId}.json`].sort());
    expect(JSON.parse(await readFile(join(root, 's1', `${media.mediaId}.json`), 'utf8'))).toMatchObject({ v: 1, mimetype: 'image/jpeg', filename: 'a.jpg', size: 7 });

    const opened = await store.open('s1', media.mediaId);
    expect(opened?.media).toEqual(media);
    expect(await bytesOf(opened?.stream ?? (null as never))).toEqual(data);
    expect(mediaRef(media)).toEqual({ mediaId: media.mediaId, mimetype: 'image/jpeg', filename: 'a.jpg', size: 7, url: `/api/v1/sessions/s1/media/${media.mediaId}` });
    expect(store.storedBytes()).toBe(7);
  });

  it('gives unguessable, distinct ids and finds nothing under another session or a malformed id', async () => {
    const store = storeOf();
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await store.put('s1', { data: Buffer.from('x'), mimetype: 'text/plain' })).mediaId);
    expect(ids.size).toBe(20);
    const [id] = [...ids];
    expect(await store.open('s2', id ?? '')).toBeNull();
    expect(await store.open('s1', `med_${'A'.repeat(22)}`)).toBeNull();
    expect(await store.open('s1', '../s1/x')).toBeNull();
    expect(await store.open('../media', id ?? '')).toBeNull();
  });

  it('refuses a file above the per-file cap (MEDIA_TOO_LARGE) and beyond the total bound (MEDIA_STORE_FULL)', async () => {
    const store = storeOf({ maxFileBytes: 100, maxTotalBytes: 250 });
    await expect(store.put('s1', { data: Buffer.alloc(101), mimetype: 'image/png' })).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' });
    const a = await store.put('s1', { data: Buffer.alloc(100), mimetype: 'image/png' });
    await store.put('s2', { data: Buffer.alloc(100), mimetype: 'image/png' });
    await expect(store.put('s1', { data: Buffer.alloc(100), mimetype: 'image/png' })).rejects.toMatchObject({ code: 'MEDIA_STORE_FULL' });
    // Freed by expiry of the first file (read removes it)…
    now += HOUR;
    expect(await store.open('s1', a.mediaId)).toBeNull();
    expect(store.storedBytes()).toBe(100);
    await store.put('s1', { data: Buffer.alloc(100), mimetype: 'image/png', filename: null });
    // …and by the removal of a session.
    await store.removeSession('s1');
    expect(store.storedBytes()).toBe(100);
    expect(existsSync(join(root, 's1'))).toBe(false);
  });

  it('maps put errors to codes, MEDIA_STORE_FAILED for anything else', async () => {
    expect(mediaStoreErrorCode(new MediaStoreError('MEDIA_TOO_LARGE', 'x'))).toBe('MEDIA_TOO_LARGE');
    expect(mediaStoreErrorCode(new Error('EIO'))).toBe('MEDIA_STORE_FAILED');
    await mkdir(join(root, '..'), { recursive: true });
    await writeFile(root, 'a file where the directory should be');
    await expect(storeOf().put('s1', { data: Buffer.from('x'), mimetype: 'image/png' })).rejects.toMatchObject({ code: 'MEDIA_STORE_FAILED' });
  });

  it('expires media: refused and removed on read at createdAt + TTL', async () => {
    const store = storeOf();
    const media = await store.put('s1', { data: Buffer.from('x'), mimetype: 'image/png' });
    now += HOUR - 1;
    const stillThere = await store.open('s1', media.mediaId);
    expect(stillThere).not.toBeNull();
    stillThere?.stream.destroy();
    now += 1;
    expect(await store.open('s1', media.mediaId)).toBeNull();
    expect(await readdir(join(root, 's1'))).toEqual([]);
  });

  it('sweeps expired media, corrupt sidecars and stale leftovers of interrupted writes, and recounts the total', async () => {
    now = Date.now();
    const store = storeOf();
    const old = await store.put('s1', { data: Buffer.alloc(10), mimetype: 'image/png' });
    now += HOUR / 2;
    const fresh = await store.put('s2', { data: Buffer.alloc(20), mimetype: 'image/png' });
    now += HOUR / 2;
    const dir = join(root, 's2');
    const orphan = `med_${'o'.repeat(22)}`;
    const leftovers = { [orphan]: 11, [`.${orphan}.abc.tmp`]: 11, [`.${orphan}.def.tmp`]: 1 };
    for (const [name, minutesAgo] of Object.entries(leftovers)) {
      await writeFile(join(dir, name), 'an interrupted write');
      const at = new Date(now - minutesAgo * 60_000);
      await utimes(join(dir, name), at, at);
    }
    await writeFile(join(dir, `med_${'c'.repeat(22)}.json`), '{not json');

    expect(await store.sweep()).toBe(2);
    expect(await readdir(join(root, 's1'))).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual([fresh.mediaId, `${fresh.mediaId}.json`, `.${orphan}.def.tmp`].sort());
    expect(store.storedBytes()).toBe(20);
    expect(await store.open('s1', old.mediaId)).toBeNull();
  });

  it('a new store (a restart) serves what an earlier one stored and counts it at its first sweep', async () => {
    const media = await storeOf().put('s1', { data: Buffer.from('hello'), mimetype: 'text/plain' });
    const restarted = storeOf();
    restarted.start();
    const opened = await restarted.open('s1', media.mediaId);
    expect(await bytesOf(opened?.stream ?? (null as never))).toEqual(Buffer.from('hello'));
    await restarted.sweep();
    expect(restarted.storedBytes()).toBe(5);
  });

  it('cleans what the sender controls: mimetype and file name', () => {
    expect(cleanMimetype('image/jpeg')).toBe('image/jpeg');
    expect(cleanMimetype(' audio/ogg; codecs=opus ')).toBe('audio/ogg; codecs=opus');
    expect(cleanMimetype('text/html\r\nset-cookie: a=b')).toBe('application/octet-stream');
    expect(cleanMimetype('nonsense')).toBe('application/octet-stream');
    expect(cleanMimetype('')).toBe('application/octet-stream');
    expect(cleanFilename('../../etc/passwd')).toBe('passwd');
    expect(cleanFilename('C:\\Users\\x\\nota fiscal.pdf')).toBe('nota fiscal.pdf');
    expect(cleanFilename('a\r\nb.txt')).toBe('ab.txt');
    expect(cleanFilename('..')).toBeNull();
    expect(cleanFilename('   ')).toBeNull();
    expect(cleanFilename(undefined)).toBeNull();
    expect(cleanFilename('x'.repeat(300))).toHaveLength(255);
    expect(cleanFilename('bad\uD800.txt')).toBe('bad_.txt');
  });

  it('builds content-disposition: inline, ASCII filename and RFC 8187 filename*', () => {
    expect(contentDisposition(null)).toBe('inline');
    expect(contentDisposition('relatório "final".pdf')).toBe(`inline; filename="relat_rio _final_.pdf"; filename*=UTF-8''relat%C3%B3rio%20%22final%22.pdf`);
    expect(contentDisposition("it's (1).png")).toBe(`inline; filename="it's (1).png"; filename*=UTF-8''it%27s%20%281%29.png`);
  });
});

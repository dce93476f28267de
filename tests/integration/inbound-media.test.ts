import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InboundMessage } from '../../src/engines/engine.js';
import type { GatewayEvent } from '../../src/events/event-bus.js';
import type { MediaRef } from '../../src/media/media-store.js';
import type { MessageRecord } from '../../src/messages/message.js';
import { GatewayEventLog } from '../helpers/gateway-event-log.js';
import { readySession, simulatorOf } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp, type TestEnvOptions } from '../helpers/test-app.js';

const CONTACT = '5511977776666@c.us';
/** A real PNG header followed by random bytes: every byte value, so any re-encoding shows. */
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(4096)]);

describe.each(STORAGE_MODES)('inbound media (%s)', (mode) => {
  let t: TestApp | undefined;
  let log: GatewayEventLog | undefined;
  afterEach(async () => {
    log?.close();
    log = undefined;
    await t?.close();
    t = undefined;
  });

  async function start(env: Record<string, string> = {}): Promise<{ app: TestApp; events: GatewayEventLog }> {
    const options: TestEnvOptions = { mode, env };
    t = await startTestApp(options);
    log = new GatewayEventLog(t.app.gateway.bus);
    return { app: t, events: log };
  }

  /** A contact sends an image; the `message` event and the media reference it carries. */
  async function receiveImage(app: TestApp, events: GatewayEventLog, sessionId: string, nth: number, filename?: string): Promise<{ event: GatewayEvent; media: MediaRef }> {
    simulatorOf(app, sessionId).receive({ from: CONTACT, type: 'image', text: 'look', media: { data: PNG.toString('base64'), mimetype: 'image/png', ...(filename ? { filename } : {}) } });
    const event = await events.nth(sessionId, 'message', nth);
    return { event, media: event.data.media as MediaRef };
  }

  const get = (app: TestApp, url: string) => app.app.inject({ method: 'GET', url, headers: AUTH });
  /** The session's inbound records, once the pipeline has handled every engine event so far. */
  const inboundHistory = async (app: TestApp, sessionId: string): Promise<MessageRecord[]> => {
    await app.app.gateway.pipeline.idle();
    return (await get(app, `/api/v1/sessions/${sessionId}/messages?direction=inbound`)).json<{ data: MessageRecord[] }>().data;
  };
  /** Hands engine events to the gateway as the session's engine would, in order. */
  const fromEngine = (app: TestApp, sessionId: string, ...engineEvents: Parameters<TestApp['app']['gateway']['bus']['publishEngineEvent']>[1][]): void => {
    for (const event of engineEvents) app.app.gateway.bus.publishEngineEvent(sessionId, event);
  };
  const mediaFile = (app: TestApp, sessionId: string, mediaId: string): string => join(app.config.sessionsPath, 'media', sessionId, mediaId);

  it('stores the media before the message event, which references it by URL; GET returns the exact bytes', async () => {
    const { app, events } = await start();
    await readySession(app, 'm1');
    const { event, media } = await receiveImage(app, events, 'm1', 1, 'foto do cachorro.png');

    expect(media).toEqual({ mediaId: expect.stringMatching(/^med_[A-Za-z0-9_-]{22}$/) as unknown, mimetype: 'image/png', filename: 'foto do cachorro.png', size: PNG.length, url: `/api/v1/sessions/m1/media/${media.mediaId}` });
    expect(event.data).not.toHaveProperty('mediaError');
    expect(event.data).toMatchObject({ hasMedia: true, type: 'image', body: 'look' });
    expect(JSON.stringify(event.data)).not.toContain(PNG.toString('base64').slice(0, 64));
    // Stored when the event went out, under <SESSIONS_PATH>/media/<sessionId>/<mediaId>.
    expect(existsSync(mediaFile(app, 'm1', media.mediaId))).toBe(true);

    const res = await get(app, media.url);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.rawPayload.equals(PNG)).toBe(true);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(PNG.length));
    expect(res.headers['content-disposition']).toBe(`inline; filename="foto do cachorro.png"; filename*=UTF-8''foto%20do%20cachorro.png`);
    expect(res.headers['cache-control']).toMatch(/^private, max-age=\d+$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');

    // The inbound record references the same media, without bytes.
    const history = await get(app, '/api/v1/sessions/m1/messages?direction=inbound');
    const [record] = history.json<{ data: MessageRecord[] }>().data;
    expect(record?.content.media).toEqual(media);
    expect(JSON.stringify(record)).not.toContain(PNG.toString('base64').slice(0, 64));
  });

  it('takes media through the simulator route, and sends plain inline without a file name', async () => {
    const { app, events } = await start();
    await readySession(app, 'm2');
    const sent = await app.app.inject({
      method: 'POST',
      url: '/api/v1/sessions/m2/simulator/inbound',
      headers: AUTH,
      payload: { from: '5511977776666', type: 'audio', media: { data: Buffer.from('OggS voice').toString('base64'), mimetype: 'audio/ogg; codecs=opus' } },
    });
    expect(sent.statusCode, sent.body).toBe(201);
    const media = (await events.nth('m2', 'message', 1)).data.media as MediaRef;
    expect(media).toMatchObject({ mimetype: 'audio/ogg; codecs=opus', filename: null, size: 10 });
    const res = await get(app, media.url);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('OggS voice');
    expect(res.headers['content-type']).toBe('audio/ogg; codecs=opus');
    expect(res.headers['content-disposition']).toBe('inline');
  });

  it('answers 404 MEDIA_NOT_FOUND for an unknown id and for another session’s media, 404 SESSION_NOT_FOUND for an unknown session', async () => {
    const { app, events } = await start();
    await readySession(app, 'ma', '5511911110001');
    await readySession(app, 'mb', '5511911110002');
    const { media } = await receiveImage(app, events, 'ma', 1);

    const unknown = await get(app, `/api/v1/sessions/ma/media/med_${randomBytes(16).toString('base64url')}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ statusCode: 404, code: 'MEDIA_NOT_FOUND', error: 'Not Found', details: [] });

    const other = await get(app, `/api/v1/sessions/mb/media/${media.mediaId}`);
    expect(other.statusCode).toBe(404);
    expect(other.json<{ code: string }>().code).toBe('MEDIA_NOT_FOUND');

    const noSession = await get(app, `/api/v1/sessions/nobody/media/${media.mediaId}`);
    expect(noSession.statusCode).toBe(404);
    expect(noSession.json<{ code: string }>().code).toBe('SESSION_NOT_FOUND');

    for (const bad of ['med_short', 'not-a-media-id', 'med_..%2F..%2Fregistry.json', `${media.mediaId}.json`]) {
      const res = await get(app, `/api/v1/sessions/ma/media/${bad}`);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json<{ code: string; details: { path: string }[] }>()).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ path: 'params.mediaId' }] });
    }
    expect((await get(app, media.url)).statusCode).toBe(200);
  });

  it('removes a session’s media when the session is deleted', async () => {
    const { app, events } = await start();
    await readySession(app, 'md');
    const { media } = await receiveImage(app, events, 'md', 1);
    expect(existsSync(mediaFile(app, 'md', media.mediaId))).toBe(true);

    const deleted = await app.app.inject({ method: 'DELETE', url: '/api/v1/sessions/md', headers: AUTH });
    expect(deleted.statusCode).toBe(204);
    await app.app.gateway.pipeline.idle();
    expect(existsSync(join(app.config.sessionsPath, 'media', 'md'))).toBe(false);

    // A new session of the same name does not see the old media.
    await readySession(app, 'md');
    const res = await get(app, media.url);
    expect(res.statusCode).toBe(404);
    expect(res.json<{ code: string }>().code).toBe('MEDIA_NOT_FOUND');
  });

  it('expires media after MEDIA_TTL: 404 on read (which removes it), and the sweep removes the rest', async () => {
    const { app, events } = await start({ MEDIA_TTL: '200ms' });
    await readySession(app, 'mx');
    const first = (await receiveImage(app, events, 'mx', 1)).media;
    const second = (await receiveImage(app, events, 'mx', 2)).media;
    expect((await get(app, first.url)).statusCode).toBe(200);

    // Waiting past the TTL is the behaviour under test.
    await new Promise((resolve) => setTimeout(resolve, 250));

    const expired = await get(app, first.url);
    expect(expired.statusCode).toBe(404);
    expect(expired.json<{ code: string }>().code).toBe('MEDIA_NOT_FOUND');
    expect(existsSync(mediaFile(app, 'mx', first.mediaId))).toBe(false);

    expect(existsSync(mediaFile(app, 'mx', second.mediaId))).toBe(true);
    await app.app.gateway.media.sweep();
    expect(existsSync(mediaFile(app, 'mx', second.mediaId))).toBe(false);
    expect(await readdir(join(app.config.sessionsPath, 'media', 'mx'))).toEqual([]);
    expect((await get(app, second.url)).statusCode).toBe(404);
  });

  it('publishes media: null with mediaError MEDIA_TOO_LARGE above MEDIA_MAX_BYTES, and keeps the engine’s mediaError', async () => {
    const { app, events } = await start({ MEDIA_MAX_BYTES: '1024' });
    await readySession(app, 'mt');
    const { event } = await receiveImage(app, events, 'mt', 1);
    expect(event.data).toMatchObject({ hasMedia: true, media: null, mediaError: 'MEDIA_TOO_LARGE' });
    const [record] = (await get(app, '/api/v1/sessions/mt/messages?direction=inbound')).json<{ data: MessageRecord[] }>().data;
    expect(record?.content).toMatchObject({ media: null, mediaError: 'MEDIA_TOO_LARGE' });

    const failed: InboundMessage = { ...inbound('wa-failed-download'), hasMedia: true, media: null, mediaError: 'media is no longer available on WhatsApp (expired or deleted)' };
    app.app.gateway.bus.publishEngineEvent('mt', { type: 'message', message: failed });
    expect((await events.nth('mt', 'message', 2)).data).toMatchObject({ media: null, mediaError: 'media is no longer available on WhatsApp (expired or deleted)' });
  });

  it('stores media up to MEDIA_STORE_MAX_BYTES in total; past it publishes media: null with mediaError MEDIA_STORE_FULL', async () => {
    const { app, events } = await start({ MEDIA_STORE_MAX_BYTES: String(PNG.length + PNG.length / 2) });
    await readySession(app, 'mf');
    const first = await receiveImage(app, events, 'mf', 1);
    expect(first.media.size).toBe(PNG.length);
    const second = await receiveImage(app, events, 'mf', 2);
    expect(second.event.data).toMatchObject({ hasMedia: true, media: null, mediaError: 'MEDIA_STORE_FULL' });
    expect((await get(app, first.media.url)).statusCode).toBe(200);
  });

  it('publishes media: null with mediaError MEDIA_STORE_FAILED when the store cannot write, and the message all the same', async () => {
    const { app, events } = await start();
    await readySession(app, 'mf');
    // A file where the media directory should be: every write fails.
    await writeFile(join(app.config.sessionsPath, 'media'), 'in the way');
    const { event } = await receiveImage(app, events, 'mf', 1);
    expect(event.data).toMatchObject({ hasMedia: true, media: null, mediaError: 'MEDIA_STORE_FAILED', body: 'look' });
  });

  it('stores a repeated text message event once (one step: lookup and insert) and publishes each event', async () => {
    const { app, events } = await start();
    await readySession(app, 'mt2');
    const message: InboundMessage = { ...inbound('wa-repeated-text'), type: 'chat', body: 'oi' };
    fromEngine(app, 'mt2', { type: 'message', message }, { type: 'message', message: { ...message, body: 'oi (again)' } });
    expect((await events.nth('mt2', 'message', 2)).data).toMatchObject({ body: 'oi (again)', media: null });
    const stored = await inboundHistory(app, 'mt2');
    expect(stored.map((r) => [r.waMessageId, r.content.body])).toEqual([['wa-repeated-text', 'oi']]);
  });

  it("stores an inbound text at its message_create and records that event and the message event in one append", async () => {
    const { app, events } = await start();
    await readySession(app, 'mc');
    const appends = vi.spyOn(app.app.gateway.storage.events, 'appendMany');
    const message: InboundMessage = { ...inbound('wa-create-then-message'), type: 'chat', body: 'olá' };
    fromEngine(app, 'mc', { type: 'message_create', message }, { type: 'message', message });
    await events.nth('mc', 'message_create', 1);
    const received = await events.nth('mc', 'message', 1);
    expect(received.data).toMatchObject({ body: 'olá', media: null });
    await app.app.gateway.events.idle();
    const batches = appends.mock.calls.map(([batch]) => batch.map((e) => e.event));
    // In one batch, one after the other (the batch may hold the session's earlier events too).
    expect(batches.some((batch) => batch[batch.indexOf('message_create') + 1] === 'message' && batch.includes('message_create'))).toBe(true);
    appends.mockRestore();
    const stored = await inboundHistory(app, 'mc');
    expect(stored.map((r) => [r.waMessageId, r.content.body])).toEqual([['wa-create-then-message', 'olá']]);
  });

  it('leaves an inbound media message to its message event (the one that carries the download)', async () => {
    const { app, events } = await start();
    await readySession(app, 'mm');
    const withMedia: InboundMessage = { ...inbound('wa-media-create'), type: 'document', hasMedia: true, media: { data: PNG.toString('base64'), mimetype: 'application/pdf', filename: 'a.pdf' } };
    fromEngine(app, 'mm', { type: 'message_create', message: { ...withMedia, media: null } }, { type: 'message', message: withMedia });
    const media = (await events.nth('mm', 'message', 1)).data.media as MediaRef;
    expect(media.mimetype).toBe('application/pdf');
    const [record] = await inboundHistory(app, 'mm');
    expect(record?.content.media).toEqual(media);
  });

  it('stores the media of a repeated message event once', async () => {
    const { app, events } = await start();
    await readySession(app, 'mr');
    const message: InboundMessage = { ...inbound('wa-repeated'), type: 'document', hasMedia: true, media: { data: PNG.toString('base64'), mimetype: 'application/pdf', filename: 'nota.pdf' } };
    fromEngine(app, 'mr', { type: 'message', message }, { type: 'message', message });
    const first = (await events.nth('mr', 'message', 1)).data.media as MediaRef;
    const second = (await events.nth('mr', 'message', 2)).data.media as MediaRef;
    expect(second).toEqual(first);
    expect((await readdir(join(app.config.sessionsPath, 'media', 'mr'))).filter((name) => !name.endsWith('.json'))).toEqual([first.mediaId]);
  });
});

function inbound(waMessageId: string): InboundMessage {
  return {
    waMessageId,
    from: CONTACT,
    to: '5511988887777@c.us',
    chatId: CONTACT,
    author: null,
    body: '',
    type: 'image',
    timestamp: Math.floor(Date.now() / 1000),
    isGroup: false,
    fromMe: false,
    hasMedia: false,
    media: null,
    quotedMessageId: null,
    mentions: [],
    location: null,
    isForwarded: false,
    isStatus: false,
    fromPhone: null,
    mediaError: null,
  };
}

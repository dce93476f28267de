import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { messagingHarness } from '../helpers/messaging-harness.js';
import { accepted, eventually, getMessage, readySession, send } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES } from '../helpers/test-app.js';

const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** A media server on loopback: `/ok.jpg` (bytes), `/big` (over the cap), `/missing` (404). */
async function mediaServer(bigBytes: number): Promise<{ server: Server; base: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/ok.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.alloc(1_000, 7));
    else if (req.url === '/big') res.writeHead(200, { 'content-type': 'video/mp4' }).end(Buffer.alloc(bigBytes, 1));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe.each(STORAGE_MODES)('message routes (%s)', (mode) => {
  const h = messagingHarness(mode, { SEND_RETRY_DELAY: '10ms' });
  const { start, sends } = h;
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it('queues a text, answers 202 with the contract Message, and moves it queued → sent → delivered → read', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const record = await accepted(app, 'sales', { to: '+55 11 99999-1234', type: 'text', text: 'Olá!', clientRef: 'order-123' });
    expect(record).toMatchObject({ sessionId: 'sales', chatId: '5511999991234@c.us', direction: 'outbound', type: 'text', status: 'queued', clientRef: 'order-123', waMessageId: null, content: { text: 'Olá!', linkPreview: false }, attempts: 0, error: null });
    expect(record.id).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(record).not.toHaveProperty('sendingSince');
    await h.log.status(record.id, 'read');
    expect(h.log.statusesOf(record.id)).toEqual(['queued', 'sent', 'delivered', 'read']);
    const stored = await getMessage(app, 'sales', record.id);
    expect(stored).toMatchObject({ status: 'read', attempts: 1 });
    expect(stored.waMessageId).toMatch(/^true_/);
    expect(stored.latency.toSentMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(stored.readAt ?? '')).toBeGreaterThanOrEqual(Date.parse(stored.deliveredAt ?? ''));
    expect(await getMessage(app, 'sales', stored.waMessageId ?? '')).toMatchObject({ id: record.id });
    expect(sends).toEqual([expect.objectContaining({ sessionId: 'sales', chatId: '5511999991234@c.us', content: { type: 'text', text: 'Olá!', linkPreview: false } })]);
    const status = h.log.events.find((e) => e.event === 'message.status' && e.data.status === 'sent');
    expect(status?.data).toMatchObject({ id: record.id, waMessageId: stored.waMessageId, clientRef: 'order-123', status: 'sent', error: null });
    const ack = h.log.events.find((e) => e.event === 'message_ack' && e.data.ack === 2);
    expect(ack?.data).toMatchObject({ messageId: stored.waMessageId, status: 'delivered', gatewayMessageId: record.id });
  });

  it('sends every engine type; the record shows media without its bytes', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const to = '5511999991234';
    const bodies = [
      { type: 'image', media: { data: PNG_1PX, mimetype: 'image/png', filename: 'dot.png' }, caption: 'a dot' },
      { type: 'video', media: { data: PNG_1PX, mimetype: 'video/mp4' } },
      { type: 'audio', media: { data: 'T2dnUwACAAAAAAAAAAA=', mimetype: 'audio/ogg; codecs=opus' }, voice: true },
      { type: 'document', media: { data: PNG_1PX, mimetype: 'application/pdf' }, filename: 'invoice.pdf', caption: 'Fatura' },
      { type: 'sticker', media: { data: PNG_1PX, mimetype: 'image/webp' } },
      { type: 'location', location: { latitude: -23.56, longitude: -46.65, name: 'Loja' } },
      { type: 'contact', contact: { name: 'Suporte', phone: '+55 11 3333-4444' } },
      { type: 'poll', poll: { name: 'Horário?', options: ['Manhã', 'Tarde'], multipleAnswers: true } },
    ];
    const records: MessageRecord[] = [];
    for (const body of bodies) records.push(await accepted(app, 'sales', { to, ...body }));
    expect(records[0]?.content).toEqual({ media: { mimetype: 'image/png', filename: 'dot.png', size: 70 }, caption: 'a dot' });
    await h.log.allReach(records.map((r) => r.id), ['sent', 'delivered', 'read']);
    expect(sends.map((s) => s.content.type)).toEqual(bodies.map((b) => b.type));
    expect(sends[0]?.content).toMatchObject({ media: { data: PNG_1PX, mimetype: 'image/png', filename: 'dot.png' }, caption: 'a dot' });
    expect(sends[3]?.content).toMatchObject({ filename: 'invoice.pdf' });
    expect(sends[6]?.content).toEqual({ type: 'contact', contact: { name: 'Suporte', phone: '551133334444' } });
  });

  it('fetches URL media through the guard: private hosts refused with 422 unless allow-listed; failures end the record', async () => {
    const media = await mediaServer(3_000);
    servers.push(media.server);
    const refused = await start();
    await readySession(refused, 'sales');
    const forbidden = await send(refused, 'sales', { to: '5511999991234', type: 'image', media: { url: `${media.base}/ok.jpg` } });
    expect(forbidden.statusCode).toBe(422);
    expect(forbidden.json()).toMatchObject({ code: 'MEDIA_URL_FORBIDDEN' });
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://[::1]/x', 'http://2130706433/x', 'http://0x7f000001/x', 'http://[::ffff:127.0.0.1]/x', 'http://10.0.0.1/x']) {
      const res = await send(refused, 'sales', { to: '5511999991234', type: 'image', media: { url } });
      expect(res.statusCode, url).toBe(422);
    }
    expect((await send(refused, 'sales', { to: '5511999991234', type: 'image', media: { url: 'ftp://example.com/x' } })).statusCode).toBe(400);
    expect(media.hits).toEqual([]);
    await refused.close();

    const app = await start({ MEDIA_ALLOWED_HOSTS: '127.0.0.1', MEDIA_MAX_BYTES: '2000' });
    await readySession(app, 'sales');
    const ok = await accepted(app, 'sales', { to: '5511999991234', type: 'image', media: { url: `${media.base}/ok.jpg` } });
    const big = await accepted(app, 'sales', { to: '5511999991234', type: 'video', media: { url: `${media.base}/big` } });
    const missing = await accepted(app, 'sales', { to: '5511999991234', type: 'document', media: { url: `${media.base}/missing` } });
    expect(ok.content).toEqual({ media: { url: `${media.base}/ok.jpg` } });
    await h.log.allReach([ok.id], ['sent']);
    await h.log.allReach([big.id, missing.id], ['failed']);
    expect(sends).toHaveLength(1);
    expect(sends[0]?.content).toMatchObject({ type: 'image', media: { mimetype: 'image/jpeg', filename: 'ok.jpg', data: Buffer.alloc(1_000, 7).toString('base64') } });
    expect((await getMessage(app, 'sales', big.id)).error).toMatchObject({ code: 'MEDIA_TOO_LARGE' });
    expect((await getMessage(app, 'sales', missing.id)).error).toMatchObject({ code: 'MEDIA_FETCH_FAILED' });
  });

  it('answers 413 for base64 media over MEDIA_MAX_BYTES and for a body over the route limit', async () => {
    const app = await start({ MEDIA_MAX_BYTES: '1000' });
    await readySession(app, 'sales');
    const tooLarge = await send(app, 'sales', { to: '5511999991234', type: 'image', media: { data: Buffer.alloc(1_001).toString('base64'), mimetype: 'image/png' } });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toMatchObject({ code: 'MEDIA_TOO_LARGE' });
    const huge = await send(app, 'sales', { to: '5511999991234', type: 'image', media: { data: Buffer.alloc(200_000).toString('base64'), mimetype: 'image/png' } });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect((await app.app.inject({ url: '/api/v1/sessions/sales/messages', headers: AUTH })).json<{ data: unknown[] }>().data).toEqual([]);
  });

  it('refuses bad bodies with 400 and the contract error shape, storing nothing', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const bad: [Record<string, unknown>, string][] = [
      [{ to: '123', type: 'text', text: 'x' }, 'body.to'],
      [{ to: 'someone@example.com', type: 'text', text: 'x' }, 'body.to'],
      [{ to: '5511999991234', type: 'text', text: 'x'.repeat(4097) }, 'body.text'],
      [{ to: '5511999991234', type: 'text', text: '   ' }, 'body.text'],
      [{ to: '5511999991234', type: 'text', text: 'hi', mentions: ['5511988887777'] }, 'body.mentions.0'],
      [{ to: '5511999991234', type: 'poll', poll: { name: 'q', options: ['only'] } }, 'body.poll.options'],
      [{ to: '5511999991234', type: 'poll', poll: { name: 'q', options: Array.from({ length: 13 }, (_, i) => `o${i}`) } }, 'body.poll.options'],
      [{ to: '5511999991234', type: 'location', location: { latitude: 91, longitude: 0 } }, 'body.location.latitude'],
      [{ to: '5511999991234', type: 'location', location: { latitude: 0, longitude: -181 } }, 'body.location.longitude'],
      [{ to: '5511999991234', type: 'image', media: { data: 'not base64!', mimetype: 'image/png' } }, 'body.media'],
      [{ to: '5511999991234', type: 'image', media: { data: PNG_1PX, mimetype: 'png' } }, 'body.media'],
      [{ to: '5511999991234', type: 'text', text: 'x', clientRef: 'c'.repeat(129) }, 'body.clientRef'],
      [{ to: '5511999991234', type: 'fax', text: 'x' }, 'body.type'],
      [{ to: '5511999991234', type: 'text', text: 'x', extra: true }, 'body'],
    ];
    for (const [payload, path] of bad) {
      const res = await send(app, 'sales', payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      const body = res.json<{ code: string; details: { path: string }[] }>();
      expect(body.code).toBe('VALIDATION_ERROR');
      expect(body.details.map((d) => d.path).some((p) => p.startsWith(path)), `${path} in ${JSON.stringify(body.details)}`).toBe(true);
    }
    const key = await send(app, 'sales', { to: '5511999991234', type: 'text', text: 'x' }, { 'idempotency-key': 'k'.repeat(129) });
    expect(key.statusCode).toBe(400);
    const buttons = await send(app, 'sales', { to: '5511999991234', type: 'buttons', text: 'Ok?', buttons: [{ text: 'Sim' }] });
    expect(buttons.statusCode).toBe(422);
    expect(buttons.json()).toMatchObject({ code: 'NOT_SUPPORTED_BY_ENGINE' });
    expect((await app.app.inject({ url: '/api/v1/sessions/sales/messages', headers: AUTH })).json<{ data: unknown[] }>().data).toEqual([]);
    expect(sends).toEqual([]);
  });

  it('404 for an unknown session, 409 for a stopped one, 202 and a wait for one still showing its QR', async () => {
    const app = await start();
    expect((await send(app, 'nobody', { to: '5511999991234', type: 'text', text: 'x' })).json()).toMatchObject({ statusCode: 404, code: 'SESSION_NOT_FOUND' });
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'off', start: false } });
    expect((await send(app, 'off', { to: '5511999991234', type: 'text', text: 'x' })).json()).toMatchObject({ statusCode: 409, code: 'SESSION_NOT_READY' });

    await app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'later' } });
    await app.app.gateway.sessions.waitForStatus('later', ['qr'], 2_000);
    const early = await accepted(app, 'later', { to: '5511999991234', type: 'text', text: 'before the scan' });
    expect(sends).toEqual([]);
    expect((await getMessage(app, 'later', early.id)).status).toBe('queued');
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions/later/simulator/scan', headers: AUTH, payload: {} });
    await h.log.status(early.id, 'sent');
    expect((await getMessage(app, 'later', early.id)).attempts).toBe(1);
  });

  it('quotes by our id or WhatsApp’s, passes mentions as WhatsApp ids, and fails an unknown quote without retry', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const first = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'first' });
    await h.log.status(first.id, 'sent');
    const waId = (await getMessage(app, 'sales', first.id)).waMessageId ?? '';
    const byOurs = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'oi @5511977776666', replyTo: first.id, mentions: ['+55 11 97777-6666'] });
    const byTheirs = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'again', replyTo: waId });
    const unknown = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'lost', replyTo: 'msg_000000000000000000000000' });
    await h.log.allReach([byOurs.id, byTheirs.id], ['sent', 'delivered', 'read']);
    await h.log.status(unknown.id, 'failed');
    expect(byOurs.content).toMatchObject({ replyTo: first.id, mentions: ['5511977776666'] });
    expect(sends[1]?.options).toEqual({ quotedMessageId: waId, mentions: ['5511977776666@c.us'] });
    expect(sends[2]?.options).toMatchObject({ quotedMessageId: waId });
    expect(await getMessage(app, 'sales', unknown.id)).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'QUOTED_MESSAGE_NOT_FOUND' } });
    expect(sends).toHaveLength(3);
  });

  it('resolves a phone number to the engine’s id and fails a number not on WhatsApp once, without retry', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const byPhone = await accepted(app, 'sales', { to: '+55 11 98888-0000', type: 'text', text: 'x' });
    const byChat = await accepted(app, 'sales', { to: '5511988880000@c.us', type: 'text', text: 'x' });
    await h.log.allReach([byPhone.id, byChat.id], ['failed']);
    expect(await getMessage(app, 'sales', byPhone.id)).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'NUMBER_NOT_ON_WHATSAPP' } });
    expect(await getMessage(app, 'sales', byChat.id)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'NUMBER_NOT_ON_WHATSAPP' } });
    expect(h.log.statusesOf(byChat.id)).toEqual(['queued', 'failed']);
    expect(sends).toEqual([]);
    await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'ok' }).then((r) => h.log.status(r.id, 'sent'));
    expect((await app.app.inject({ url: '/api/v1/sessions/sales', headers: AUTH })).json()).toMatchObject({ stats: { sent: 1, failed: 2, received: 0 } });
  });

  it('counts inbound messages in the session\'s stats and writes them to the registry coalesced, not once per message', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const registry = app.app.gateway.storage.registry;
    const put = registry.put.bind(registry);
    const written: number[] = [];
    registry.put = async (record) => {
      written.push(record.stats.received);
      return put(record);
    };
    for (let i = 0; i < 5; i++) {
      const res = await app.app.inject({ method: 'POST', url: '/api/v1/sessions/sales/simulator/inbound', headers: AUTH, payload: { from: '5511977776666', type: 'text', text: `hi ${i}` } });
      expect(res.statusCode).toBe(201);
    }
    await app.app.gateway.pipeline.idle();
    expect((await app.app.inject({ url: '/api/v1/sessions/sales', headers: AUTH })).json()).toMatchObject({ stats: { received: 5 } });
    // Written once after the burst (within the second), with the final count.
    const stored = await eventually(async () => ((await registry.get('sales'))?.stats.received === 5 ? true : null), 3_000);
    expect(stored).toBe(true);
    expect(written).toEqual([5]);
  });
});


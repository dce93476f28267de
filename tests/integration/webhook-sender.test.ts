import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSender, parseRetryAfter, type SendOutcome, type SendRequest } from '../../src/webhooks/webhook-sender.js';
import { freePort } from '../helpers/free-port.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { SECRET_A, SECRET_B } from '../helpers/webhooks.js';

const BODY = JSON.stringify({ id: 'evt_0123456789abcdef01234567', seq: 1, sessionId: 'sales', event: 'message', data: { body: 'oi' } });

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates; anything else is ignored', () => {
    const now = Date.parse('2026-11-21T12:00:00.000Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sat, 21 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['5', '9'], now)).toBe(5_000);
    for (const bad of [undefined, '', '-1', '1.5', 'soon', '12345678901']) expect(parseRetryAfter(bad, now), String(bad)).toBeNull();
  });
});

describe('WebhookSender', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const receiver = async (...args: Parameters<typeof WebhookReceiver.start>): Promise<WebhookReceiver> => {
    const r = await WebhookReceiver.start(...args);
    cleanups.push(() => r.stop());
    return r;
  };
  const sender = (options: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {}): WebhookSender => {
    const s = new WebhookSender({ timeoutMs: 2_000, allowedHosts: [], userAgent: 'whatsapp-gateway/test', ...options });
    cleanups.push(() => s.close());
    return s;
  };
  const send = (s: WebhookSender, url: string, extra: Partial<SendRequest> = {}): Promise<SendOutcome> =>
    s.send({ url, eventId: 'evt_0123456789abcdef01234567', body: BODY, secrets: [SECRET_A], guarded: true, sendApiKey: false, signal: new AbortController().signal, ...extra });

  it('posts the exact body, signed, over one kept-alive connection', async () => {
    const r = await receiver();
    const s = sender({ allowedHosts: ['127.0.0.1'], apiKey: { header: 'x-28web-gateway-key', value: 'k' } });
    expect(await send(s, r.url(), { secrets: [SECRET_A, SECRET_B], sendApiKey: true })).toMatchObject({ kind: 'delivered', statusCode: 200 });
    for (let i = 0; i < 4; i++) expect(await send(s, r.url())).toMatchObject({ kind: 'delivered' });
    const [first, second] = r.events;
    expect(first?.body).toBe(BODY);
    expect(first?.method).toBe('POST');
    const headers = first?.headers as Record<string, string>;
    expect(new Webhook(SECRET_B).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(headers['x-28web-gateway-key']).toBe('k');
    expect(second?.headers['x-28web-gateway-key']).toBeUndefined();
    // Keep-alive: connections are reused (one may open while the previous one is being released).
    expect(new Set(r.events.map((e) => e.remotePort)).size).toBeLessThan(r.events.length);
  });

  it('refuses private addresses for guarded targets unless allow-listed, at every connection (DNS rebinding), and trusts the others', async () => {
    const r = await receiver();
    const port = new URL(r.url()).port;
    // A name that resolved to a public address when it was set, and now points at loopback.
    const resolve = async (host: string) => (host === 'rebind.test' || host === 'localhost' ? [{ address: '127.0.0.1', family: 4 as const }] : []);
    const guarded = sender({ resolve });
    for (const url of [r.url(), `http://localhost:${port}/hook`, `http://rebind.test:${port}/hook`, `http://[::ffff:127.0.0.1]:${port}/hook`]) {
      const outcome = await send(guarded, url);
      expect(outcome, url).toMatchObject({ kind: 'failed', statusCode: null, error: { code: 'URL_FORBIDDEN' } });
    }
    expect(r.events).toHaveLength(0);
    // Allow-listed by name: connects to the address the (pinned) lookup vetted.
    expect(await send(sender({ resolve, allowedHosts: ['rebind.test'] }), `http://rebind.test:${port}/hook`)).toMatchObject({ kind: 'delivered' });
    // APP_WEBHOOK_URL is not guarded.
    expect(await send(guarded, r.url(), { guarded: false })).toMatchObject({ kind: 'delivered' });
    expect(r.events).toHaveLength(2);
  });

  it('classifies answers: 3xx not followed, 410 gone, Retry-After on 429/503 only, other statuses failed', async () => {
    const answers: Record<string, { status: number; headers?: Record<string, string> }> = {
      '/redirect': { status: 307, headers: { location: '/target' } },
      '/gone': { status: 410 },
      '/busy': { status: 429, headers: { 'retry-after': '7' } },
      '/down': { status: 503, headers: { 'retry-after': '3' } },
      '/error': { status: 500, headers: { 'retry-after': '3' } },
      '/bad': { status: 400 },
      '/target': { status: 200 },
    };
    const r = await receiver((request) => answers[request.path] ?? { status: 404 });
    const s = sender({ allowedHosts: ['127.0.0.1'] });
    expect(await send(s, r.url('/redirect'))).toMatchObject({ kind: 'failed', statusCode: 307, error: { code: 'REDIRECT_NOT_FOLLOWED' }, gone: false });
    expect(r.to('/target')).toHaveLength(0);
    expect(await send(s, r.url('/gone'))).toMatchObject({ kind: 'failed', statusCode: 410, error: { code: 'GONE' }, gone: true });
    expect(await send(s, r.url('/busy'))).toMatchObject({ kind: 'failed', statusCode: 429, retryAfterMs: 7_000 });
    expect(await send(s, r.url('/down'))).toMatchObject({ kind: 'failed', statusCode: 503, retryAfterMs: 3_000 });
    expect(await send(s, r.url('/error'))).toMatchObject({ kind: 'failed', statusCode: 500, retryAfterMs: null, error: { code: 'HTTP_ERROR', message: 'HTTP 500' } });
    expect(await send(s, r.url('/bad'))).toMatchObject({ kind: 'failed', statusCode: 400 });
  });

  it('fails an attempt on a refused connection or past the timeout; an aborted one is interrupted, not failed', async () => {
    const closedPort = await freePort();
    const s = sender({ allowedHosts: ['127.0.0.1'], timeoutMs: 200 });
    expect(await send(s, `http://127.0.0.1:${closedPort}/hook`)).toMatchObject({ kind: 'failed', statusCode: null, error: { code: 'CONNECTION_ERROR' } });
    const r = await receiver(() => ({ status: 200, delayMs: 3_000 }));
    const started = performance.now();
    expect(await send(s, r.url())).toMatchObject({ kind: 'failed', statusCode: null, error: { code: 'TIMEOUT', message: 'no answer within 200 ms' } });
    expect(performance.now() - started).toBeLessThan(2_000);
    const controller = new AbortController();
    const pending = send(sender({ allowedHosts: ['127.0.0.1'] }), r.url(), { signal: controller.signal });
    await r.requests('/hook', 2);
    controller.abort();
    expect(await pending).toEqual({ kind: 'interrupted' });
  });
});

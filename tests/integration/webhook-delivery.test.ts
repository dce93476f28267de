import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateWebhookSecret } from '../../src/webhooks/webhook-signer.js';
import { eventually, readySession } from '../helpers/messaging.js';
import { AUTH, startTestApp, type StorageMode, type TestApp } from '../helpers/test-app.js';
import { LogCapture } from '../helpers/log-capture.js';
import { WebhookReceiver, type ReceivedEnvelope } from '../helpers/webhook-receiver.js';
import { CONTACT, SECRET_A, SECRET_B, deliveries, inbound, loggedMessages, quickSchedule, webhookEnv } from '../helpers/webhooks.js';

const texts = (envelopes: readonly ReceivedEnvelope[]): unknown[] => envelopes.map((e) => e.data.body);

async function putWebhooks(t: TestApp, sessionId: string, webhooks: unknown[]): Promise<void> {
  const res = await t.app.inject({ method: 'PUT', url: `/api/v1/sessions/${sessionId}/webhooks`, headers: AUTH, payload: { webhooks } });
  expect(res.statusCode, res.body).toBe(200);
}

describe('webhook delivery', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const receiver = async (...args: Parameters<typeof WebhookReceiver.start>): Promise<WebhookReceiver> => {
    const r = await WebhookReceiver.start(...args);
    cleanups.push(() => r.stop());
    return r;
  };
  const gateway = async (env: Record<string, string>, mode: StorageMode = 'memory', logs?: LogCapture): Promise<TestApp> => {
    const t = await startTestApp({ mode, env }, logs ? { logger: logs.logger } : {});
    cleanups.push(() => t.close());
    return t;
  };

  it('signs per Standard Webhooks (verified by the standardwebhooks package), with every active secret during rotation; tampering, a wrong secret and an old timestamp are refused', async () => {
    const r = await receiver();
    const other = await receiver();
    const logs = new LogCapture('trace');
    const t = await gateway(webhookEnv(r, { WEBHOOK_SECRET: `${SECRET_A} ${SECRET_B}`, WEBHOOK_API_KEY: 'monolith-key' }), 'memory', logs);
    await readySession(t, 'sales');
    await putWebhooks(t, 'sales', [
      { url: r.url('/sales'), events: ['message'], secret: SECRET_B },
      { url: other.url('/other'), events: ['message'] },
    ]);
    inbound(t, 'sales', 'oi');
    const [envelope] = await r.delivered('/app', 1);
    await r.delivered('/sales', 1);
    await other.delivered('/other', 1);

    const request = r.to('/app')[0];
    if (!request || !envelope) throw new Error('no delivery');
    const [logged] = await loggedMessages(t, 'sales');
    expect(JSON.parse(request.body)).toEqual(logged);
    expect(envelope).toMatchObject({ sessionId: 'sales', event: 'message', data: { body: 'oi', from: CONTACT } });
    const headers = request.headers as Record<string, string>;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toMatch(/^whatsapp-gateway\/\d+\.\d+\.\d+/);
    expect(headers['webhook-id']).toBe(envelope.id);
    expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(headers['x-28web-gateway-key']).toBe('monolith-key');

    // Both secrets of the rotation verify the exact bytes received.
    expect(new Webhook(SECRET_A).verify(request.body, headers)).toEqual(envelope);
    expect(new Webhook(SECRET_B).verify(request.body, headers)).toEqual(envelope);
    expect(() => new Webhook(SECRET_A).verify(request.body.replace('"oi"', '"oi!"'), headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(generateWebhookSecret()).verify(request.body, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(SECRET_A).verify(request.body, { ...headers, 'webhook-id': 'evt_000000000000000000000000' })).toThrow(WebhookVerificationError);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10 * 60 * 1000);
    expect(() => new Webhook(SECRET_A).verify(request.body, headers)).toThrow(/too old/i);
    vi.useRealTimers();

    // A session's own secret signs its webhook (one signature); the API key goes to APP_WEBHOOK_URL's origin only.
    const own = r.to('/sales')[0];
    const ownHeaders = own?.headers as Record<string, string>;
    expect(ownHeaders['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(new Webhook(SECRET_B).verify(own?.body ?? '', ownHeaders)).toEqual(envelope);
    expect(() => new Webhook(SECRET_A).verify(own?.body ?? '', ownHeaders)).toThrow(WebhookVerificationError);
    expect(ownHeaders['x-28web-gateway-key']).toBe('monolith-key');
    const unsigned = other.to('/other')[0]?.headers ?? {};
    expect(unsigned['webhook-id']).toBe(envelope.id);
    expect(unsigned['webhook-signature']).toBeUndefined();
    expect(unsigned['x-28web-gateway-key']).toBeUndefined();

    // Recorded just after the answer arrives.
    const log = await eventually(async () => {
      const list = await deliveries(t, '?sessionId=sales&status=delivered');
      return list.length === 3 ? list : null;
    });
    expect(JSON.stringify(log)).not.toContain('whsec_');
    expect(log.map((d) => d.target.kind).sort()).toEqual(['app', 'session', 'session']);
    for (const d of log) expect(d).toMatchObject({ eventId: envelope.id, seq: envelope.seq, event: 'message', attempts: 1, lastStatusCode: 200, lastError: null, origin: 'event' });
    // Secrets are never logged, whatever the level.
    expect(logs.events.length).toBeGreaterThan(0);
    const logText = JSON.stringify(logs.events);
    for (const secret of [SECRET_A, SECRET_B, 'whsec_', 'monolith-key']) expect(logText).not.toContain(secret);
  });

  it('delivers every event, in order and with unchanged ids, once a receiver that was down is back', async () => {
    const r = await receiver();
    const t = await gateway(webhookEnv(r, { WEBHOOK_RETRY_SCHEDULE: quickSchedule(100) }));
    await readySession(t, 'sales');
    await r.stop();
    for (let i = 1; i <= 5; i++) inbound(t, 'sales', `m${i}`);
    // The head delivery fails (connection refused) and holds the other four back.
    const [failing, pending] = await eventually(async () => {
      const head = (await deliveries(t, '?status=failed')).find((d) => d.attempts >= 2);
      const behind = await deliveries(t, '?status=pending');
      return head && behind.length === 4 ? ([head, behind] as const) : null;
    });
    expect(failing.lastError?.code).toBe('CONNECTION_ERROR');
    expect(failing.lastStatusCode).toBeNull();
    expect(pending.every((d) => d.attempts === 0)).toBe(true);

    await r.start();
    const got = await r.delivered('/app', 5);
    expect(texts(got)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    const logged = await loggedMessages(t, 'sales');
    expect(got.map((e) => e.id)).toEqual(logged.map((e) => e.id));
    expect(got.map((e) => e.seq)).toEqual(logged.map((e) => e.seq));
    expect(got[0]?.id).toBe(failing.eventId);
    const done = await eventually(async () => {
      const list = await deliveries(t, '?status=delivered');
      return list.length === 5 ? list : null;
    });
    expect(done.find((d) => d.eventId === failing.eventId)?.attempts).toBeGreaterThan(2);
  });

  it('honours Retry-After on 429', async () => {
    const r = await receiver((_, nth) => (nth === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const t = await gateway(webhookEnv(r));
    await readySession(t, 'sales');
    inbound(t, 'sales', 'slow down');
    const [envelope] = await r.delivered('/app', 1);
    const attempts = r.to('/app');
    expect(attempts.map((a) => a.status)).toEqual([429, 200]);
    expect(attempts.map((a) => a.headers['webhook-id'])).toEqual([envelope?.id, envelope?.id]);
    // The schedule says 50 ms; the target asked for a second.
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    const [record] = await eventually(async () => {
      const list = await deliveries(t, '?status=delivered');
      return list.length === 1 ? list : null;
    });
    expect(record?.history.map((h) => h.statusCode)).toEqual([429, 200]);
  });

  it('never follows a redirect: a 3xx is a failed attempt, dead-lettered after the last one, and the lane moves on', async () => {
    const r = await receiver((request) => (request.path === '/app' ? { status: 302, headers: { location: r.url('/elsewhere') } } : { status: 200 }));
    const t = await gateway(webhookEnv(r, { WEBHOOK_RETRY_SCHEDULE: '0,50ms' }));
    await readySession(t, 'sales');
    inbound(t, 'sales', 'first');
    inbound(t, 'sales', 'second');
    const dead = await eventually(async () => {
      const list = await deliveries(t, '?status=dead');
      return list.length === 2 ? list : null;
    });
    for (const d of dead) expect(d).toMatchObject({ attempts: 2, lastStatusCode: 302, lastError: { code: 'REDIRECT_NOT_FOLLOWED' } });
    expect(r.to('/app')).toHaveLength(4);
    expect(r.to('/elsewhere')).toHaveLength(0);
    // In order: both attempts of the first before the second's.
    const ids = r.to('/app').map((a) => JSON.parse(a.body) as ReceivedEnvelope).map((e) => e.data.body);
    expect(ids).toEqual(['first', 'first', 'second', 'second']);
  });

  it('disables a session target that answers 410 (shown on the session) until its webhooks are replaced', async () => {
    let gone = true;
    const r = await receiver((request) => (request.path === '/gone' && gone ? { status: 410 } : { status: 200 }));
    const t = await gateway(webhookEnv(r));
    await readySession(t, 'sales');
    const target = { url: r.url('/gone'), events: ['message'] };
    await putWebhooks(t, 'sales', [target]);
    inbound(t, 'sales', 'one');
    await r.requests('/gone', 1);
    const session = await eventually(async () => {
      const res = await t.app.inject({ url: '/api/v1/sessions/sales', headers: AUTH });
      const body = res.json<{ webhooks: { disabled: boolean }[] }>();
      return body.webhooks[0]?.disabled === true ? body : null;
    });
    expect(session.webhooks).toEqual([{ url: target.url, events: ['message'], disabled: true, hasSecret: false }]);
    const [dead] = await eventually(async () => {
      const list = await deliveries(t, '?status=dead');
      return list.length === 1 ? list : null;
    });
    expect(dead).toMatchObject({ attempts: 1, lastStatusCode: 410, lastError: { code: 'GONE' }, target: { kind: 'session', url: target.url } });

    // Disabled: the next event goes to the global target only.
    inbound(t, 'sales', 'two');
    await r.delivered('/app', 2);
    expect(r.to('/gone')).toHaveLength(1);
    expect((await deliveries(t, '?sessionId=sales')).filter((d) => d.target.kind === 'session')).toHaveLength(1);

    // Replacing the webhooks enables it again.
    gone = false;
    await putWebhooks(t, 'sales', [target]);
    const hooks = await t.app.inject({ url: '/api/v1/sessions/sales/webhooks', headers: AUTH });
    expect(hooks.json()).toEqual({ webhooks: [{ url: target.url, events: ['message'], disabled: false, hasSecret: false }] });
    inbound(t, 'sales', 'three');
    const [back] = await r.delivered('/gone', 1);
    expect(back?.data.body).toBe('three');
  });

  it('disables the global target on 410 (in memory, shown in the webhook status) and sends it nothing more', async () => {
    const r = await receiver((request) => (request.path === '/app' ? { status: 410 } : { status: 200 }));
    const t = await gateway(webhookEnv(r));
    await readySession(t, 'sales');
    await putWebhooks(t, 'sales', [{ url: r.url('/own'), events: ['message'] }]);
    inbound(t, 'sales', 'one');
    await r.requests('/app', 1);
    const status = await eventually(async () => {
      const s = await t.app.gateway.webhooks.status();
      return s.app?.disabled ? s : null;
    });
    expect(status.app).toMatchObject({ url: r.url('/app'), disabled: true, events: ['message'] });
    expect(status.app?.disabledAt).not.toBeNull();
    inbound(t, 'sales', 'two');
    await r.delivered('/own', 2);
    expect(r.to('/app')).toHaveLength(1);
    expect((await deliveries(t, '?sessionId=sales')).filter((d) => d.target.kind === 'app')).toHaveLength(1);
  });

  it('retries, with the same webhook-id, an attempt the receiver answers slower than WEBHOOK_TIMEOUT', async () => {
    const r = await receiver((_, nth) => (nth === 1 ? { status: 200, delayMs: 5_000 } : { status: 200 }));
    const t = await gateway(webhookEnv(r, { WEBHOOK_TIMEOUT: '500ms', WEBHOOK_RETRY_SCHEDULE: quickSchedule(10) }));
    await readySession(t, 'sales');
    inbound(t, 'sales', 'patience');
    const [envelope] = await r.delivered('/app', 1);
    const attempts = r.to('/app');
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(attempts.map((a) => a.headers['webhook-id']))).toEqual(new Set([envelope?.id]));
    // The first attempt was given up after WEBHOOK_TIMEOUT, well before the receiver would have answered.
    const timeGap = (attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0);
    expect(timeGap).toBeGreaterThanOrEqual(500);
    expect(timeGap).toBeLessThan(4_000);
    const [record] = await eventually(async () => {
      const list = await deliveries(t, '?status=delivered');
      return list.length === 1 ? list : null;
    });
    expect(record?.history[0]?.error).toEqual({ code: 'TIMEOUT', message: 'no answer within 500 ms' });
    expect(record?.history.at(-1)?.statusCode).toBe(200);
  });

  it("holds back only the failing session's events for that target: other sessions and other targets flow on", async () => {
    let failA = true;
    const r = await receiver((request) => {
      const envelope = JSON.parse(request.body) as ReceivedEnvelope;
      return request.path === '/app' && envelope.sessionId === 'a' && failA ? { status: 500 } : { status: 200 };
    });
    const t = await gateway(webhookEnv(r, { WEBHOOK_RETRY_SCHEDULE: quickSchedule(200) }));
    await readySession(t, 'a', '5511988881111');
    await readySession(t, 'b', '5511988882222');
    await putWebhooks(t, 'a', [{ url: r.url('/a-own'), events: ['message'] }]);
    inbound(t, 'a', 'a1');
    await r.requests('/app', 1);
    inbound(t, 'a', 'a2');
    for (let i = 1; i <= 3; i++) inbound(t, 'b', `b${i}`);

    const own = await r.delivered('/a-own', 2);
    expect(texts(own)).toEqual(['a1', 'a2']);
    const bDelivered = await r.until(() => {
      const got = r.deliveredTo('/app').filter((e) => e.sessionId === 'b');
      return got.length === 3 ? got : undefined;
    }, 10_000, 'b delivered');
    expect(texts(bDelivered)).toEqual(['b1', 'b2', 'b3']);
    // Session a's head is retrying; a2 has not been tried at /app.
    const aTried = new Set(r.to('/app').map((req) => JSON.parse(req.body) as ReceivedEnvelope).filter((e) => e.sessionId === 'a').map((e) => e.data.body));
    expect([...aTried]).toEqual(['a1']);
    expect(r.to('/app').filter((req) => req.status === 500).length).toBeGreaterThanOrEqual(1);

    failA = false;
    const aDelivered = await r.until(() => {
      const got = r.deliveredTo('/app').filter((e) => e.sessionId === 'a');
      return got.length === 2 ? got : undefined;
    }, 10_000, 'a delivered');
    expect(texts(aDelivered)).toEqual(['a1', 'a2']);
  });
});

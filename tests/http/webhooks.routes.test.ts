import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryView } from '../../src/webhooks/delivery.js';
import { eventually, readySession } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type StorageMode, type TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { SECRET_A, deliveries, inbound, loggedMessages, webhookEnv } from '../helpers/webhooks.js';

interface ErrorBody {
  statusCode: number;
  code: string;
  details: { path: string; message: string }[];
}

describe('webhook URLs through the API: the SSRF guard', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const FORBIDDEN = [
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://[::1]/hook',
    'http://10.0.0.5/hook',
    'http://192.168.1.10/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://metadata.google.internal/computeMetadata',
    'http://0x7f000001/hook',
    'http://[::ffff:127.0.0.1]/hook',
  ];

  it('refuses private, loopback, link-local and metadata targets with 422 WEBHOOK_URL_FORBIDDEN on create, PATCH and PUT, changing nothing', async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOWED_HOSTS: '' } });
    const app = t.app;
    const good = { url: 'https://hooks.example.com/ok', events: ['message'] };
    const created = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'sales', start: false, webhooks: [good] } });
    expect(created.statusCode, created.body).toBe(201);
    for (const url of FORBIDDEN) {
      const create = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'other', start: false, webhooks: [good, { url }] } });
      expect(create.statusCode, `${url}: ${create.body}`).toBe(422);
      const body = create.json<ErrorBody>();
      expect(body).toMatchObject({ statusCode: 422, code: 'WEBHOOK_URL_FORBIDDEN' });
      expect(body.details).toEqual([{ path: 'body.webhooks.1.url', message: expect.stringContaining('WEBHOOK_ALLOWED_HOSTS') as string }]);
      const patch = await app.inject({ method: 'PATCH', url: '/api/v1/sessions/sales', headers: AUTH, payload: { metadata: { a: '1' }, webhooks: [{ url }] } });
      expect(patch.statusCode, url).toBe(422);
      expect(patch.json<ErrorBody>().code).toBe('WEBHOOK_URL_FORBIDDEN');
      const put = await app.inject({ method: 'PUT', url: '/api/v1/sessions/sales/webhooks', headers: AUTH, payload: { webhooks: [{ url }] } });
      expect(put.statusCode, url).toBe(422);
      expect(put.json<ErrorBody>()).toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN', details: [{ path: 'body.webhooks.0.url' }] });
    }
    expect((await app.inject({ url: '/api/v1/sessions/other', headers: AUTH })).statusCode).toBe(404);
    const session = await app.inject({ url: '/api/v1/sessions/sales', headers: AUTH });
    expect(session.json()).toMatchObject({ metadata: {}, webhooks: [{ url: good.url, events: ['message'], disabled: false }] });
    // Unknown session first: 404, whatever the URL.
    const unknown = await app.inject({ method: 'PUT', url: '/api/v1/sessions/nope/webhooks', headers: AUTH, payload: { webhooks: [{ url: FORBIDDEN[0] }] } });
    expect(unknown.json<ErrorBody>().code).toBe('SESSION_NOT_FOUND');
  });

  it('accepts a host listed in WEBHOOK_ALLOWED_HOSTS, and trusts APP_WEBHOOK_URL from the environment', async () => {
    const r = await WebhookReceiver.start();
    try {
      t = await startTestApp({ env: webhookEnv(r, { WEBHOOK_ALLOWED_HOSTS: 'localhost,127.0.0.1' }) });
      for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook']) {
        const put = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { start: false, webhooks: [{ url }] } });
        expect(put.statusCode, put.body).toBe(201);
      }
      await t.close();
      // No allow-list at all: the global target on 127.0.0.1 still gets its events.
      t = await startTestApp({ env: webhookEnv(r, { WEBHOOK_ALLOWED_HOSTS: '' }) });
      await readySession(t, 'sales');
      inbound(t, 'sales', 'trusted');
      const [envelope] = await r.delivered('/app', 1);
      expect(envelope?.data.body).toBe('trusted');
    } finally {
      await r.stop();
    }
  });
});

describe.each(STORAGE_MODES)('webhook routes (%s)', (mode: StorageMode) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const setup = async (respond?: Parameters<typeof WebhookReceiver.start>[0], env: Record<string, string> = {}): Promise<{ t: TestApp; r: WebhookReceiver }> => {
    const r = await WebhookReceiver.start(respond);
    cleanups.push(() => r.stop());
    const t = await startTestApp({ mode, env: webhookEnv(r, env) });
    cleanups.push(() => t.close());
    return { t, r };
  };

  it('retries a dead delivery on request: same webhook-id, the schedule again; 404 DELIVERY_NOT_FOUND for an unknown id', async () => {
    let fail = true;
    const { t, r } = await setup(() => ({ status: fail ? 500 : 200 }), { WEBHOOK_RETRY_SCHEDULE: '0,50ms' });
    await readySession(t, 'sales');
    inbound(t, 'sales', 'again');
    const [dead] = await eventually(async () => {
      const list = await deliveries(t, '?status=dead&sessionId=sales');
      return list.length === 1 ? list : null;
    });
    if (!dead) throw new Error('no dead delivery');
    expect(dead).toMatchObject({ attempts: 2, lastStatusCode: 500, lastError: { code: 'HTTP_ERROR', message: 'HTTP 500' }, nextAttemptAt: null });
    expect(dead.completedAt).not.toBeNull();
    expect(await deliveries(t, '?status=failed')).toEqual([]);

    fail = false;
    const retried = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/deliveries/${dead.id}/retry`, headers: AUTH });
    expect(retried.statusCode, retried.body).toBe(202);
    expect(retried.json<DeliveryView>()).toMatchObject({ id: dead.id, status: 'pending', attempts: 2, completedAt: null });
    const [envelope] = await r.delivered('/app', 1);
    expect(envelope?.id).toBe(dead.eventId);
    expect(new Set(r.to('/app').map((a) => a.headers['webhook-id']))).toEqual(new Set([dead.eventId]));
    const delivered = await eventually(async () => {
      const list = await deliveries(t, '?status=delivered');
      return list[0]?.id === dead.id ? list[0] : null;
    });
    expect(delivered).toMatchObject({ attempts: 3, lastStatusCode: 200, lastError: null });
    expect(delivered.history.map((h) => h.statusCode)).toEqual([500, 500, 200]);

    const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/deliveries/dlv_000000000000000000000000/retry', headers: AUTH });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<ErrorBody>().code).toBe('DELIVERY_NOT_FOUND');
    const malformed = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/deliveries/not-a-delivery/retry', headers: AUTH });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json<ErrorBody>().code).toBe('VALIDATION_ERROR');
  });

  it('replays a time range from the event log with the same webhook-ids, in order, and says how many were queued', async () => {
    const { t, r } = await setup();
    await readySession(t, 'sales');
    const since = new Date().toISOString();
    for (const text of ['r1', 'r2', 'r3']) inbound(t, 'sales', text);
    const first = await r.delivered('/app', 3);
    const until = new Date(Date.now() + 1).toISOString();
    await t.app.gateway.events.idle();

    const replay = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/replay', headers: AUTH, payload: { sessionId: 'sales', since, until } });
    expect(replay.statusCode, replay.body).toBe(202);
    const result = replay.json<{ events: number; queued: number; truncated: boolean }>();
    expect(result.queued).toBe(3);
    expect(result.events).toBeGreaterThanOrEqual(3);
    expect(result.truncated).toBe(false);
    const all = await r.delivered('/app', 6);
    expect(all.slice(3).map((e) => e.id)).toEqual(first.map((e) => e.id));
    expect(all.slice(3).map((e) => e.data.body)).toEqual(['r1', 'r2', 'r3']);
    expect((await loggedMessages(t, 'sales')).map((e) => e.id)).toEqual(first.map((e) => e.id));
    const replayed = await eventually(async () => {
      const list = (await deliveries(t, '?status=delivered')).filter((d) => d.origin === 'replay');
      return list.length === 3 ? list : null;
    });
    expect(replayed.map((d) => d.eventId).sort()).toEqual(first.map((e) => e.id).sort());

    // Every session (no sessionId); a range before the messages; checks.
    const everyone = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/replay', headers: AUTH, payload: { since } });
    expect(everyone.json()).toMatchObject({ queued: 3 });
    await r.delivered('/app', 9);
    const before = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/replay', headers: AUTH, payload: { since: '2020-01-01T00:00:00.000Z', until: '2020-01-02T00:00:00.000Z' } });
    expect(before.json()).toEqual({ events: 0, queued: 0, truncated: false });
    const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/replay', headers: AUTH, payload: { sessionId: 'nope', since } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<ErrorBody>().code).toBe('SESSION_NOT_FOUND');
    for (const payload of [{}, { since: 'yesterday' }, { since, until: since }, { since, extra: 1 }]) {
      const bad = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks/replay', headers: AUTH, payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json<ErrorBody>().code).toBe('VALIDATION_ERROR');
    }
  });

  it('lists deliveries newest first with filters and cursors, never showing a secret', async () => {
    const { t, r } = await setup(undefined, { WEBHOOK_SECRET: SECRET_A });
    await readySession(t, 'sales');
    await readySession(t, 'support', '5511988886666');
    const put = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/sessions/sales/webhooks',
      headers: AUTH,
      payload: { webhooks: [{ url: r.url('/own').replace('http://', 'http://user:pass@'), events: ['message'], secret: SECRET_A }] },
    });
    expect(put.statusCode, put.body).toBe(200);
    inbound(t, 'sales', 's1');
    inbound(t, 'support', 'o1');
    await r.delivered('/app', 2);
    await r.delivered('/own', 1);
    const all = await eventually(async () => {
      const list = await deliveries(t, '?status=delivered');
      return list.length === 3 ? list : null;
    });
    const sorted = [...all].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? 1 : -1));
    expect(all.map((d) => d.id)).toEqual(sorted.map((d) => d.id));
    const text = JSON.stringify(all);
    expect(text).not.toContain('whsec_');
    expect(text).not.toContain('user:pass');
    expect(all.find((d) => d.target.kind === 'session')?.target.url, JSON.stringify(all, null, 1)).toBe(r.url('/own'));
    expect((await deliveries(t, '?sessionId=support')).map((d) => d.sessionId)).toEqual(['support']);
    expect(await deliveries(t, '?status=dead')).toEqual([]);

    const pageOne = await t.app.inject({ url: '/api/v1/webhooks/deliveries?limit=2', headers: AUTH });
    const one = pageOne.json<{ data: DeliveryView[]; nextCursor: string | null }>();
    expect(one.data).toHaveLength(2);
    const pageTwo = await t.app.inject({ url: `/api/v1/webhooks/deliveries?limit=2&cursor=${one.nextCursor ?? ''}`, headers: AUTH });
    const two = pageTwo.json<{ data: DeliveryView[]; nextCursor: string | null }>();
    expect([...one.data, ...two.data].map((d) => d.id)).toEqual(all.map((d) => d.id));
    expect(two.nextCursor).toBeNull();

    for (const query of ['status=bogus', 'limit=0', 'cursor=not-ours', 'sessionId=has%20space', 'other=1']) {
      const bad = await t.app.inject({ url: `/api/v1/webhooks/deliveries?${query}`, headers: AUTH });
      expect(bad.statusCode, query).toBe(400);
      expect(bad.json<ErrorBody>().code).toBe('VALIDATION_ERROR');
    }
  });
});

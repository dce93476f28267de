import { afterEach, describe, expect, it } from 'vitest';
import type { EngineDriver } from '../../src/engines/engine.js';
import { createSimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import { decodeQrPng } from '../helpers/qr-decode.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe.each(STORAGE_MODES)('session routes (%s)', (mode) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const start = async (env: Record<string, string> = {}, drivers: EngineDriver[] = []): Promise<TestApp> => {
    t = await startTestApp({ mode, env }, { engineDrivers: drivers });
    return t;
  };
  const create = (app: TestApp, payload: Record<string, unknown>) => app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload });
  const ready = async (app: TestApp, id: string) => {
    await app.app.gateway.sessions.waitForStatus(id, ['qr'], 2000);
    const res = await app.app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/scan`, headers: AUTH, payload: { phone: '5511988887777', pushName: 'Sales' } });
    expect(res.statusCode).toBe(200);
    return res.json<{ status: string; me: { id: string } }>();
  };

  it('creates with a generated id and the contract shape, and refuses a duplicate id', async () => {
    const app = await start();
    const res = await create(app, {});
    expect(res.statusCode).toBe(201);
    const body = res.json<Record<string, unknown>>();
    expect(body.id).toMatch(/^sess_[A-Za-z0-9_-]+$/);
    expect(body).toMatchObject({ engine: 'simulator', me: null, metadata: {}, webhooks: [], connectedAt: null, lastError: null, stats: { sent: 0, received: 0, failed: 0 } });
    expect(['starting', 'qr']).toContain(body.status);
    expect(Date.parse(String(body.createdAt))).not.toBeNaN();
    const again = await create(app, { id: body.id });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'SESSION_EXISTS' });
  });

  it('does not start when start=false, and refuses beyond WHATSAPP_MAX_SESSIONS', async () => {
    const app = await start({ WHATSAPP_MAX_SESSIONS: '2' });
    expect((await create(app, { id: 'a', start: false })).json()).toMatchObject({ status: 'stopped' });
    expect((await create(app, { id: 'b', start: false })).statusCode).toBe(201);
    const third = await create(app, { id: 'c' });
    expect(third.statusCode).toBe(409);
    expect(third.json()).toMatchObject({ code: 'SESSION_LIMIT_REACHED' });
  });

  it('refuses an engine this gateway does not run with 422, never falling back', async () => {
    const app = await start({ SIMULATOR_ENABLED: 'false', DEFAULT_ENGINE: 'webjs' });
    const res = await create(app, { id: 'w', engine: 'simulator' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'NOT_SUPPORTED_BY_ENGINE' });
    expect((await app.app.inject({ url: '/api/v1/sessions/w', headers: AUTH })).statusCode).toBe(404);
  });

  it('lists with a status filter and cursor pagination', async () => {
    const app = await start();
    for (const id of ['s1', 's2', 's3', 's4', 's5']) await create(app, { id, start: false });
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions/s2/start', headers: AUTH });
    await app.app.gateway.sessions.waitForStatus('s2', ['qr'], 2000);
    const first = (await app.app.inject({ url: '/api/v1/sessions?limit=2', headers: AUTH })).json<{ data: { id: string }[]; nextCursor: string | null }>();
    expect(first.data.map((s) => s.id)).toEqual(['s1', 's2']);
    expect(first.nextCursor).not.toBeNull();
    const second = (await app.app.inject({ url: `/api/v1/sessions?limit=2&cursor=${first.nextCursor ?? ''}`, headers: AUTH })).json<{ data: { id: string }[]; nextCursor: string | null }>();
    expect(second.data.map((s) => s.id)).toEqual(['s3', 's4']);
    const third = (await app.app.inject({ url: `/api/v1/sessions?limit=2&cursor=${second.nextCursor ?? ''}`, headers: AUTH })).json<{ data: { id: string }[]; nextCursor: string | null }>();
    expect(third).toEqual({ data: [expect.objectContaining({ id: 's5' })], nextCursor: null });
    const qr = (await app.app.inject({ url: '/api/v1/sessions?status=qr', headers: AUTH })).json<{ data: { id: string }[] }>();
    expect(qr.data.map((s) => s.id)).toEqual(['s2']);
    // A cursor whose session was deleted meanwhile still resumes after it.
    await app.app.inject({ method: 'DELETE', url: '/api/v1/sessions/s2', headers: AUTH });
    const resumed = (await app.app.inject({ url: `/api/v1/sessions?limit=2&cursor=${first.nextCursor ?? ''}`, headers: AUTH })).json<{ data: { id: string }[] }>();
    expect(resumed.data.map((s) => s.id)).toEqual(['s3', 's4']);
  });

  it('gets one session, 404 SESSION_NOT_FOUND for an unknown one', async () => {
    const app = await start();
    await create(app, { id: 'one', metadata: { team: 'sales' } });
    expect((await app.app.inject({ url: '/api/v1/sessions/one', headers: AUTH })).json()).toMatchObject({ id: 'one', metadata: { team: 'sales' } });
    const missing = await app.app.inject({ url: '/api/v1/sessions/nope', headers: AUTH });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ statusCode: 404, code: 'SESSION_NOT_FOUND', error: 'Not Found', message: "Session 'nope' does not exist", details: [] });
  });

  it('merges metadata on PATCH (empty string removes a key) and replaces webhooks, never returning secrets', async () => {
    const app = await start();
    await create(app, { id: 'p', metadata: { a: '1', b: '2' }, webhooks: [{ url: 'https://hooks.example.com/a', secret: SECRET }] });
    const patched = await app.app.inject({ method: 'PATCH', url: '/api/v1/sessions/p', headers: AUTH, payload: { metadata: { b: '', c: '3' } } });
    expect(patched.json()).toMatchObject({ metadata: { a: '1', c: '3' } });
    expect(patched.json<{ metadata: Record<string, string> }>().metadata).not.toHaveProperty('b');
    const hooks = await app.app.inject({ url: '/api/v1/sessions/p/webhooks', headers: AUTH });
    expect(hooks.json()).toEqual({ webhooks: [{ url: 'https://hooks.example.com/a', events: ['*'], disabled: false, hasSecret: true }] });
    const replaced = await app.app.inject({ method: 'PUT', url: '/api/v1/sessions/p/webhooks', headers: AUTH, payload: { webhooks: [{ url: 'https://hooks.example.com/b', events: ['message', 'message_ack'] }] } });
    expect(replaced.json()).toEqual({ webhooks: [{ url: 'https://hooks.example.com/b', events: ['message', 'message_ack'], disabled: false, hasSecret: false }] });
    for (const res of [patched, hooks, replaced, await app.app.inject({ url: '/api/v1/sessions', headers: AUTH })]) expect(res.body).not.toContain(SECRET);
  });

  it('serves the QR as JSON and as a PNG that decodes to the same code; 409 when not in qr', async () => {
    const app = await start();
    await create(app, { id: 'q' });
    await app.app.gateway.sessions.waitForStatus('q', ['qr'], 2000);
    const json = await app.app.inject({ url: '/api/v1/sessions/q/qr', headers: AUTH });
    expect(json.statusCode).toBe(200);
    const { qr, image, expiresAt } = json.json<{ qr: string; image: string; expiresAt: string }>();
    expect(image.startsWith('data:image/png;base64,')).toBe(true);
    expect(decodeQrPng(Buffer.from(image.slice(image.indexOf(',') + 1), 'base64'))).toBe(qr);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    const png = await app.app.inject({ url: '/api/v1/sessions/q/qr', headers: { ...AUTH, accept: 'image/png' } });
    expect(png.headers['content-type']).toBe('image/png');
    expect(decodeQrPng(png.rawPayload)).toBe(qr);
    await ready(app, 'q');
    const after = await app.app.inject({ url: '/api/v1/sessions/q/qr', headers: AUTH });
    expect(after.statusCode).toBe(409);
    expect(after.json()).toMatchObject({ code: 'QR_NOT_AVAILABLE' });
  });

  it('gives pairing codes while in qr, at most WHATSAPP_QR_MAX_RETRIES, and 409 otherwise', async () => {
    const app = await start({ WHATSAPP_QR_MAX_RETRIES: '2' });
    await create(app, { id: 'pc' });
    await app.app.gateway.sessions.waitForStatus('pc', ['qr'], 2000);
    const url = '/api/v1/sessions/pc/pairing-code';
    const first = await app.app.inject({ method: 'POST', url, headers: AUTH, payload: { phone: '+55 (11) 98888-7777' } });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ code: expect.stringMatching(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/) as unknown });
    expect((await app.app.inject({ method: 'POST', url, headers: AUTH, payload: { phone: '5511988887777' } })).statusCode).toBe(200);
    const third = await app.app.inject({ method: 'POST', url, headers: AUTH, payload: { phone: '5511988887777' } });
    expect(third.statusCode).toBe(409);
    const bad = await app.app.inject({ method: 'POST', url, headers: AUTH, payload: { phone: '123' } });
    expect(bad.statusCode).toBe(400);
  });

  it('stops (auth kept), starts back to ready without a scan, restarts, logs out (auth dropped) and deletes', async () => {
    const app = await start();
    await create(app, { id: 'life' });
    expect(await ready(app, 'life')).toMatchObject({ status: 'ready', me: { id: '5511988887777@c.us' } });
    const post = (action: string) => app.app.inject({ method: 'POST', url: `/api/v1/sessions/life/${action}`, headers: AUTH });
    expect((await post('stop')).json()).toMatchObject({ status: 'stopped' });
    await post('start');
    expect((await app.app.gateway.sessions.waitForStatus('life', ['ready', 'qr'], 2000)).status).toBe('ready');
    await post('restart');
    expect((await app.app.gateway.sessions.waitForStatus('life', ['ready', 'qr'], 2000)).status).toBe('ready');
    expect((await post('logout')).json()).toMatchObject({ status: 'stopped', me: null });
    await post('start');
    expect((await app.app.gateway.sessions.waitForStatus('life', ['ready', 'qr'], 2000)).status).toBe('qr');
    const deleted = await app.app.inject({ method: 'DELETE', url: '/api/v1/sessions/life', headers: AUTH });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect((await app.app.inject({ url: '/api/v1/sessions/life', headers: AUTH })).statusCode).toBe(404);
    expect(await app.app.gateway.storage.registry.get('life')).toBeNull();
    expect((await post('start')).statusCode).toBe(404);
  });

  it('answers 422 on simulator routes of a non-simulator session, 409 on scan when no QR shows', async () => {
    const fakeWebjs: EngineDriver = { ...createSimulatorDriver({ qrRotationMs: 60_000, ackDelaysMs: [1, 1, 1] }), name: 'webjs' };
    const app = await start({}, [fakeWebjs]);
    await create(app, { id: 'real', engine: 'webjs' });
    for (const [path, payload] of [['scan', {}], ['disconnect', { reason: 'CONFLICT' }]] as const) {
      const res = await app.app.inject({ method: 'POST', url: `/api/v1/sessions/real/simulator/${path}`, headers: AUTH, payload });
      expect(res.statusCode, path).toBe(422);
      expect(res.json()).toMatchObject({ code: 'NOT_SUPPORTED_BY_ENGINE' });
    }
    await create(app, { id: 'sim', start: false });
    const scan = await app.app.inject({ method: 'POST', url: '/api/v1/sessions/sim/simulator/scan', headers: AUTH, payload: {} });
    expect(scan.statusCode).toBe(409);
    expect(scan.json()).toMatchObject({ code: 'QR_NOT_AVAILABLE' });
    const disconnect = await app.app.inject({ method: 'POST', url: '/api/v1/sessions/sim/simulator/disconnect', headers: AUTH, payload: { reason: 'CONFLICT' } });
    expect(disconnect.statusCode).toBe(409);
  });
});

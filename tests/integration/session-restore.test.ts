import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineDriver, EngineEvent } from '../../src/engines/engine.js';
import { createSimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import type { PublicSession } from '../../src/sessions/session.js';
import { REGISTRY_FILE } from '../../src/storage/storage.js';
import { AUTH, STORAGE_MODES, startTestApp, type StorageMode, type TestApp } from '../helpers/test-app.js';

const WAIT_MS = 3_000;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const WEBHOOK = { url: 'https://hooks.example.com/whatsapp', events: ['message', 'session.status'], secret: SECRET };

/** The real simulator driver, recording every event of every engine from its creation (before the app can subscribe). */
function recordingSimulatorDriver(): { driver: EngineDriver; eventsOf: (sessionId: string) => EngineEvent['type'][]; enginesOf: (sessionId: string) => number } {
  const inner = createSimulatorDriver({ qrRotationMs: 60_000, ackDelaysMs: [5, 10, 15] });
  const events = new Map<string, EngineEvent['type'][]>();
  const engines = new Map<string, number>();
  const driver: EngineDriver = {
    name: 'simulator',
    create: (context) => {
      const engine = inner.create(context);
      engines.set(context.sessionId, (engines.get(context.sessionId) ?? 0) + 1);
      engine.onEvent((event) => events.set(context.sessionId, [...(events.get(context.sessionId) ?? []), event.type]));
      return engine;
    },
    removeAuthData: (sessionId) => inner.removeAuthData(sessionId),
  };
  return { driver, eventsOf: (id) => events.get(id) ?? [], enginesOf: (id) => engines.get(id) ?? 0 };
}

async function call(app: FastifyInstance, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object): Promise<LightMyRequestResponse> {
  return app.inject(payload === undefined ? { method, url, headers: AUTH } : { method, url, headers: AUTH, payload });
}

/** Every answer of the API goes through here: a webhook secret or engine auth data must never be in one. */
function expectNoSecrets(res: LightMyRequestResponse): void {
  expect(res.body).not.toContain(SECRET);
  expect(res.body).not.toContain('"secret"');
  expect(res.body).not.toContain('engineAuth');
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe.each(STORAGE_MODES)('session restore after a restart (%s)', (mode: StorageMode) => {
  const boot = async (place: { sessionsPath: string; redisPrefix: string }, drivers: EngineDriver[] = []): Promise<TestApp> => {
    const t = await startTestApp({ mode, ...place }, { engineDrivers: drivers });
    let closed = false;
    cleanup.push(async () => {
      if (!closed) await t.close();
    });
    return {
      ...t,
      close: async () => {
        closed = true;
        await t.close();
      },
    };
  };

  const newPlace = async (): Promise<{ sessionsPath: string; redisPrefix: string }> => {
    const sessionsPath = await mkdtemp(join(tmpdir(), 'wagw-restore-'));
    cleanup.push(() => rm(sessionsPath, { recursive: true, force: true }));
    return { sessionsPath, redisPrefix: `restore${randomBytes(6).toString('hex')}` };
  };

  it('brings back ready sessions without a scan, keeps stopped ones stopped, shows a QR again for waiting ones; metadata and webhooks survive', async () => {
    const place = await newPlace();

    // ---- first life ----
    const first = await boot(place);
    const { sessions } = first.app.gateway;
    const created = await call(first.app, 'POST', '/api/v1/sessions', { id: 'linked', metadata: { team: 'sales', region: 'br' }, webhooks: [WEBHOOK] });
    expect(created.statusCode).toBe(201);
    expectNoSecrets(created);
    await sessions.waitForStatus('linked', ['qr'], WAIT_MS);
    const linked = (await call(first.app, 'POST', '/api/v1/sessions/linked/simulator/scan', { phone: '5511912345678', pushName: 'Sales' })).json<PublicSession>();
    expect(linked.status).toBe('ready');
    const patched = await call(first.app, 'PATCH', '/api/v1/sessions/linked', { metadata: { region: '', owner: 'ana' } });
    expect(patched.statusCode).toBe(200);
    expectNoSecrets(patched);

    expect((await call(first.app, 'POST', '/api/v1/sessions', { id: 'paused' })).statusCode).toBe(201);
    await sessions.waitForStatus('paused', ['qr'], WAIT_MS);
    expect((await call(first.app, 'POST', '/api/v1/sessions/paused/simulator/scan', {})).json<PublicSession>().status).toBe('ready');
    expect((await call(first.app, 'POST', '/api/v1/sessions/paused/stop')).json<PublicSession>().status).toBe('stopped');

    expect((await call(first.app, 'POST', '/api/v1/sessions', { id: 'waiting' })).statusCode).toBe(201);
    await sessions.waitForStatus('waiting', ['qr'], WAIT_MS);
    expect((await call(first.app, 'POST', '/api/v1/sessions', { id: 'never-started', start: false })).statusCode).toBe(201);
    const before = (await call(first.app, 'GET', '/api/v1/sessions/linked')).json<PublicSession>();
    await first.close();

    if (mode === 'memory') {
      const file = JSON.parse(await readFile(join(place.sessionsPath, REGISTRY_FILE), 'utf8')) as { sessions: { id: string; status: string }[] };
      expect(file.sessions.map((s) => [s.id, s.status])).toEqual([
        ['linked', 'ready'],
        ['paused', 'stopped'],
        ['waiting', 'qr'],
        ['never-started', 'stopped'],
      ]);
    }

    // ---- second life ----
    const recorder = recordingSimulatorDriver();
    const second = await boot(place, [recorder.driver]);
    const restored = second.app.gateway.sessions;

    const back = await restored.waitForStatus('linked', ['ready', 'failed', 'stopped'], WAIT_MS);
    expect(back.status).toBe('ready');
    expect(back.me).toEqual({ id: '5511912345678@c.us', phone: '5511912345678', pushName: 'Sales' });
    expect(recorder.eventsOf('linked')).toContain('ready');
    expect(recorder.eventsOf('linked')).not.toContain('qr');
    expect(recorder.enginesOf('linked')).toBe(1);

    expect(restored.statusOf('paused')).toBe('stopped');
    expect(restored.statusOf('never-started')).toBe('stopped');
    expect(recorder.enginesOf('paused')).toBe(0);
    expect(recorder.enginesOf('never-started')).toBe(0);

    expect((await restored.waitForStatus('waiting', ['qr'], WAIT_MS)).status).toBe('qr');
    const qr = await call(second.app, 'GET', '/api/v1/sessions/waiting/qr');
    expect(qr.statusCode).toBe(200);
    expect(qr.json<{ qr: string }>().qr.length).toBeGreaterThan(0);

    const one = await call(second.app, 'GET', '/api/v1/sessions/linked');
    expectNoSecrets(one);
    const session = one.json<PublicSession>();
    expect(session.metadata).toEqual({ team: 'sales', owner: 'ana' });
    expect(session.webhooks).toEqual([{ url: WEBHOOK.url, events: WEBHOOK.events, disabled: false, hasSecret: true }]);
    expect(session.createdAt).toBe(before.createdAt);
    expect(session.stats).toEqual(before.stats);
    for (const url of ['/api/v1/sessions', '/api/v1/sessions/linked/webhooks', '/api/v1/sessions?status=ready']) {
      const res = await call(second.app, 'GET', url);
      expect(res.statusCode).toBe(200);
      expectNoSecrets(res);
    }

    // The stopped session kept its link too: starting it needs no scan.
    expect((await call(second.app, 'POST', '/api/v1/sessions/paused/start')).statusCode).toBe(200);
    expect((await restored.waitForStatus('paused', ['ready', 'qr'], WAIT_MS)).status).toBe('ready');
    expect(recorder.eventsOf('paused')).not.toContain('qr');
  });

  it('a session waiting to reconnect at shutdown is restored at boot, ready without a scan', async () => {
    const place = await newPlace();
    const first = await boot(place);
    expect((await call(first.app, 'POST', '/api/v1/sessions', { id: 'flaky' })).statusCode).toBe(201);
    await first.app.gateway.sessions.waitForStatus('flaky', ['qr'], WAIT_MS);
    expect((await call(first.app, 'POST', '/api/v1/sessions/flaky/simulator/scan', {})).json<PublicSession>().status).toBe('ready');
    expect((await call(first.app, 'POST', '/api/v1/sessions/flaky/simulator/disconnect', { reason: 'CONFLICT' })).statusCode).toBe(202);
    // The default first reconnect delay (2 s) keeps it disconnected until the shutdown.
    expect((await first.app.gateway.sessions.waitForStatus('flaky', ['disconnected'], WAIT_MS)).status).toBe('disconnected');
    await first.close();

    const recorder = recordingSimulatorDriver();
    const second = await boot(place, [recorder.driver]);
    expect((await second.app.gateway.sessions.waitForStatus('flaky', ['ready', 'qr', 'failed'], WAIT_MS)).status).toBe('ready');
    expect(recorder.eventsOf('flaky')).not.toContain('qr');
  });

  it('a session whose engine is not available after the restart fails ENGINE_UNAVAILABLE, never falling back to another engine', async () => {
    const place = await newPlace();
    const first = await boot(place);
    expect((await call(first.app, 'POST', '/api/v1/sessions', { id: 'sim-only' })).statusCode).toBe(201);
    await first.app.gateway.sessions.waitForStatus('sim-only', ['qr'], WAIT_MS);
    await first.close();

    // The second life runs without the simulator; any other engine it might run is watched.
    const created: string[] = [];
    const other: EngineDriver = {
      name: 'webjs',
      create: (context) => {
        created.push(context.sessionId);
        return createSimulatorDriver({ qrRotationMs: 60_000, ackDelaysMs: [5, 10, 15] }).create(context);
      },
      removeAuthData: async () => undefined,
    };
    const second = await startTestApp({ mode, ...place, env: { SIMULATOR_ENABLED: 'false', DEFAULT_ENGINE: 'webjs' } }, { engineDrivers: [other] });
    cleanup.push(() => second.close());
    const session = await second.app.gateway.sessions.waitForStatus('sim-only', ['failed'], WAIT_MS);
    expect(session).toMatchObject({ engine: 'simulator', status: 'failed', lastError: { code: 'ENGINE_UNAVAILABLE' } });
    expect(created).toEqual([]);
  });

  it('a session logged out before the restart comes back stopped and needs a new scan', async () => {
    const place = await newPlace();
    const first = await boot(place);
    expect((await call(first.app, 'POST', '/api/v1/sessions', { id: 'out' })).statusCode).toBe(201);
    await first.app.gateway.sessions.waitForStatus('out', ['qr'], WAIT_MS);
    expect((await call(first.app, 'POST', '/api/v1/sessions/out/simulator/scan', {})).json<PublicSession>().status).toBe('ready');
    expect((await call(first.app, 'POST', '/api/v1/sessions/out/logout')).json<PublicSession>().status).toBe('stopped');
    await first.close();

    const recorder = recordingSimulatorDriver();
    const second = await boot(place, [recorder.driver]);
    expect(second.app.gateway.sessions.statusOf('out')).toBe('stopped');
    expect(recorder.enginesOf('out')).toBe(0);
    expect((await call(second.app, 'POST', '/api/v1/sessions/out/start')).statusCode).toBe(200);
    expect((await second.app.gateway.sessions.waitForStatus('out', ['qr', 'ready'], WAIT_MS)).status).toBe('qr');
  });
});

import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, type Engine, type EngineContext, type EngineDriver, type EngineEvent, type EngineEventListener } from '../../src/engines/engine.js';
import { EngineEventEmitter } from '../../src/engines/engine-event-emitter.js';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import type { PublicSession, SessionStatus } from '../../src/sessions/session.js';
import { GatewayEventLog } from '../helpers/gateway-event-log.js';
import { AUTH, STORAGE_MODES, startTestApp, type StorageMode, type TestApp } from '../helpers/test-app.js';

// ---- helpers ------------------------------------------------------------------------------------

const WAIT_MS = 3_000;
const PHONE = '5511912345678';

/** The contract's `session.status` mapping, written out independently of the code under test. */
const PUBLIC_STATUS: Record<SessionStatus, string> = {
  starting: 'connecting',
  authenticated: 'connecting',
  qr: 'qr_code',
  ready: 'connected',
  disconnected: 'disconnected',
  failed: 'disconnected',
  stopped: 'disconnected',
};

const loadedJsQR: unknown = jsQRModule;
const jsQR = (typeof loadedJsQR === 'function' ? loadedJsQR : (loadedJsQR as { default: unknown }).default) as typeof jsQRModule.default;

function decodeQrPng(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Method = 'GET' | 'POST' | 'DELETE';

async function call(app: FastifyInstance, method: Method, url: string, payload?: object): Promise<LightMyRequestResponse> {
  return app.inject(payload === undefined ? { method, url, headers: AUTH } : { method, url, headers: AUTH, payload });
}

const sessionOf = (res: LightMyRequestResponse): PublicSession => res.json<PublicSession>();
const errorCodeOf = (res: LightMyRequestResponse): string => res.json<{ code: string }>().code;

interface Gateway extends TestApp {
  log: GatewayEventLog;
  get(id: string): Promise<PublicSession>;
  post(path: string, payload?: object): Promise<LightMyRequestResponse>;
}

const opened: Gateway[] = [];

async function openGateway(options: { env?: Record<string, string>; drivers?: EngineDriver[]; mode?: StorageMode } = {}): Promise<Gateway> {
  const test = await startTestApp({ mode: options.mode ?? 'memory', env: options.env ?? {} }, { engineDrivers: options.drivers ?? [] });
  const gateway: Gateway = {
    ...test,
    log: new GatewayEventLog(test.app.gateway.bus),
    get: async (id) => {
      const res = await call(test.app, 'GET', `/api/v1/sessions/${id}`);
      expect(res.statusCode).toBe(200);
      return sessionOf(res);
    },
    post: (path, payload) => call(test.app, 'POST', `/api/v1/sessions${path}`, payload),
  };
  opened.push(gateway);
  return gateway;
}

afterEach(async () => {
  for (const gateway of opened.splice(0)) {
    gateway.log.close();
    await gateway.close();
  }
});

async function createSession(gw: Gateway, body: Record<string, unknown>): Promise<PublicSession> {
  const res = await gw.post('', body);
  expect(res.statusCode).toBe(201);
  return sessionOf(res);
}

/** Creates a simulator session, waits for its QR and scans it: the session is ready. */
async function readySession(gw: Gateway, id: string, phone = PHONE): Promise<PublicSession> {
  await createSession(gw, { id });
  await gw.log.nthStatus(id, 'qr');
  const res = await gw.post(`/${id}/simulator/scan`, { phone, pushName: 'Sales' });
  expect(res.statusCode).toBe(200);
  const session = sessionOf(res);
  expect(session.status).toBe('ready');
  return session;
}

/** An engine the test drives by hand (registered as 'webjs', which has no driver of its own here). */
class ScriptedEngine implements Engine {
  readonly name = 'webjs' as const;
  stopped = false;
  private readonly emitter = new EngineEventEmitter(() => undefined);

  constructor(
    readonly context: EngineContext,
    private readonly script: (engine: ScriptedEngine) => Promise<void> | void,
  ) {}

  onEvent(listener: EngineEventListener): () => void {
    return this.emitter.onEvent(listener);
  }

  emit(event: EngineEvent): void {
    if (!this.stopped) this.emitter.emit(event);
  }

  async start(): Promise<void> {
    await this.script(this);
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  async logout(): Promise<void> {
    await this.context.auth.clear();
    this.stopped = true;
  }

  private notReady(): never {
    throw new EngineError('ENGINE_ERROR', 'scripted engine: not ready', true);
  }

  async requestPairingCode(_phone: string): Promise<string> {
    return this.notReady();
  }
  async getNumberId(_phone: string): Promise<string | null> {
    return this.notReady();
  }
  async send(): Promise<never> {
    return this.notReady();
  }
  async react(): Promise<void> {
    this.notReady();
  }
  async edit(): Promise<void> {
    this.notReady();
  }
  async revoke(): Promise<void> {
    this.notReady();
  }
  async markSeen(): Promise<void> {
    this.notReady();
  }
  async setPresence(): Promise<void> {
    this.notReady();
  }
  async getContacts(): Promise<never> {
    return this.notReady();
  }
  async getChats(): Promise<never> {
    return this.notReady();
  }
  async getProfilePictureUrl(): Promise<string | null> {
    return this.notReady();
  }
}

/** A 'webjs' driver creating scripted engines; `engines` lists every one created, with when it started. */
function scriptedDriver(script: (engine: ScriptedEngine) => Promise<void> | void): { driver: EngineDriver; engines: ScriptedEngine[]; startedAt: number[] } {
  const engines: ScriptedEngine[] = [];
  const startedAt: number[] = [];
  const driver: EngineDriver = {
    name: 'webjs',
    create: (context) => {
      const engine = new ScriptedEngine(context, (e) => {
        startedAt.push(performance.now());
        return script(e);
      });
      engines.push(engine);
      return engine;
    },
    removeAuthData: async () => undefined,
  };
  return { driver, engines, startedAt };
}

// ---- tests --------------------------------------------------------------------------------------

describe.each(STORAGE_MODES)('session lifecycle: create → qr → scan → ready (%s)', (mode) => {
  it('goes starting → qr → authenticated → ready with `me`, and shows the QR only while in qr', async () => {
    const gw = await openGateway({ mode });
    const created = await createSession(gw, { id: 'sales' });
    expect(['starting', 'qr']).toContain(created.status);
    expect(created.me).toBeNull();
    await gw.log.nthStatus('sales', 'qr');
    const qrRes = await call(gw.app, 'GET', '/api/v1/sessions/sales/qr');
    expect(qrRes.statusCode).toBe(200);
    const qr = qrRes.json<{ qr: string; image: string; expiresAt: string }>();
    expect(qr.qr).toBe(gw.log.of('sales', 'qr_code').at(-1)?.data.raw);
    expect(qr.image).toMatch(/^data:image\/png;base64,/);
    expect(Date.parse(qr.expiresAt)).toBeGreaterThan(Date.now());

    const scanned = await gw.post('/sales/simulator/scan', { phone: PHONE, pushName: 'Sales' });
    expect(scanned.statusCode).toBe(200);
    expect(sessionOf(scanned)).toMatchObject({ status: 'ready', me: { id: `${PHONE}@c.us`, phone: PHONE, pushName: 'Sales' }, lastError: null });
    const session = await gw.get('sales');
    expect(session.status).toBe('ready');
    expect(session.me).toEqual({ id: `${PHONE}@c.us`, phone: PHONE, pushName: 'Sales' });
    expect(Date.parse(session.connectedAt ?? '')).not.toBeNaN();
    expect(gw.log.statuses('sales')).toEqual(['starting', 'qr', 'authenticated', 'ready']);

    const noQr = await call(gw.app, 'GET', '/api/v1/sessions/sales/qr');
    expect([noQr.statusCode, errorCodeOf(noQr)]).toEqual([409, 'QR_NOT_AVAILABLE']);
    const rescan = await gw.post('/sales/simulator/scan', {});
    expect([rescan.statusCode, errorCodeOf(rescan)]).toEqual([409, 'QR_NOT_AVAILABLE']);
  });
});

describe('session lifecycle: events', () => {
  it('publishes session.status with the contract mapping, and qr_code with a decodable PNG, its timeout and the raw code', async () => {
    const gw = await openGateway({ env: { WHATSAPP_QR_TIMEOUT: '5s' } });
    await readySession(gw, 'ev');
    expect((await gw.post('/ev/stop')).statusCode).toBe(200);
    await createSession(gw, { id: 'ev-failing', engine: 'simulator' });
    await gw.log.nthStatus('ev-failing', 'qr');
    expect((await gw.post('/ev-failing/simulator/disconnect', { reason: 'TOS_BLOCK' })).statusCode).toBe(202);
    await gw.log.nthStatus('ev-failing', 'failed');

    const statusEvents = [...gw.log.of('ev', 'session.status'), ...gw.log.of('ev-failing', 'session.status')];
    expect(statusEvents.map((e) => e.data.detail)).toEqual(['starting', 'qr', 'authenticated', 'ready', 'stopped', 'starting', 'qr', 'failed']);
    for (const event of statusEvents) {
      const detail = event.data.detail as SessionStatus;
      expect(event.data.status).toBe(PUBLIC_STATUS[detail]);
    }
    expect(gw.log.of('ev', 'session.status').at(-1)?.data.reason).toBe('STOPPED_BY_API');
    expect(gw.log.of('ev-failing', 'session.status').at(-1)?.data.reason).toBe('TOS_BLOCK');

    const qrEvents = gw.log.of('ev', 'qr_code');
    expect(qrEvents).toHaveLength(1);
    const data = qrEvents[0]?.data ?? {};
    expect(data.timeout).toBe(5_000);
    expect(typeof data.raw).toBe('string');
    expect(typeof data.qrCode).toBe('string');
    const qrCode = String(data.qrCode);
    expect(qrCode.startsWith('data:')).toBe(false);
    expect(qrCode).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const png = Buffer.from(qrCode, 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(decodeQrPng(png)).toBe(data.raw);
  });
});

describe('session lifecycle: QR expiry', () => {
  it('fails with QR_TIMEOUT after WHATSAPP_QR_MAX_RETRIES codes, having published exactly that many qr_code events', async () => {
    const gw = await openGateway({ env: { WHATSAPP_QR_TIMEOUT: '50ms', WHATSAPP_QR_MAX_RETRIES: '2' } });
    await createSession(gw, { id: 'expiring' });
    const failed = await gw.app.gateway.sessions.waitForStatus('expiring', ['failed'], WAIT_MS);
    expect(failed.status).toBe('failed');
    expect(failed.lastError?.code).toBe('QR_TIMEOUT');
    expect(gw.log.of('expiring', 'qr_code')).toHaveLength(2);
    expect(gw.log.of('expiring', 'qr_code').map((e) => e.data.raw)).toHaveLength(new Set(gw.log.of('expiring', 'qr_code').map((e) => e.data.raw)).size);
    expect(gw.log.of('expiring', 'session.status').at(-1)?.data).toMatchObject({ status: 'disconnected', detail: 'failed', reason: 'QR_TIMEOUT' });
    expect(gw.app.gateway.sessions.engineOf('expiring')).toBeNull();
    const noQr = await call(gw.app, 'GET', '/api/v1/sessions/expiring/qr');
    expect(errorCodeOf(noQr)).toBe('QR_NOT_AVAILABLE');

    // A new start gets a fresh QR budget.
    expect((await gw.post('/expiring/start')).statusCode).toBe(200);
    await gw.log.nthStatus('expiring', 'failed', 2, WAIT_MS);
    expect(gw.log.of('expiring', 'qr_code')).toHaveLength(4);
  });

  it('never lets the QR timer kill a scanned simulator session', async () => {
    // Long enough for the scan to come before the only QR expires, even on a busy machine.
    const gw = await openGateway({ env: { WHATSAPP_QR_TIMEOUT: '300ms', WHATSAPP_QR_MAX_RETRIES: '1' } });
    await readySession(gw, 'scanned');
    // A session created after it, never scanned, times out after the scanned one's QR timer would have.
    await createSession(gw, { id: 'control' });
    expect((await gw.app.gateway.sessions.waitForStatus('control', ['failed'], WAIT_MS)).lastError?.code).toBe('QR_TIMEOUT');
    const scanned = await gw.get('scanned');
    expect(scanned.status).toBe('ready');
    expect(scanned.lastError).toBeNull();
  });

  it('a scan (loading_screen) moves qr → authenticated, and the QR timer spares it until ready', async () => {
    const { driver, engines } = scriptedDriver((engine) => engine.emit({ type: 'qr', qr: '2@scripted,code,only,once' }));
    const gw = await openGateway({ env: { WHATSAPP_QR_TIMEOUT: '300ms', WHATSAPP_QR_MAX_RETRIES: '1', WHATSAPP_READY_TIMEOUT: '10s' }, drivers: [driver] });
    await createSession(gw, { id: 'slow-link', engine: 'webjs' });
    await gw.log.nthStatus('slow-link', 'qr');
    const engine = engines[0];
    if (!engine) throw new Error('no engine created');
    engine.emit({ type: 'loading_screen', percent: 10, message: 'WhatsApp' });
    await gw.log.nthStatus('slow-link', 'authenticated');
    await createSession(gw, { id: 'control', engine: 'simulator' });
    expect((await gw.app.gateway.sessions.waitForStatus('control', ['failed'], WAIT_MS)).lastError?.code).toBe('QR_TIMEOUT');
    expect((await gw.get('slow-link')).status).toBe('authenticated');
    engine.emit({ type: 'authenticated' });
    engine.emit({ type: 'ready', me: { id: `${PHONE}@c.us`, phone: PHONE, pushName: null } });
    await gw.log.nthStatus('slow-link', 'ready');
    expect(gw.log.statuses('slow-link')).toEqual(['starting', 'qr', 'authenticated', 'ready']);
  });
});

const FINAL_REASONS: { reason: string; status: SessionStatus; code: string; connection: string }[] = [
  { reason: 'LOGOUT', status: 'stopped', code: 'LOGGED_OUT', connection: 'closed' },
  { reason: 'UNPAIRED', status: 'stopped', code: 'LOGGED_OUT', connection: 'closed' },
  { reason: 'UNPAIRED_IDLE', status: 'stopped', code: 'LOGGED_OUT', connection: 'closed' },
  { reason: 'TOS_BLOCK', status: 'failed', code: 'BANNED', connection: 'refused' },
  { reason: 'SMB_TOS_BLOCK', status: 'failed', code: 'BANNED', connection: 'refused' },
  { reason: 'DEPRECATED_VERSION', status: 'failed', code: 'WEB_VERSION_DEPRECATED', connection: 'refused' },
  { reason: 'PROXYBLOCK', status: 'failed', code: 'PROXY_BLOCKED', connection: 'refused' },
  { reason: 'Max qrcode retries reached', status: 'failed', code: 'QR_TIMEOUT', connection: 'closed' },
];
const RECONNECTABLE_REASONS = ['CONFLICT', 'UNLAUNCHED', 'TIMEOUT', 'NAVIGATION', 'BROWSER_CRASH'];

describe('session lifecycle: disconnect reasons (POST /simulator/disconnect)', () => {
  it.each(FINAL_REASONS)('$reason → $status with lastError $code', async ({ reason, status, code, connection }) => {
    const gw = await openGateway({ env: { WHATSAPP_RECONNECT_DELAY: '10ms' } });
    const before = await readySession(gw, 'dc');
    const res = await gw.post('/dc/simulator/disconnect', { reason });
    expect(res.statusCode).toBe(202);
    await gw.log.nthStatus('dc', status);
    const session = await gw.get('dc');
    expect(session.status).toBe(status);
    expect(session.lastError?.code).toBe(code);
    expect(gw.log.of('dc', 'disconnected').map((e) => e.data)).toEqual([{ reason, isReconnectable: false }]);
    expect(gw.log.of('dc', 'connection.status').at(-1)?.data).toMatchObject({ state: connection, waState: reason });
    expect(gw.app.gateway.sessions.engineOf('dc')).toBeNull();
    expect(gw.log.statuses('dc').slice(-1)).toEqual([status]);

    // Logged out: auth dropped, the next start shows a QR. Otherwise the link is kept.
    const qrsBefore = gw.log.of('dc', 'qr_code').length;
    expect((await gw.post('/dc/start')).statusCode).toBe(200);
    if (code === 'LOGGED_OUT') {
      // Broke: a logout from the phone kept `connectedAt` while the API's logout cleared it.
      expect({ me: session.me, connectedAt: session.connectedAt }).toEqual({ me: null, connectedAt: null });
      await gw.log.nth('dc', 'qr_code', qrsBefore + 1);
      expect((await gw.get('dc'))).toMatchObject({ status: 'qr', lastError: null });
    } else {
      expect(session.me).toEqual(before.me);
      await gw.log.nthStatus('dc', 'ready', 2);
      expect(gw.log.of('dc', 'qr_code')).toHaveLength(qrsBefore);
      expect((await gw.get('dc')).lastError).toBeNull();
    }
  });

  it.each(RECONNECTABLE_REASONS)('%s → disconnected, then reconnects by itself to ready without a scan', async (reason) => {
    const gw = await openGateway({ env: { WHATSAPP_RECONNECT_DELAY: '10ms', WHATSAPP_MAX_RECONNECTS: '1' } });
    const before = await readySession(gw, 'dc');
    // Twice: reaching ready again restores the whole reconnect budget (WHATSAPP_MAX_RECONNECTS=1).
    for (const round of [1, 2]) {
      expect((await gw.post('/dc/simulator/disconnect', { reason })).statusCode).toBe(202);
      const disconnected = await gw.log.nthStatus('dc', 'disconnected', round);
      expect(disconnected.data).toMatchObject({ status: 'disconnected', reason });
      await gw.log.nthStatus('dc', 'ready', round + 1);
    }
    expect(gw.log.of('dc', 'disconnected').map((e) => e.data)).toEqual([
      { reason, isReconnectable: true },
      { reason, isReconnectable: true },
    ]);
    expect(gw.log.statuses('dc')).toEqual(['starting', 'qr', 'authenticated', 'ready', 'disconnected', 'starting', 'ready', 'disconnected', 'starting', 'ready']);
    expect(gw.log.of('dc', 'qr_code')).toHaveLength(1);
    const session = await gw.get('dc');
    expect(session).toMatchObject({ status: 'ready', me: before.me, lastError: null });
  });
});

describe('session lifecycle: reconnects and start failures', () => {
  it.each([0, 3])('gives up after WHATSAPP_MAX_RECONNECTS=%i failed reconnects (max+1 starts), backing off exponentially', async (max) => {
    const { driver, engines, startedAt } = scriptedDriver(() => {
      throw new EngineError('WHATSAPP_UNREACHABLE', 'web.whatsapp.com did not answer', true);
    });
    const gw = await openGateway({ env: { WHATSAPP_RECONNECT_DELAY: '10ms', WHATSAPP_MAX_RECONNECTS: String(max) }, drivers: [driver] });
    await createSession(gw, { id: 'unreachable', engine: 'webjs' });
    const failed = await gw.app.gateway.sessions.waitForStatus('unreachable', ['failed'], WAIT_MS);
    expect(failed.status).toBe('failed');
    expect(failed.lastError?.code).toBe('WHATSAPP_UNREACHABLE');
    expect(engines).toHaveLength(max + 1);
    expect(engines.every((e) => e.stopped)).toBe(true);
    expect(gw.log.statuses('unreachable')).toEqual([...Array.from({ length: max }, () => ['starting', 'disconnected']).flat(), 'starting', 'failed']);
    for (let i = 1; i < startedAt.length; i++) {
      // 10, 20, 40 ms…; timers never fire early (1 ms of rounding allowed).
      expect((startedAt[i] ?? 0) - (startedAt[i - 1] ?? 0)).toBeGreaterThanOrEqual(10 * 2 ** (i - 1) - 1);
    }
    // Nothing retries after giving up (longer than the next backoff step).
    await delay(10 * 2 ** (max + 1) + 50);
    expect(engines).toHaveLength(max + 1);

    // A start by the API gets a fresh budget.
    expect((await gw.post('/unreachable/start')).statusCode).toBe(200);
    await gw.log.nthStatus('unreachable', 'failed', 2, WAIT_MS);
    expect(engines).toHaveLength(2 * (max + 1));
  });

  it('an error that is not an EngineError counts as a reconnectable ENGINE_ERROR', async () => {
    const { driver, engines } = scriptedDriver(() => {
      throw new TypeError('something odd in the engine');
    });
    const gw = await openGateway({ env: { WHATSAPP_RECONNECT_DELAY: '10ms', WHATSAPP_MAX_RECONNECTS: '1' }, drivers: [driver] });
    await createSession(gw, { id: 'odd', engine: 'webjs' });
    const failed = await gw.app.gateway.sessions.waitForStatus('odd', ['failed'], WAIT_MS);
    expect(failed.lastError?.code).toBe('ENGINE_ERROR');
    expect(engines).toHaveLength(2);
  });

  it('a non-reconnectable start error (BROWSER_NOT_FOUND) fails the session at once', async () => {
    const { driver, engines } = scriptedDriver(() => {
      throw new EngineError('BROWSER_NOT_FOUND', 'Chromium not found at /usr/bin/chromium');
    });
    const gw = await openGateway({ env: { WHATSAPP_RECONNECT_DELAY: '10ms', WHATSAPP_MAX_RECONNECTS: '3' }, drivers: [driver] });
    const created = await createSession(gw, { id: 'nobrowser', engine: 'webjs' });
    expect(created.status).toBe('failed');
    expect(created.lastError).toMatchObject({ code: 'BROWSER_NOT_FOUND', message: 'Chromium not found at /usr/bin/chromium' });
    expect(gw.log.statuses('nobrowser')).toEqual(['starting', 'failed']);
    expect(gw.log.of('nobrowser', 'session.status').at(-1)?.data.reason).toBe('BROWSER_NOT_FOUND');
    await delay(100);
    expect(engines).toHaveLength(1);
    expect(engines[0]?.stopped).toBe(true);
  });

  it('stop during the reconnect backoff cancels the pending reconnect', async () => {
    const { driver, engines } = scriptedDriver(() => {
      throw new EngineError('WHATSAPP_UNREACHABLE', 'web.whatsapp.com did not answer', true);
    });
    const gw = await openGateway({ env: { WHATSAPP_RECONNECT_DELAY: '100ms', WHATSAPP_MAX_RECONNECTS: '3' }, drivers: [driver] });
    await createSession(gw, { id: 'backoff', engine: 'webjs' });
    expect((await gw.get('backoff')).status).toBe('disconnected');
    expect(sessionOf(await gw.post('/backoff/stop')).status).toBe('stopped');
    await delay(250);
    expect(engines).toHaveLength(1);
    expect((await gw.get('backoff')).status).toBe('stopped');
  });

  it("'auth_failure' drops the auth data and fails the session with AUTH_FAILURE", async () => {
    const { driver } = scriptedDriver(async (engine) => {
      await engine.context.auth.save({ token: 'restored-link' });
      engine.emit({ type: 'auth_failure', message: 'the stored link is no longer valid' });
    });
    const gw = await openGateway({ drivers: [driver] });
    await createSession(gw, { id: 'badauth', engine: 'webjs' });
    const failed = await gw.app.gateway.sessions.waitForStatus('badauth', ['failed'], WAIT_MS);
    expect(failed.lastError?.code).toBe('AUTH_FAILURE');
    expect((await gw.app.gateway.storage.registry.get('badauth'))?.engineAuth).toBeNull();
  });

  it.each<[string, (engine: ScriptedEngine) => void, SessionStatus]>([
    ["'authenticated' and never 'ready'", (e) => e.emit({ type: 'authenticated' }), 'authenticated'],
    ['nothing at all (a restored session that hangs)', () => undefined, 'starting'],
  ])('WHATSAPP_READY_TIMEOUT restarts an engine that emits %s, then fails READY_TIMEOUT', async (_when, script, status) => {
    const { driver, engines } = scriptedDriver(script);
    const gw = await openGateway({
      env: { WHATSAPP_READY_TIMEOUT: '30ms', WHATSAPP_RECONNECT_DELAY: '10ms', WHATSAPP_MAX_RECONNECTS: '2' },
      drivers: [driver],
    });
    await createSession(gw, { id: 'stuck', engine: 'webjs' });
    const failed = await gw.app.gateway.sessions.waitForStatus('stuck', ['failed'], WAIT_MS);
    expect(failed.lastError?.code).toBe('READY_TIMEOUT');
    expect(engines).toHaveLength(3);
    expect(engines.every((e) => e.stopped)).toBe(true);
    const attempt = status === 'authenticated' ? ['starting', 'authenticated'] : ['starting'];
    expect(gw.log.statuses('stuck')).toEqual([...attempt, 'disconnected', ...attempt, 'disconnected', ...attempt, 'failed']);
    expect(gw.log.of('stuck', 'disconnected').map((e) => e.data)).toEqual(Array.from({ length: 3 }, () => ({ reason: 'READY_TIMEOUT', isReconnectable: true })));
  });
});

describe('session lifecycle: idle timeout, logout, stop, restart', () => {
  it('WHATSAPP_SESSION_TIMEOUT stops an idle session, keeping auth: the next start is ready without a QR', async () => {
    const gw = await openGateway({ env: { WHATSAPP_SESSION_TIMEOUT: '300ms' } });
    const ready = await readySession(gw, 'idle');
    const stopped = await gw.log.nthStatus('idle', 'stopped', 1, WAIT_MS);
    expect(stopped.data).toMatchObject({ status: 'disconnected', reason: 'IDLE_TIMEOUT' });
    expect((await gw.get('idle')).status).toBe('stopped');
    expect(gw.app.gateway.sessions.engineOf('idle')).toBeNull();
    expect((await gw.post('/idle/start')).statusCode).toBe(200);
    await gw.log.nthStatus('idle', 'ready', 2);
    expect(gw.log.of('idle', 'qr_code')).toHaveLength(1);
    expect((await gw.get('idle')).me).toEqual(ready.me);
  });

  it('engine activity postpones the idle stop', async () => {
    const gw = await openGateway({ env: { WHATSAPP_SESSION_TIMEOUT: '250ms' } });
    await readySession(gw, 'busy');
    const engine = gw.app.gateway.sessions.engineOf('busy');
    if (!(engine instanceof SimulatorEngine)) throw new Error('expected a simulator engine');
    const readyAt = performance.now();
    while (performance.now() - readyAt < 450) {
      await delay(40);
      engine.receive({ from: '5511987654321@c.us', type: 'text', text: 'still here' });
    }
    expect((await gw.get('busy')).status).toBe('ready');
    await gw.log.nthStatus('busy', 'stopped', 1, WAIT_MS);
  });

  it('logout → stopped with `me` cleared; the next start shows a QR again', async () => {
    const gw = await openGateway();
    await readySession(gw, 'out');
    const res = await gw.post('/out/logout');
    expect(res.statusCode).toBe(200);
    expect(sessionOf(res)).toMatchObject({ status: 'stopped', me: null, connectedAt: null });
    expect(gw.log.of('out', 'session.status').at(-1)?.data).toMatchObject({ status: 'disconnected', detail: 'stopped', reason: 'LOGOUT' });
    expect(gw.app.gateway.sessions.engineOf('out')).toBeNull();
    expect((await gw.post('/out/start')).statusCode).toBe(200);
    await gw.log.nthStatus('out', 'qr', 2);
    expect(gw.log.statuses('out').slice(-2)).toEqual(['starting', 'qr']);
    // Logging out a session that is not running also works.
    expect((await gw.post('/out/stop')).statusCode).toBe(200);
    expect(sessionOf(await gw.post('/out/logout')).status).toBe('stopped');
  });

  it('logout still drops auth and stops the session when the engine cannot unlink the device', async () => {
    // Broke: the engine's logout() error escaped after the engine was detached, leaving a 'ready' session with no engine and its auth kept.
    const { driver, engines } = scriptedDriver(async (engine) => {
      await engine.context.auth.save({ token: 'link' });
      engine.emit({ type: 'ready', me: { id: `${PHONE}@c.us`, phone: PHONE, pushName: null } });
    });
    const gw = await openGateway({ drivers: [driver] });
    await createSession(gw, { id: 'unlink', engine: 'webjs' });
    await gw.log.nthStatus('unlink', 'ready');
    const engine = engines[0];
    if (!engine) throw new Error('no engine created');
    engine.logout = async () => {
      throw new EngineError('WHATSAPP_UNREACHABLE', 'the phone did not answer', true);
    };
    const res = await gw.post('/unlink/logout');
    expect(res.statusCode).toBe(200);
    expect(sessionOf(res)).toMatchObject({ status: 'stopped', me: null });
    expect(engine.stopped).toBe(true);
    expect(gw.app.gateway.sessions.engineOf('unlink')).toBeNull();
    expect((await gw.app.gateway.storage.registry.get('unlink'))?.engineAuth).toBeNull();
  });

  it('stop keeps auth: start is ready again without a scan', async () => {
    const gw = await openGateway();
    const ready = await readySession(gw, 'pause');
    const res = await gw.post('/pause/stop');
    expect(res.statusCode).toBe(200);
    expect(sessionOf(res).status).toBe('stopped');
    expect(gw.app.gateway.sessions.engineOf('pause')).toBeNull();
    expect((await gw.post('/pause/stop')).statusCode).toBe(200);
    expect((await gw.post('/pause/start')).statusCode).toBe(200);
    await gw.log.nthStatus('pause', 'ready', 2);
    expect(gw.log.of('pause', 'qr_code')).toHaveLength(1);
    expect((await gw.get('pause')).me).toEqual(ready.me);
    // start on a running session changes nothing.
    const again = await gw.post('/pause/start');
    expect(sessionOf(again).status).toBe('ready');
    expect(gw.log.statuses('pause').filter((s) => s === 'starting')).toHaveLength(2);
  });

  it('restart replaces the engine and comes back ready without a scan', async () => {
    const gw = await openGateway();
    await readySession(gw, 'again');
    const first = gw.app.gateway.sessions.engineOf('again');
    expect((await gw.post('/again/restart')).statusCode).toBe(200);
    await gw.log.nthStatus('again', 'ready', 2);
    const second = gw.app.gateway.sessions.engineOf('again');
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    expect(first instanceof SimulatorEngine && first.status).toBe('closed');
    expect(gw.log.of('again', 'qr_code')).toHaveLength(1);
  });
});

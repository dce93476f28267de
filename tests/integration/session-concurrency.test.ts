import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, EngineDriver } from '../../src/engines/engine.js';
import { createSimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import type { PublicSession, SessionStatus } from '../../src/sessions/session.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

const WAIT_MS = 3_000;
const SETTLED: readonly SessionStatus[] = ['qr', 'ready', 'stopped', 'failed'];

/**
 * Wraps the real simulator driver and counts its engines: created, started, stopped. The engines
 * stay SimulatorEngine instances (their methods are wrapped in place), so the simulator routes work.
 */
class CountingSimulatorDriver implements EngineDriver {
  readonly name = 'simulator' as const;
  readonly created: Engine[] = [];
  readonly started = new Set<Engine>();
  readonly stopped = new Set<Engine>();
  /** Every time an engine started while another engine of the same session was still running. */
  readonly overlaps: string[] = [];
  private readonly inner = createSimulatorDriver({ qrRotationMs: 60_000, ackDelaysMs: [5, 10, 15] });
  private readonly sessionOf = new Map<Engine, string>();

  create: EngineDriver['create'] = (context) => {
    const engine = this.inner.create(context);
    this.created.push(engine);
    this.sessionOf.set(engine, context.sessionId);
    const start = engine.start.bind(engine);
    const stop = engine.stop.bind(engine);
    engine.start = async () => {
      const others = this.running(context.sessionId).filter((e) => e !== engine);
      if (others.length > 0) this.overlaps.push(`${context.sessionId}: started while ${others.length} other engine(s) ran`);
      this.started.add(engine);
      await start();
    };
    engine.stop = async () => {
      this.stopped.add(engine);
      await stop();
    };
    return engine;
  };

  removeAuthData = async (_sessionId: string): Promise<void> => undefined;

  /** Engines of the session that were started and not stopped. */
  running(sessionId: string): Engine[] {
    return [...this.started].filter((e) => !this.stopped.has(e) && this.sessionOf.get(e) === sessionId);
  }
}

/** A small deterministic PRNG (mulberry32), so that a failing storm can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function call(app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object): Promise<LightMyRequestResponse> {
  return app.inject(payload === undefined ? { method, url, headers: AUTH } : { method, url, headers: AUTH, payload });
}

const codeOf = (res: LightMyRequestResponse): string => res.json<{ code: string }>().code;

const opened: TestApp[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

describe.each(STORAGE_MODES)('session concurrency (%s)', (mode) => {
  const open = async (env: Record<string, string> = {}): Promise<{ t: TestApp; driver: CountingSimulatorDriver }> => {
    const driver = new CountingSimulatorDriver();
    const t = await startTestApp({ mode, env }, { engineDrivers: [driver] });
    opened.push(t);
    return { t, driver };
  };

  /** Checks that the session is either whole and consistent, or gone everywhere. */
  const expectConsistent = async (t: TestApp, driver: CountingSimulatorDriver, id: string): Promise<'exists' | 'deleted'> => {
    const { sessions, storage } = t.app.gateway;
    const res = await call(t.app, 'GET', `/api/v1/sessions/${id}`);
    expect(driver.overlaps).toEqual([]);
    if (res.statusCode === 404) {
      expect(codeOf(res)).toBe('SESSION_NOT_FOUND');
      expect(await storage.registry.get(id)).toBeNull();
      expect(sessions.has(id)).toBe(false);
      expect(sessions.list().map((s) => s.id)).not.toContain(id);
      expect(driver.running(id)).toEqual([]);
      return 'deleted';
    }
    expect(res.statusCode).toBe(200);
    const settled = await sessions.waitForStatus(id, SETTLED, WAIT_MS);
    expect(SETTLED).toContain(settled.status);
    const stored = await storage.registry.get(id);
    expect(stored?.status).toBe(settled.status);
    const running = driver.running(id);
    if (settled.status === 'stopped' || settled.status === 'failed') {
      expect(running).toEqual([]);
      expect(sessions.engineOf(id)).toBeNull();
    } else {
      expect(running).toHaveLength(1);
      expect(sessions.engineOf(id)).toBe(running[0]);
    }
    if (settled.status === 'qr') expect((await call(t.app, 'GET', `/api/v1/sessions/${id}/qr`)).statusCode).toBe(200);
    if (settled.status === 'ready') expect(settled.me).not.toBeNull();
    return 'exists';
  };

  it('a storm of start/stop/restart/logout/delete on one id never leaves two engines nor a half-deleted session', async () => {
    const { t, driver } = await open();
    const outcomes = { exists: 0, deleted: 0 };
    for (let round = 0; round < 8; round++) {
      const id = `storm-${round}`;
      const next = random(round + 1);
      expect((await call(t.app, 'POST', '/api/v1/sessions', { id })).statusCode).toBe(201);
      await t.app.gateway.sessions.waitForStatus(id, ['qr'], WAIT_MS);
      // Half of the rounds begin linked, so that starts go straight to ready.
      if (round % 2 === 0) expect((await call(t.app, 'POST', `/api/v1/sessions/${id}/simulator/scan`, {})).json<PublicSession>().status).toBe('ready');
      const actions = ['start', 'stop', 'restart', 'logout', 'delete'] as const;
      const storm = Array.from({ length: 40 }, () => {
        const weights = next();
        // delete is rare so that most of the storm hits a live session.
        const action = weights < 0.05 ? 'delete' : (actions[Math.floor(next() * 4)] ?? 'start');
        return action === 'delete'
          ? call(t.app, 'DELETE', `/api/v1/sessions/${id}`).then((res) => ({ action, res }))
          : call(t.app, 'POST', `/api/v1/sessions/${id}/${action}`).then((res) => ({ action, res }));
      });
      const results = await Promise.all(storm);
      for (const { action, res } of results) {
        const ok = action === 'delete' ? 204 : 200;
        expect([ok, 404]).toContain(res.statusCode);
        if (res.statusCode === 404) expect(codeOf(res)).toBe('SESSION_NOT_FOUND');
      }
      const deletes = results.filter((r) => r.action === 'delete');
      expect(deletes.filter((r) => r.res.statusCode === 204)).toHaveLength(deletes.length > 0 ? 1 : 0);
      outcomes[await expectConsistent(t, driver, id)] += 1;
    }
    // Every engine ever created is either the one running for its session, or stopped.
    const live = new Set(t.app.gateway.sessions.list().flatMap((s) => driver.running(s.id)));
    for (const engine of driver.created) expect(live.has(engine) || driver.stopped.has(engine)).toBe(true);
    expect(driver.created.length).toBeGreaterThan(8);
    expect(outcomes.exists + outcomes.deleted).toBe(8);
  });

  it('restarts and scans racing on one id end with one engine, linked or waiting for a scan', async () => {
    const { t, driver } = await open();
    expect((await call(t.app, 'POST', '/api/v1/sessions', { id: 'race' })).statusCode).toBe(201);
    await t.app.gateway.sessions.waitForStatus('race', ['qr'], WAIT_MS);
    const storm = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0 ? call(t.app, 'POST', '/api/v1/sessions/race/simulator/scan', {}) : call(t.app, 'POST', `/api/v1/sessions/race/${i % 3 === 1 ? 'restart' : 'start'}`),
    );
    for (const res of await Promise.all(storm)) {
      expect(res.statusCode === 200 || (res.statusCode === 409 && codeOf(res) === 'QR_NOT_AVAILABLE')).toBe(true);
    }
    expect(await expectConsistent(t, driver, 'race')).toBe('exists');
  });

  it('concurrent creates of one id: exactly one 201, the rest 409 SESSION_EXISTS, one engine', async () => {
    const { t, driver } = await open();
    const results = await Promise.all(Array.from({ length: 20 }, () => call(t.app, 'POST', '/api/v1/sessions', { id: 'dup', metadata: { n: '1' } })));
    expect(results.filter((r) => r.statusCode === 201)).toHaveLength(1);
    const refused = results.filter((r) => r.statusCode !== 201);
    expect(refused).toHaveLength(19);
    for (const res of refused) expect([res.statusCode, codeOf(res)]).toEqual([409, 'SESSION_EXISTS']);
    expect(driver.created).toHaveLength(1);
    expect(t.app.gateway.sessions.list().map((s) => s.id)).toEqual(['dup']);
    expect(await t.app.gateway.storage.registry.count()).toBe(1);
  });

  it('concurrent creates beyond WHATSAPP_MAX_SESSIONS: exactly max succeed, the rest 409 SESSION_LIMIT_REACHED', async () => {
    const { t, driver } = await open({ WHATSAPP_MAX_SESSIONS: '5' });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(t.app, 'POST', '/api/v1/sessions', { id: `cap-${i}` })));
    const created = results.filter((r) => r.statusCode === 201);
    expect(created).toHaveLength(5);
    for (const res of results.filter((r) => r.statusCode !== 201)) expect([res.statusCode, codeOf(res)]).toEqual([409, 'SESSION_LIMIT_REACHED']);
    const ids = created.map((r) => r.json<PublicSession>().id).sort();
    expect(t.app.gateway.sessions.list().map((s) => s.id).sort()).toEqual(ids);
    expect((await t.app.gateway.storage.registry.list()).map((r) => r.id).sort()).toEqual(ids);
    expect(driver.created).toHaveLength(5);

    // Deleting one frees exactly one slot, also under concurrency.
    const [first] = ids;
    if (first === undefined) throw new Error('no session created');
    expect((await call(t.app, 'DELETE', `/api/v1/sessions/${first}`)).statusCode).toBe(204);
    const again = await Promise.all(Array.from({ length: 6 }, (_, i) => call(t.app, 'POST', '/api/v1/sessions', { id: `cap-again-${i}` })));
    expect(again.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(await t.app.gateway.storage.registry.count()).toBe(5);
  });

  it('deleting a session stops its engine and forgets it everywhere; the id can be created again', async () => {
    const { t, driver } = await open();
    expect((await call(t.app, 'POST', '/api/v1/sessions', { id: 'gone' })).statusCode).toBe(201);
    await t.app.gateway.sessions.waitForStatus('gone', ['qr'], WAIT_MS);
    const engine = t.app.gateway.sessions.engineOf('gone');
    expect(engine).toBeInstanceOf(SimulatorEngine);
    expect((await call(t.app, 'POST', '/api/v1/sessions/gone/simulator/scan', {})).statusCode).toBe(200);
    expect((await call(t.app, 'DELETE', '/api/v1/sessions/gone')).statusCode).toBe(204);
    expect(await expectConsistent(t, driver, 'gone')).toBe('deleted');
    expect(engine instanceof SimulatorEngine && engine.status).toBe('closed');
    // The new session with the same id does not inherit the old link.
    expect((await call(t.app, 'POST', '/api/v1/sessions', { id: 'gone' })).statusCode).toBe(201);
    expect((await t.app.gateway.sessions.waitForStatus('gone', ['qr', 'ready'], WAIT_MS)).status).toBe('qr');
  });
});

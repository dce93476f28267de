import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineDriver } from '../../src/engines/engine.js';
import { profileDirOf } from '../../src/engines/webjs/browser-profile.js';
import { findProcesses, killProcessGroup } from '../../src/engines/webjs/process-tree.js';
import { createWebjsDriver } from '../../src/engines/webjs/webjs-driver.js';
import { realWebjsSeams } from '../../src/engines/webjs/webjs-engine.js';
import { webjsOptionsFrom } from '../../src/engines/webjs/webjs-options.js';
import { FakeWebjsClient } from '../helpers/fake-webjs-client.js';
import { AUTH, startTestApp, testConfig, type TestApp } from '../helpers/test-app.js';

/**
 * webjs sessions through the HTTP API, on the real Chromium. WhatsApp Web is unreachable here:
 * the real client must end `failed` cleanly; a client that never finishes loading stands in
 * where a browser has to stay up.
 */

class StalledClient extends FakeWebjsClient {
  override initialize(): Promise<void> {
    return new Promise<void>(() => undefined);
  }
}

const FAST = { WHATSAPP_RECONNECT_DELAY: '10ms', WHATSAPP_MAX_RECONNECTS: '1' };

async function stalledDriver(sessionsPath: string): Promise<EngineDriver> {
  const config = await testConfig({ sessionsPath });
  return createWebjsDriver({ ...webjsOptionsFrom(config), destroyTimeoutMs: 1_000 }, { launchBrowser: realWebjsSeams.launchBrowser, createClient: () => new StalledClient() });
}

async function browsersOf(t: TestApp, ids: readonly string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const id of ids) {
    const processes = await findProcesses(profileDirOf(t.config.wwebjs.authPath, id));
    if (processes.length > 0) found.set(id, new Set(processes.map((p) => p.pgid)).size);
  }
  return found;
}

describe('webjs sessions through the API (real Chromium)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    if (t) {
      const dir = t.config.sessionsPath;
      await t.app.close();
      // Shutdown must leave no Chromium behind.
      const leftovers = await findProcesses(dir);
      for (const p of leftovers) killProcessGroup(p.pgid);
      await t.close();
      t = undefined;
      expect(leftovers).toEqual([]);
    }
  });

  it('ends failed with WHATSAPP_UNREACHABLE after the reconnect policy, while the gateway keeps answering', async () => {
    t = await startTestApp({ env: FAST });
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'real', engine: 'webjs' } });
    expect(created.statusCode).toBe(201);
    const other = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'sim', engine: 'simulator' } });
    expect(other.statusCode).toBe(201);
    expect((await t.app.gateway.sessions.waitForStatus('sim', ['qr'], 5_000)).status).toBe('qr');
    expect((await t.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
    const failed = await t.app.gateway.sessions.waitForStatus('real', ['failed'], 30_000);
    expect(failed).toMatchObject({ status: 'failed', lastError: { code: 'WHATSAPP_UNREACHABLE' } });
    expect(failed.lastError?.message).toMatch(/ERR_NAME_NOT_RESOLVED|not reachable/);
    expect(await findProcesses(t.config.sessionsPath)).toEqual([]);
  });

  it('fails with BROWSER_NOT_FOUND at once for a wrong CHROME_EXECUTABLE_PATH, starting nothing', async () => {
    t = await startTestApp({ env: { ...FAST, CHROME_EXECUTABLE_PATH: '/nonexistent/chromium' } });
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'nobrowser', engine: 'webjs' } });
    const session = await t.app.gateway.sessions.waitForStatus('nobrowser', ['failed'], 5_000);
    expect(session.lastError).toMatchObject({ code: 'BROWSER_NOT_FOUND', message: expect.stringContaining('/nonexistent/chromium') as unknown });
    expect(await findProcesses(t.config.sessionsPath)).toEqual([]);
  });

  it('deletes 5 running sessions concurrently, leaving zero processes and no auth data', async () => {
    const base = await testConfig();
    const app = await startTestApp({ sessionsPath: base.sessionsPath }, { engineDrivers: [await stalledDriver(base.sessionsPath)] });
    t = app;
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
    await Promise.all(ids.map((id) => app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id, engine: 'webjs' } })));
    expect([...(await browsersOf(app, ids)).keys()].sort()).toEqual(ids);
    // Each session's Chromium shows in the metrics, as processes and PSS.
    const metrics = (await app.app.inject({ url: '/metrics', headers: AUTH })).body;
    for (const id of ids) {
      expect(Number(new RegExp(`^wagw_engine_processes\\{session="${id}",engine="webjs"\\} (\\d+)$`, 'm').exec(metrics)?.[1]), id).toBeGreaterThan(1);
      expect(Number(new RegExp(`^wagw_engine_pss_bytes\\{session="${id}",engine="webjs"\\} (\\d+)$`, 'm').exec(metrics)?.[1]), id).toBeGreaterThan(10 * 1024 * 1024);
    }
    const deleted = await Promise.all(ids.map((id) => app.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${id}`, headers: AUTH })));
    expect(deleted.map((r) => r.statusCode)).toEqual([204, 204, 204, 204, 204]);
    expect(await findProcesses(app.config.sessionsPath)).toEqual([]);
    for (const id of ids) await expect(access(profileDirOf(app.config.wwebjs.authPath, id))).rejects.toThrow();
  });

  it('restarts a session whose Chromium was killed, stops keeping auth data, and logs out removing it', async () => {
    const base = await testConfig();
    t = await startTestApp({ sessionsPath: base.sessionsPath, env: FAST }, { engineDrivers: [await stalledDriver(base.sessionsPath)] });
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'crashy', engine: 'webjs' } });
    const profile = profileDirOf(t.config.wwebjs.authPath, 'crashy');
    const [first] = await findProcesses(profile);
    if (!first) throw new Error('no browser for the session');
    const events: string[] = [];
    t.app.gateway.bus.subscribe((e) => {
      if (e.sessionId === 'crashy' && e.event === 'disconnected') events.push(String(e.data.reason));
    });
    killProcessGroup(first.pgid);
    await t.app.gateway.sessions.waitForStatus('crashy', ['disconnected'], 5_000);
    expect(events).toEqual(['BROWSER_CRASH']);
    await t.app.gateway.sessions.waitForStatus('crashy', ['starting'], 5_000);
    // start() on a running session is a no-op that waits for the session's lock: the relaunch is done.
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/crashy/start', headers: AUTH });
    const relaunched = await findProcesses(profile);
    expect(relaunched.length).toBeGreaterThan(0);
    expect(relaunched.some((p) => p.pgid === first.pgid)).toBe(false);

    await writeFile(join(profile, 'marker'), 'auth data');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/sessions/crashy/stop', headers: AUTH })).json()).toMatchObject({ status: 'stopped' });
    expect(await findProcesses(profile)).toEqual([]);
    await expect(access(join(profile, 'marker'))).resolves.toBeUndefined();
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/crashy/start', headers: AUTH });
    expect((await findProcesses(profile)).length).toBeGreaterThan(0);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/sessions/crashy/logout', headers: AUTH })).json()).toMatchObject({ status: 'stopped' });
    expect(await findProcesses(profile)).toEqual([]);
    await expect(access(profile)).rejects.toThrow();
  });

  it('restores a session with its auth data after a restart, and shutdown leaves no Chromium', async () => {
    const base = await testConfig();
    const driver = await stalledDriver(base.sessionsPath);
    const first = await startTestApp({ sessionsPath: base.sessionsPath }, { engineDrivers: [driver] });
    await first.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'kept', engine: 'webjs' } });
    const profile = profileDirOf(first.config.wwebjs.authPath, 'kept');
    await mkdir(profile, { recursive: true });
    await writeFile(join(profile, 'marker'), 'auth data');
    await first.app.close();
    expect(await findProcesses(base.sessionsPath)).toEqual([]);

    t = await startTestApp({ sessionsPath: base.sessionsPath }, { engineDrivers: [driver] });
    expect(t.app.gateway.sessions.get('kept').status).toBe('starting');
    expect((await findProcesses(profile)).length).toBeGreaterThan(0);
    await expect(access(join(profile, 'marker'))).resolves.toBeUndefined();
  });
});

import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { EngineEvent } from '../../src/engines/engine.js';
import { profileDirOf } from '../../src/engines/webjs/browser-profile.js';
import { findProcesses, killProcessGroup } from '../../src/engines/webjs/process-tree.js';
import { WebjsEngine, realWebjsSeams, type WebjsSeams } from '../../src/engines/webjs/webjs-engine.js';
import { webjsOptionsFrom, type WebjsEngineOptions } from '../../src/engines/webjs/webjs-options.js';
import { FakeWebjsClient } from '../helpers/fake-webjs-client.js';
import { ScriptedWhatsApp } from '../helpers/scripted-whatsapp.js';

/**
 * The webjs engine's launch and teardown against the real Debian Chromium. WhatsApp Web is not
 * reachable here, so a client that never finishes loading stands in where a browser must stay up.
 */

const silent = pino({ level: 'silent' });

/** A whatsapp-web.js stand-in whose initialize() never settles (a page that keeps loading) and whose destroy() may hang. */
class StalledClient extends FakeWebjsClient {
  constructor(private readonly destroyHangs: boolean) {
    super();
  }
  override initialize(): Promise<void> {
    return new Promise<void>(() => undefined);
  }
  override destroy(): Promise<void> {
    return this.destroyHangs ? new Promise<void>(() => undefined) : Promise.resolve();
  }
}

function stalledClientSeams(options: { destroyHangs?: boolean } = {}): WebjsSeams {
  return { launchBrowser: realWebjsSeams.launchBrowser, createClient: () => new StalledClient(options.destroyHangs ?? false) };
}

function nextEvent(engine: WebjsEngine, type: EngineEvent['type']): Promise<EngineEvent> {
  return new Promise((resolve) => {
    const off = engine.onEvent((event) => {
      if (event.type === type) {
        off();
        resolve(event);
      }
    });
  });
}

describe('webjs engine on the real Chromium', () => {
  let authPath: string;
  let options: WebjsEngineOptions;

  beforeEach(async () => {
    authPath = await mkdtemp(join(tmpdir(), 'wagw-webjs-'));
    options = { ...webjsOptionsFrom(loadConfig({ API_KEY: 'k', SESSIONS_PATH: authPath })), authPath, destroyTimeoutMs: 1_000 };
  });
  afterEach(async () => {
    for (const p of await findProcesses(authPath)) killProcessGroup(p.pgid);
    await rm(authPath, { recursive: true, force: true });
  });

  const engineFor = (sessionId: string, seams: WebjsSeams, overrides: Partial<WebjsEngineOptions> = {}): WebjsEngine =>
    new WebjsEngine({ sessionId, logger: silent, auth: { load: async () => null, save: async () => undefined, clear: async () => undefined } }, { ...options, ...overrides }, seams);

  it('reports WHATSAPP_UNREACHABLE when WhatsApp Web cannot be loaded, and leaves no Chromium behind', async () => {
    const engine = engineFor('unreachable', realWebjsSeams);
    const failure = nextEvent(engine, 'engine_failure');
    await engine.start();
    expect(engine.browserPid).not.toBeNull();
    expect(await failure).toMatchObject({ type: 'engine_failure', code: 'WHATSAPP_UNREACHABLE', reconnectable: true });
    await engine.stop();
    expect(await findProcesses(profileDirOf(authPath, 'unreachable'))).toEqual([]);
  });

  it('refuses a missing executable with BROWSER_NOT_FOUND, not reconnectable, starting nothing', async () => {
    const engine = engineFor('nobrowser', realWebjsSeams, { executablePath: join(authPath, 'no-such-chromium') });
    await expect(engine.start()).rejects.toMatchObject({ code: 'BROWSER_NOT_FOUND', reconnectable: false });
    expect(await findProcesses(authPath)).toEqual([]);
  });

  it('notices a Chromium killed with SIGKILL (reconnectable BROWSER_CRASH), and the lock it leaves does not block the next start', async () => {
    const engine = engineFor('crash', stalledClientSeams());
    await engine.start();
    const pid = engine.browserPid;
    if (pid === null) throw new Error('no browser pid');
    const profile = profileDirOf(authPath, 'crash');
    expect((await findProcesses(profile)).length).toBeGreaterThan(0);
    const disconnected = nextEvent(engine, 'disconnected');
    killProcessGroup(pid);
    expect(await disconnected).toEqual({ type: 'disconnected', reason: 'BROWSER_CRASH' });
    await engine.stop();
    expect((await lstat(join(profile, 'SingletonLock'))).isSymbolicLink()).toBe(true);

    const next = engineFor('crash', stalledClientSeams());
    await next.start();
    expect(next.browserPid).not.toBeNull();
    expect((await findProcesses(profile)).some((p) => p.pid === next.browserPid)).toBe(true);
    await next.stop();
    expect(await findProcesses(profile)).toEqual([]);
  });

  it('stops a Chromium a killed gateway left on the profile before launching, so two browsers never share it', async () => {
    // The first engine is abandoned running, as when its gateway process died: its browser lives on.
    const orphaned = engineFor('orphan', stalledClientSeams());
    await orphaned.start();
    const orphanPid = orphaned.browserPid;
    if (orphanPid === null) throw new Error('no browser pid');
    const profile = profileDirOf(authPath, 'orphan');

    const next = engineFor('orphan', stalledClientSeams());
    await next.start();
    const pid = next.browserPid;
    expect(pid).not.toBeNull();
    expect(pid).not.toBe(orphanPid);
    const running = await findProcesses(profile);
    expect(running.some((p) => p.pid === orphanPid)).toBe(false);
    expect(new Set(running.map((p) => p.pgid))).toEqual(new Set([pid]));
    await next.stop();
    await orphaned.stop();
    expect(await findProcesses(profile)).toEqual([]);
  });

  it('kills the process group when client.destroy() hangs', async () => {
    const engine = engineFor('hang', stalledClientSeams({ destroyHangs: true }));
    await engine.start();
    expect((await findProcesses(profileDirOf(authPath, 'hang'))).length).toBeGreaterThan(1);
    await engine.stop();
    expect(await findProcesses(profileDirOf(authPath, 'hang'))).toEqual([]);
  });

  it('stop() while Chromium is still launching waits for the launch and leaves nothing running', async () => {
    // Broke: stop() during the launch resolved at once and the browser launched afterwards ran forever.
    const engine = engineFor('early', stalledClientSeams());
    const starting = engine.start();
    await engine.stop();
    await starting;
    await engine.stop();
    expect(await findProcesses(profileDirOf(authPath, 'early'))).toEqual([]);
  });

  it('logout() of a ready engine does not report the browser closing as a crash', async () => {
    // Broke: whatsapp-web.js closes the browser inside logout(), and the engine emitted BROWSER_CRASH.
    const world = new ScriptedWhatsApp();
    const seams: WebjsSeams = {
      launchBrowser: realWebjsSeams.launchBrowser,
      createClient: (o) => {
        const client = world.createClient(o);
        const logout = client.logout.bind(client);
        // whatsapp-web.js waits up to a second for the browser to disconnect before it returns.
        client.logout = async () => {
          await logout();
          await new Promise((resolve) => setTimeout(resolve, 50));
        };
        return client;
      },
    };
    const engine = engineFor('out', seams);
    const events: EngineEvent[] = [];
    const qr = nextEvent(engine, 'qr');
    await engine.start();
    await qr;
    const ready = nextEvent(engine, 'ready');
    await world.scan('out');
    await ready;
    engine.onEvent((event) => events.push(event));
    await engine.logout();
    expect(events).toEqual([]);
    expect(await findProcesses(profileDirOf(authPath, 'out'))).toEqual([]);
  });

  it('starts and stops 5 sessions concurrently, leaving zero processes', async () => {
    const engines = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => engineFor(id, stalledClientSeams()));
    await Promise.all(engines.map((e) => e.start()));
    const running = await findProcesses(authPath);
    expect(new Set(running.map((p) => p.pgid)).size).toBe(5);
    await Promise.all(engines.map((e) => e.stop()));
    expect(await findProcesses(authPath)).toEqual([]);
  });
});

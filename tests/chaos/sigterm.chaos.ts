import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHROME_ARGS, loadConfig } from '../../src/config.js';
import { profileDirOf } from '../../src/engines/webjs/browser-profile.js';
import { findBrowserProcesses } from '../../src/engines/webjs/process-tree.js';
import { SendLoad } from './helpers/load.js';
import { Poller } from './helpers/poller.js';
import { ChaosRig, ENTRY, until } from './helpers/rig.js';
import { engineSends, figuresLine, tallySends } from './helpers/tally.js';

/**
 * SIGTERM to the real entry point (src/server.ts) while three simulator sessions take sends and a
 * webjs session has its Chromium up. The contract ("Health and metrics"): readiness 503 at once,
 * new work refused with 503 SHUTTING_DOWN while the port stays open, in-flight requests and jobs
 * finish, engines close, no Chromium left, exit 0 within SHUTDOWN_TIMEOUT. After a restart every
 * accepted send is sent, none twice.
 */

const SESSIONS = ['t1', 't2', 't3'];
const WEBJS = 'chrome';
/** The engine call takes this long, so that sends are in flight when the signal comes. */
const SEND_LATENCY_MS = 100;
const SHUTDOWN_TIMEOUT_MS = loadConfig({ API_KEY: 'k' }).shutdownTimeoutMs;

describe('chaos: SIGTERM under send load', () => {
  let rig: ChaosRig | undefined;
  afterAll(async () => {
    await rig?.cleanup();
  });

  it('drains: readiness 503 first, only 202/503 answers, exit 0, no Chromium left, every accepted send sent once after the restart', async () => {
    rig = await ChaosRig.create('sigterm');
    const redis = await rig.startRedis();
    // WhatsApp Web is unreachable from here: through a proxy that never answers, the webjs
    // session's page load hangs, so its Chromium is still up when the signal comes.
    const proxyPort = await rig.blackhole();
    const env = { ...rig.baseEnv(redis.url, 'sigterm'), CHROME_ARGS: `${DEFAULT_CHROME_ARGS} --proxy-server=http://127.0.0.1:${proxyPort}` };
    const profile = profileDirOf(join(rig.sessionsPath, 'auth'), WEBJS);
    const chromiumUp = async (): Promise<void> => {
      await until(async () => ((await findBrowserProcesses(profile)).length > 0 ? true : undefined), 30_000, "the webjs session's Chromium");
    };

    const first = await rig.startGateway(ENTRY.server, env);
    for (const id of SESSIONS) await first.client.readySimulatorSession(id, { sendLatencyMs: SEND_LATENCY_MS });
    await first.client.expect('POST', '/api/v1/sessions', 201, { id: WEBJS, engine: 'webjs' });
    await chromiumUp();
    expect(await first.client.sessionStatus(WEBJS)).toBe('starting');

    const load = new SendLoad(SESSIONS);
    // A client stops at its first answer other than 202, as a client told to go elsewhere would.
    load.start({ client: first.client, clientsPerSession: 2, stopAfter: (a) => a.answer.status !== 202 });
    const sendsFile = rig.sendsFile;
    await until(async () => (load.accepted.size >= 90 && (await engineSends(sendsFile)).size >= 30 ? true : undefined), 30_000, 'sends under way');

    // Every 5 ms: the drain keeps the server listening only while the sends in the engine finish
    // (up to SEND_LATENCY_MS); a probe a little late once missed the whole window (CI, session 11).
    const readiness = new Poller(first.client, '/health/ready', 5);
    const signalAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    await load.stop();
    await readiness.stop();
    const chromiumAfterExit = await rig.chromiumProcesses();
    // The probe in flight at the signal counts: answered after it, it shows what readiness said then.
    const afterSignal = readiness.answeredSince(signalAt);
    const shutdownMs = exit.at - signalAt;
    const context = `answers ${JSON.stringify(load.outcomes())}; readiness after the signal ${Poller.runs(afterSignal)}; exit ${JSON.stringify(exit)} after ${shutdownMs} ms; output: ${first.output()}`;

    const second = await rig.startGateway(ENTRY.server, env);
    const figures = await tallySends(second.client, load, rig.sendsFile, 30_000);
    // The restored webjs session launches Chromium again: a second, idle SIGTERM must stop it too.
    await chromiumUp();
    const secondSignalAt = Date.now();
    second.child.kill('SIGTERM');
    const secondExit = await second.exited;
    const chromiumAfterSecondExit = await rig.chromiumProcesses();

    const refusals = load.attempts.filter((a) => a.answer.status !== 202);
    console.log(
      figuresLine('sigterm', figures, null, {
        answers: load.outcomes(),
        'readiness after SIGTERM': Poller.runs(afterSignal),
        'exit code': exit.code,
        'shutdown ms': shutdownMs,
        'Chromium left': chromiumAfterExit.length,
        'idle restart: exit code': secondExit.code,
        'idle shutdown ms': secondExit.at - secondSignalAt,
        'Chromium left after it': chromiumAfterSecondExit.length,
      }),
    );

    // Draining, as the contract says.
    expect(afterSignal.find((p) => p.answer.status !== 200)?.answer.status, context).toBe(503);
    expect(refusals.length, context).toBe(SESSIONS.length * 2);
    for (const refusal of refusals) {
      expect(refusal.answer.status, context).toBe(503);
      expect(refusal.answer.json, context).toMatchObject({ code: 'SHUTTING_DOWN' });
    }
    expect(exit.code, context).toBe(0);
    expect(shutdownMs, context).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(chromiumAfterExit, context).toEqual([]);
    expect(secondExit.code, second.output()).toBe(0);
    expect(chromiumAfterSecondExit).toEqual([]);
    // Nothing accepted is lost or sent twice; a graceful stop interrupts no engine call.
    expect(figures.problems, context).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicated).toBe(0);
    expect(figures.failed).toBe(0);
    expect(figures.sent).toBe(figures.accepted);
  }, 120_000);
});

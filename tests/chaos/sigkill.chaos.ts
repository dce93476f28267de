import { afterAll, describe, expect, it } from 'vitest';
import { SendLoad } from './helpers/load.js';
import { ChaosRig, ENTRY, until } from './helpers/rig.js';
import { engineSends, figuresLine, tallySends } from './helpers/tally.js';

/**
 * `kill -9` of the gateway while clients send, then a restart on the same Redis and sessions dir
 * while the clients go on. Zero accepted sends lost, zero sent twice: a send whose engine call the
 * kill cut short ends `failed` SEND_INTERRUPTED (WhatsApp may or may not have it), never re-sent.
 * The gateway runs with 1 s BullMQ locks (short-lock-gateway.ts): with the default 30 s a restart
 * waits that long for the killed process's jobs.
 */

const SESSIONS = ['k1', 'k2', 'k3'];
/** Sends are in the engine call this long, so the kill cuts some of them short. */
const SEND_LATENCY_MS = 150;

describe('chaos: kill -9 mid-load', () => {
  let rig: ChaosRig | undefined;
  afterAll(async () => {
    await rig?.cleanup();
  });

  it('loses no accepted send and sends none twice across a SIGKILL and a restart', async () => {
    rig = await ChaosRig.create('sigkill');
    const redis = await rig.startRedis();
    const env = rig.baseEnv(redis.url, 'sigkill');
    const sendsFile = rig.sendsFile;

    const first = await rig.startGateway(ENTRY.shortLocks, env);
    for (const id of SESSIONS) await first.client.readySimulatorSession(id, { sendLatencyMs: SEND_LATENCY_MS });
    const load = new SendLoad(SESSIONS);
    load.start({ client: first.client, clientsPerSession: 3, stopAfter: (a) => a.answer.status === null });
    await until(async () => (load.accepted.size >= 120 && (await engineSends(sendsFile)).size >= 30 ? true : undefined), 30_000, 'sends under way');
    const acceptedBeforeKill = load.accepted.size;
    first.child.kill('SIGKILL');
    await first.exited;
    // Clients whose request the kill cut off get a transport error and stop; the rest stop here.
    await load.stop();
    const sentBeforeKill = [...(await engineSends(sendsFile)).values()].flat().length;

    const second = await rig.startGateway(ENTRY.shortLocks, env);
    // The restarted simulator sessions come back ready with no send latency: load them again while they recover.
    load.start({ client: second.client, clientsPerSession: 2, stopAfter: (a) => a.answer.status !== 202 });
    await until(async () => (load.accepted.size >= acceptedBeforeKill + 60 ? true : undefined), 30_000, 'sends accepted after the restart');
    await load.stop();
    const figures = await tallySends(second.client, load, sendsFile, 30_000);

    console.log(
      figuresLine('kill -9', figures, null, {
        'accepted before the kill': acceptedBeforeKill,
        'engine sends before the kill': sentBeforeKill,
        answers: load.outcomes(),
      }),
    );
    const context = `${JSON.stringify(figures)}; output: ${second.output()}`;
    expect(figures.problems, context).toEqual([]);
    expect(figures.lost, context).toBe(0);
    expect(figures.duplicated, context).toBe(0);
    // Only the kill's own casualties fail, and only as SEND_INTERRUPTED.
    expect(Object.keys(figures.failedCodes).filter((code) => code !== 'SEND_INTERRUPTED'), context).toEqual([]);
    expect(figures.failed, context).toBeLessThanOrEqual(SESSIONS.length);
    expect(figures.sent + figures.failed).toBe(figures.accepted);
  }, 120_000);
});

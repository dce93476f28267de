import { afterAll, describe, expect, it } from 'vitest';
import { SendLoad } from './helpers/load.js';
import { Poller } from './helpers/poller.js';
import { ChaosRig, ENTRY, pause, until } from './helpers/rig.js';
import { figuresLine, tallySends } from './helpers/tally.js';

/**
 * Redis killed for 10 s while clients send, then started again on the same port and data dir
 * (`appendonly yes`). The same gateway process (src/server.ts) must answer 503 STORE_UNAVAILABLE
 * quickly during the outage (those sends are not accepted), take sends again by itself once Redis
 * is back, and lose no accepted send nor send one twice.
 */

const SESSIONS = ['r1', 'r2', 'r3'];
const OUTAGE_MS = 10_000;
/** A refusal during the outage must come at once, not after a client-side timeout. */
const FAST_REFUSAL_MS = 2_000;

describe('chaos: Redis down for 10 s mid-load', () => {
  let rig: ChaosRig | undefined;
  afterAll(async () => {
    await rig?.cleanup();
  });

  it('refuses with fast 503 STORE_UNAVAILABLE meanwhile, recovers without a restart, loses and duplicates nothing', async () => {
    rig = await ChaosRig.create('redis');
    const redis = await rig.startRedis();
    const gateway = await rig.startGateway(ENTRY.server, rig.baseEnv(redis.url, 'outage'));
    for (const id of SESSIONS) await gateway.client.readySimulatorSession(id, { sendLatencyMs: 20 });

    const load = new SendLoad(SESSIONS);
    load.start({ client: gateway.client, clientsPerSession: 2, stopAfter: () => false, pauseAfterRefusalMs: 50 });
    await until(async () => (load.accepted.size >= 60 ? true : undefined), 30_000, 'sends accepted before the outage');

    const readiness = new Poller(gateway.client, '/health/ready', 100);
    const downAt = Date.now();
    await redis.stop();
    const acceptedBeforeOutage = load.accepted.size;
    // The outage itself is the scenario's fixed length; refusals must show up well within it.
    await until(async () => (load.attempts.some((a) => a.at >= downAt && a.answer.status === 503) ? true : undefined), OUTAGE_MS, 'a 503 during the outage');
    await pause(downAt + OUTAGE_MS - Date.now());
    const upAt = Date.now();
    await rig.startRedis(redis.port);
    const firstAcceptedAfter = await until(async () => load.attempts.find((a) => a.at >= upAt && a.answer.status === 202), 30_000, 'a send accepted after Redis came back');
    await until(async () => (load.accepted.size >= acceptedBeforeOutage + 90 ? true : undefined), 30_000, 'sends accepted after the outage');
    await load.stop();
    await readiness.stop();
    const figures = await tallySends(gateway.client, load, rig.sendsFile, 30_000);

    const during = load.attempts.filter((a) => a.at >= downAt && a.at < upAt);
    const refusals = load.attempts.filter((a) => a.answer.status !== 202);
    const slowestRefusalMs = Math.max(0, ...refusals.map((a) => a.answer.ms));
    const acceptedDuring = during.filter((a) => a.answer.status === 202).length;
    console.log(
      figuresLine('redis outage', figures, null, {
        'outage ms': upAt - downAt,
        answers: load.outcomes(),
        'accepted during the outage': acceptedDuring,
        'slowest refusal ms': Math.round(slowestRefusalMs),
        'first 202 after Redis is back, ms': Math.round(firstAcceptedAfter.at + firstAcceptedAfter.answer.ms - upAt),
        readiness: Poller.runs(readiness.probes),
        'gateway restarted': !gateway.alive(),
      }),
    );

    const context = `${JSON.stringify(figures)}; answers ${JSON.stringify(load.outcomes())}; output: ${gateway.output()}`;
    expect(gateway.alive(), context).toBe(true);
    for (const refusal of refusals) {
      expect(refusal.answer.status, context).toBe(503);
      expect(refusal.answer.json, context).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    }
    expect(refusals.length, context).toBeGreaterThan(0);
    expect(slowestRefusalMs, context).toBeLessThan(FAST_REFUSAL_MS);
    expect(readiness.probes.some((p) => p.at >= downAt && p.at < upAt && p.answer.status === 503), Poller.runs(readiness.probes)).toBe(true);
    expect(readiness.probes.at(-1)?.answer.status, Poller.runs(readiness.probes)).toBe(200);
    expect(figures.problems, context).toEqual([]);
    expect(figures.lost, context).toBe(0);
    expect(figures.duplicated, context).toBe(0);
    expect(figures.sent + figures.failed).toBe(figures.accepted);
  }, 120_000);
});

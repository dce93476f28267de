import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { WebhookReceiver, ok, type ReceivedRequest } from '../helpers/webhook-receiver.js';
import { SECRET_A, quickSchedule } from '../helpers/webhooks.js';
import { SendLoad } from './helpers/load.js';
import { ChaosRig, ENTRY, pause, until } from './helpers/rig.js';
import { figuresLine, tallySends } from './helpers/tally.js';

/**
 * A webhook receiver (node:http on 127.0.0.1) that flaps while two sessions send and receive:
 * three rounds of up → down (port closed, connections cut) → up answering 500 → up. Every event
 * of the sessions' event logs must reach it (2xx), signed (verified with the `standardwebhooks`
 * package), and in `seq` order per session (first 2xx of each event; at-least-once allows repeats).
 */

const SESSIONS = ['w1', 'w2'];
const ROUNDS = 3;
const UP_MS = 1_500;
const DOWN_MS = 1_000;
const ERROR_MS = 1_000;
const CONTACT = '5511977776666';
/** Bounds the events: each send makes about 7 (message.status ×4, message_ack ×3), each inbound 2. */
const MAX_SENDS_PER_SESSION = 60;

function signatureHeaders(request: ReceivedRequest): Record<string, string> {
  const header = (name: string): string => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : '';
  };
  return { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') };
}

describe('chaos: a flapping webhook receiver', () => {
  let rig: ChaosRig | undefined;
  let receiver: WebhookReceiver | undefined;
  afterAll(async () => {
    await receiver?.stop();
    await rig?.cleanup();
  });

  it('gets every event, signed, in seq order per session, once it stays up', async () => {
    rig = await ChaosRig.create('webhooks');
    const redis = await rig.startRedis();
    receiver = await WebhookReceiver.start();
    const hooks = receiver;
    const gateway = await rig.startGateway(ENTRY.server, {
      ...rig.baseEnv(redis.url, 'flap'),
      APP_WEBHOOK_URL: hooks.url('/hook'),
      APP_WEBHOOK_EVENTS: '*',
      WEBHOOK_SECRET: SECRET_A,
      // Retries every ~100 ms for ~30 s: longer than any down window, so nothing is dead-lettered.
      WEBHOOK_RETRY_SCHEDULE: quickSchedule(300, '100ms'),
      WEBHOOK_TIMEOUT: '5s',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    });
    for (const id of SESSIONS) await gateway.client.readySimulatorSession(id, { sendLatencyMs: 20 });

    // Events: sends (message.status, message_ack ×3 with the simulator's auto acks) and inbound messages.
    const load = new SendLoad(SESSIONS, undefined, MAX_SENDS_PER_SESSION);
    load.start({ client: gateway.client, clientsPerSession: 1, stopAfter: (a) => a.answer.status !== 202, pauseMs: 100 });
    let inbound = 0;
    const flapping = new AbortController();
    const inboundLoop = (async () => {
      while (!flapping.signal.aborted) {
        for (const id of SESSIONS) {
          await gateway.client.expect('POST', `/api/v1/sessions/${id}/simulator/inbound`, 201, { from: CONTACT, type: 'text', text: `in-${id}-${inbound}` });
        }
        inbound++;
        await pause(250);
      }
    })();

    const flapStartedAt = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      await pause(UP_MS);
      await hooks.stop();
      await pause(DOWN_MS);
      hooks.respond = () => ({ status: 500 });
      await hooks.start();
      await pause(ERROR_MS);
      hooks.respond = ok;
    }
    flapping.abort();
    await inboundLoop;
    await load.stop();
    const loadEndedAt = Date.now();
    const deliveredAtLastFlap = hooks.deliveredTo('/hook').length;

    // Every event the logs hold, delivered (2xx) at least once.
    const logs = new Map<string, EventEnvelope[]>();
    for (const id of SESSIONS) logs.set(id, await gateway.client.events(id));
    const logged = [...logs.values()].flat();
    const deliveredIds = (): Set<string> => new Set(hooks.deliveredTo('/hook').map((e) => e.id));
    const allDelivered = (): boolean => {
      const ids = deliveredIds();
      return logged.every((e) => ids.has(e.id));
    };
    await until(async () => (allDelivered() ? true : undefined), 60_000, `delivery of all ${logged.length} logged events`).catch((error: unknown) => {
      const ids = deliveredIds();
      const missing = logged.filter((e) => !ids.has(e.id));
      throw new Error(`${String(error)}; ${missing.length} missing, first ${JSON.stringify(missing.slice(0, 3).map((e) => [e.sessionId, e.seq, e.event]))}`);
    });
    const drainedMs = Date.now() - loadEndedAt;

    // First 2xx of each event, in arrival order, per session.
    const firstDelivered = new Map<string, number[]>();
    const seen = new Set<string>();
    let redelivered = 0;
    for (const envelope of hooks.deliveredTo('/hook')) {
      if (seen.has(envelope.id)) {
        redelivered++;
        continue;
      }
      seen.add(envelope.id);
      firstDelivered.set(envelope.sessionId, [...(firstDelivered.get(envelope.sessionId) ?? []), envelope.seq]);
    }
    let outOfOrder = 0;
    for (const seqs of firstDelivered.values()) for (let i = 1; i < seqs.length; i++) if ((seqs[i] ?? 0) <= (seqs[i - 1] ?? 0)) outOfOrder++;
    const gaps = SESSIONS.map((id) => {
      const seqs = firstDelivered.get(id) ?? [];
      return seqs.filter((seq, i) => i > 0 && seq !== (seqs[i - 1] ?? 0) + 1).length;
    }).reduce((a, b) => a + b, 0);

    const verifier = new Webhook(SECRET_A);
    const requests = hooks.to('/hook');
    let badSignatures = 0;
    for (const request of requests) {
      try {
        verifier.verify(request.body, signatureHeaders(request));
      } catch {
        badSignatures++;
      }
    }
    const dead = (await gateway.client.expect('GET', '/api/v1/webhooks/deliveries?status=dead&limit=100', 200)) as { data: unknown[] };
    const failedAttempts: Record<string, number> = {};
    for (const attempt of await gateway.client.deliveryAttempts()) {
      if (attempt.error) failedAttempts[attempt.error.code] = (failedAttempts[attempt.error.code] ?? 0) + 1;
    }
    const figures = await tallySends(gateway.client, load, rig.sendsFile, 30_000);
    const answered = requests.map((r) => r.status);

    console.log(
      figuresLine('webhook flap', figures, { delivered: seen.size, outOfOrder }, {
        'events logged': logged.length,
        'inbound messages': inbound * SESSIONS.length,
        'requests received': requests.length,
        'answered 500': answered.filter((s) => s === 500).length,
        'failed attempts': failedAttempts,
        redelivered,
        'seq gaps': gaps,
        'bad signatures': badSignatures,
        'dead-lettered': dead.data.length,
        'flapping ms': loadEndedAt - flapStartedAt,
        'backlog after the last flap': logged.length - deliveredAtLastFlap,
        'all delivered ms after the last flap': drainedMs,
      }),
    );

    expect(outOfOrder).toBe(0);
    expect(gaps).toBe(0);
    expect(badSignatures).toBe(0);
    expect(dead.data).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(logged.length);
    // Both kinds of fault were hit: refused connections (down) and 500s.
    expect(failedAttempts.CONNECTION_ERROR ?? 0, JSON.stringify(failedAttempts)).toBeGreaterThan(0);
    expect(failedAttempts.HTTP_ERROR ?? 0, JSON.stringify(failedAttempts)).toBeGreaterThan(0);
    expect(figures.problems).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicated).toBe(0);
  }, 120_000);
});

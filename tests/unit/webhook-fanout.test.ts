import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config.js';
import type { EnvelopeListener, EnvelopeSource, EventEnvelope } from '../../src/events/event-envelope.js';
import { MemorySendQueue } from '../../src/queue/memory-send-queue.js';
import type { DeliveryStore } from '../../src/storage/delivery-store.js';
import { MemoryDeliveryStore } from '../../src/storage/memory/memory-delivery-store.js';
import type { SessionWebhook } from '../../src/sessions/session.js';
import { eventDeliveryId, newDelivery } from '../../src/webhooks/delivery.js';
import { scheduledDelay } from '../../src/webhooks/delivery-processor.js';
import { DirectFirstLanes } from '../../src/webhooks/direct-first-lanes.js';
import { aborted, deferred } from '../contract/send-queue.contract.js';
import { CURSOR_WRITE_INTERVAL_MS, MAX_DELIVERIES_PER_JOB, WebhookFanout } from '../../src/webhooks/webhook-fanout.js';
import { WebhookTargets, laneKeyOf, sessionTargetId, type SessionWebhookAccess } from '../../src/webhooks/webhook-targets.js';
import { LogCapture } from '../helpers/log-capture.js';

/** An in-test event log: what the recorder would hand over, and what it would read back. */
class FakeEventLog implements EnvelopeSource {
  readonly entries = new Map<string, EventEnvelope[]>();
  private readonly listeners = new Set<EnvelopeListener>();

  /** Appends the next envelope of the session; `notify` false: logged but never handed over (a crash in between). */
  append(sessionId: string, event = 'message', notify = true): EventEnvelope {
    const list = this.entries.get(sessionId) ?? [];
    this.entries.set(sessionId, list);
    const seq = list.length + 1;
    const occurredAt = new Date();
    const envelope: EventEnvelope = {
      id: `evt_${sessionId.padEnd(8, '0').slice(0, 8)}${seq.toString(16).padStart(16, '0')}`,
      seq,
      sessionId,
      event,
      timestamp: Math.floor(occurredAt.getTime() / 1000),
      occurredAt: occurredAt.toISOString(),
      data: { n: seq },
    };
    list.push(envelope);
    if (notify) for (const listener of this.listeners) listener(envelope);
    return envelope;
  }

  /** Hands an envelope over again (as a catch-up overlapping the live feed would meet it). */
  renotify(envelope: EventEnvelope): void {
    for (const listener of this.listeners) listener(envelope);
  }

  onEnvelope(listener: EnvelopeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async read(sessionId: string, afterSeq: number, limit: number): Promise<EventEnvelope[]> {
    return (this.entries.get(sessionId) ?? []).filter((e) => e.seq > afterSeq).slice(0, limit);
  }
}

const webhookConfig = (overrides: Partial<Config['webhook']> = {}): Config['webhook'] => ({
  appUrl: 'https://monolith.example.com/hook',
  appEvents: ['*'],
  secret: undefined,
  timeoutMs: 1_000,
  retryScheduleMs: [0],
  apiKey: undefined,
  apiKeyHeader: 'x-28web-gateway-key',
  allowedHosts: [],
  ...overrides,
});

function sessionsWith(webhooks: Record<string, SessionWebhook[]>): SessionWebhookAccess {
  return {
    webhooksOf: (id) => webhooks[id] ?? null,
    disableWebhook: async () => false,
    list: () => Object.keys(webhooks).map((id) => ({ id })),
  };
}

/** A memory store whose first `failures` inserts throw (Redis away). */
class FlakyStore extends MemoryDeliveryStore {
  constructor(private failures: number) {
    super();
  }

  override async insert(...args: Parameters<MemoryDeliveryStore['insert']>): Promise<boolean> {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('store away');
    }
    return super.insert(...args);
  }
}

/** A memory store that records every cursor it is given. */
class CursorLog extends MemoryDeliveryStore {
  readonly writes: number[] = [];
  override async setCursor(sessionId: string, seq: number): Promise<void> {
    this.writes.push(seq);
    return super.setCursor(sessionId, seq);
  }
}

describe('webhook fan-out', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  function setup(options: { store?: DeliveryStore; webhooks?: Record<string, SessionWebhook[]>; config?: Partial<Config['webhook']> } = {}) {
    const log = new FakeEventLog();
    const store = options.store ?? new MemoryDeliveryStore();
    // Never started: jobs stay queued, so the test sees what was added, per lane.
    const queue = new MemorySendQueue();
    const logs = new LogCapture('warn');
    const targets = new WebhookTargets(webhookConfig(options.config), sessionsWith(options.webhooks ?? { s: [] }));
    // Lanes not started (unless a test starts them): every offer goes to the queue.
    const lanes = new DirectFirstLanes(queue);
    const fanout = new WebhookFanout({ source: log, store, lanes, targets, firstDelayMs: 0, logger: logs.logger });
    closers.push(() => lanes.close(), () => fanout.close());
    const seqsQueued = async (sessionId: string): Promise<number[]> => (await store.list({ sessionId, limit: 200 })).data.map((d) => d.seq).sort((a, b) => a - b);
    return { log, store, queue, lanes, fanout, logs, seqsQueued };
  }

  it('catches up at start from the stored cursor (what was logged but never handed over), then goes live, each envelope once', async () => {
    const { log, store, queue, fanout, seqsQueued } = setup();
    for (let i = 0; i < 2; i++) log.append('s', 'message', false);
    await store.setCursor('s', 2);
    for (let i = 0; i < 3; i++) log.append('s', 'message', false);
    fanout.start(['s']);
    const live = log.append('s');
    await fanout.idle();
    expect(await seqsQueued('s')).toEqual([3, 4, 5, 6]);
    // The catch-up read the live envelope too: one job carries the four deliveries, in order.
    expect(await queue.counts(laneKeyOf('s', 'app'))).toEqual({ waiting: 1, active: 0 });
    expect(await store.getCursor('s')).toBe(6);
    // An envelope met again (catch-up and live overlapping) is not fanned out twice.
    log.renotify(live);
    await fanout.idle();
    expect(await seqsQueued('s')).toEqual([3, 4, 5, 6]);
  });

  it('writes the stored cursor once per burst of envelopes (and every 100 within one), not once per envelope', async () => {
    const store = new CursorLog();
    const { log, fanout, queue } = setup({ store });
    fanout.start(['s']);
    await fanout.idle();
    log.append('s');
    await fanout.idle();
    expect(store.writes).toEqual([1]);
    for (let i = 0; i < 250; i++) log.append('s');
    await fanout.idle();
    // A burst's deliveries share jobs (up to MAX_DELIVERIES_PER_JOB each), in seq order.
    const jobs: string[] = [];
    await queue.start(async (j) => {
      jobs.push(j.messageId);
      return { outcome: 'done' };
    });
    await vi.waitFor(() => expect(jobs.flatMap((j) => j.split(',')).length).toBe(251), { timeout: 5_000, interval: 10 });
    expect(jobs.length).toBeLessThan(30);
    expect(Math.max(...jobs.map((j) => j.split(',').length))).toBe(MAX_DELIVERIES_PER_JOB);
    const order = await Promise.all(jobs.flatMap((j) => j.split(',')).map(async (ref) => (await store.get(ref.split('.')[0] ?? ''))?.seq));
    expect(order).toEqual(Array.from({ length: 251 }, (_, i) => i + 1));
    // The burst's last write comes within CURSOR_WRITE_INTERVAL_MS of the one before: scheduled.
    await vi.waitFor(() => expect(store.writes).toEqual([1, 101, 201, 251]), { timeout: 5_000, interval: 10 });
    expect(await store.getCursor('s')).toBe(251);
    log.append('s');
    await fanout.idle();
    await vi.waitFor(() => expect(store.writes.at(-1)).toBe(252), { timeout: 5_000, interval: 10 });
  });

  it(`writes the cursor of envelopes arriving one by one at most every ${CURSOR_WRITE_INTERVAL_MS} ms, and on close`, async () => {
    const store = new CursorLog();
    const { log, fanout, seqsQueued } = setup({ store });
    fanout.start(['s']);
    await fanout.idle();
    const started = Date.now();
    log.append('s');
    await fanout.idle();
    expect(store.writes).toEqual([1]); // the first cursor at once
    for (let i = 0; i < 5; i++) {
      log.append('s');
      await fanout.idle();
    }
    // Each envelope is queued at once; only the cursor waits.
    expect(await seqsQueued('s')).toEqual([1, 2, 3, 4, 5, 6]);
    if (Date.now() - started < CURSOR_WRITE_INTERVAL_MS) expect(store.writes).toEqual([1]);
    await vi.waitFor(() => expect(store.writes).toEqual([1, 6]), { timeout: 5_000, interval: 10 });
    log.append('s');
    await fanout.idle();
    await fanout.close();
    expect(store.writes).toEqual([1, 6, 7]);
  });

  it('moves the cursor past envelopes no target takes on the same schedule, and still fans out the next one a target takes', async () => {
    const store = new CursorLog();
    const { log, fanout, seqsQueued } = setup({ store, config: { appEvents: ['message.status'] } });
    fanout.start(['s']);
    await fanout.idle();
    const started = Date.now();
    log.append('s');
    await fanout.idle();
    expect(store.writes).toEqual([1]);
    for (let i = 0; i < 4; i++) log.append('s');
    await fanout.idle();
    if (Date.now() - started < CURSOR_WRITE_INTERVAL_MS) expect(store.writes).toEqual([1]);
    await vi.waitFor(() => expect(store.writes).toEqual([1, 5]), { timeout: 5_000, interval: 10 });
    log.append('s', 'message.status');
    log.append('s');
    await fanout.idle();
    expect(await seqsQueued('s')).toEqual([6]);
    // Past the delivery offered (queued): the cursor reaches the last envelope, on close at the latest.
    await fanout.close();
    expect(store.writes).toEqual([1, 5, 7]);
    expect(await store.getCursor('s')).toBe(7);
  });

  it('keeps the stored cursor before a delivery being made from memory (no queue job) until it is made', async () => {
    const store = new CursorLog();
    const { log, fanout, queue, lanes } = setup({ store });
    const release = deferred();
    const made: string[] = [];
    await lanes.start(async (j, signal) => {
      await Promise.race([release.promise, aborted(signal)]);
      made.push(j.messageId);
      return { outcome: 'done' };
    });
    fanout.start(['s']);
    await fanout.idle();
    log.append('s');
    await fanout.idle();
    // The first cursor is written at once, but not past the delivery in flight.
    expect(store.writes).toEqual([0]);
    log.append('s');
    log.append('s');
    await fanout.idle();
    expect(await store.getCursor('s')).toBe(0);
    release.resolve();
    await vi.waitFor(() => expect(store.writes.at(-1)).toBe(3), { timeout: 5_000, interval: 10 });
    expect(made.flatMap((m) => m.split(','))).toHaveLength(3);
    expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
  });

  it('does not send the history of a session it never fanned out; envelopes before start are left to the catch-up', async () => {
    const { log, fanout, seqsQueued } = setup();
    log.append('s');
    log.append('s');
    fanout.start(['s']);
    log.append('s');
    await fanout.idle();
    expect(await seqsQueued('s')).toEqual([3]);
  });

  it('queues an envelope fanned out before again only while its delivery is still to be made', async () => {
    const { log, store, queue, fanout } = setup();
    const lane = laneKeyOf('s', 'app');
    // As a crash leaves it: both envelopes fanned out (the first one delivered since), the cursor not moved.
    for (const envelope of [log.append('s', 'message', false), log.append('s', 'message', false)]) {
      const record = newDelivery({ id: eventDeliveryId(envelope.id, lane), eventId: envelope.id, event: 'message', seq: envelope.seq, sessionId: 's', target: { id: 'app', kind: 'app', url: 'x' }, origin: 'event', now: new Date(), firstDelayMs: 0 });
      await store.insert(envelope.seq === 1 ? { ...record, status: 'delivered' } : record, JSON.stringify(envelope));
    }
    await store.setCursor('s', 0);
    fanout.start(['s']);
    await fanout.idle();
    expect(await queue.counts(lane)).toEqual({ waiting: 1, active: 0 });
    expect((await store.list({ sessionId: 's' })).data).toHaveLength(2);
    expect(await store.getCursor('s')).toBe(2);
  });

  it('sends each envelope to the enabled targets whose filter takes it, one lane per session and target', async () => {
    const hook = (url: string, events: string[], disabled = false): SessionWebhook => ({ url, events, disabled });
    const { log, queue, fanout, store } = setup({
      config: { appEvents: ['message'] },
      webhooks: {
        s: [hook('https://a.example.com/x', ['*']), hook('https://b.example.com/x', ['message_ack']), hook('https://c.example.com/x', ['*'], true)],
        t: [],
      },
    });
    fanout.start(['s', 't']);
    log.append('s', 'message');
    log.append('s', 'message_ack');
    log.append('t', 'session.status');
    await fanout.idle();
    const a = laneKeyOf('s', sessionTargetId('https://a.example.com/x'));
    const b = laneKeyOf('s', sessionTargetId('https://b.example.com/x'));
    const c = laneKeyOf('s', sessionTargetId('https://c.example.com/x'));
    expect(await queue.counts(laneKeyOf('s', 'app'))).toEqual({ waiting: 1, active: 0 });
    expect(await queue.counts(a)).toEqual({ waiting: 2, active: 0 });
    expect(await queue.counts(b)).toEqual({ waiting: 1, active: 0 });
    expect(await queue.counts(c)).toEqual({ waiting: 0, active: 0 });
    expect((await store.list({ sessionId: 't' })).data).toEqual([]);
    expect(await store.getCursor('t')).toBe(1);
  });

  it.each([
    ['with a stored cursor', true],
    ['on its very first events (no cursor yet)', false],
  ])('catches a session up from the log after a fan-out that failed, in order, none lost (%s)', async (_, withCursor) => {
    const store = new FlakyStore(1);
    const { log, fanout, logs } = setup({ store });
    if (withCursor) await store.setCursor('s', 0);
    fanout.start(['s']);
    for (let i = 0; i < 4; i++) log.append('s');
    await logs.line('webhook fan-out failed');
    // Envelopes arriving while the session waits to catch up are left to the catch-up.
    log.append('s');
    const queued = await new Promise<number[]>((resolve, reject) => {
      const deadline = Date.now() + 5_000;
      const poll = (): void => {
        void store.list({ sessionId: 's' }).then((page) => {
          if (page.data.length === 5) resolve(page.data.map((d) => d.seq).sort((a, b) => a - b));
          else if (Date.now() > deadline) reject(new Error(`only ${page.data.length} queued`));
          else setTimeout(poll, 20);
        });
      };
      poll();
    });
    expect(queued).toEqual([1, 2, 3, 4, 5]);
    // Written at once, or within CURSOR_WRITE_INTERVAL_MS of the write before.
    await vi.waitFor(async () => expect(await store.getCursor('s')).toBe(5), { timeout: 5_000, interval: 10 });
  });
});

describe('scheduledDelay', () => {
  it('is the schedule entry plus up to 20% jitter; null past the last attempt', () => {
    const schedule = [0, 1_000, 60_000];
    expect(scheduledDelay(schedule, 0, () => 0.99)).toBe(0);
    expect(scheduledDelay(schedule, 1, () => 0)).toBe(1_000);
    expect(scheduledDelay(schedule, 1, () => 0.999)).toBe(1_200);
    expect(scheduledDelay(schedule, 2, () => 0.5)).toBe(66_000);
    expect(scheduledDelay(schedule, 3)).toBeNull();
  });
});

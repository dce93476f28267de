import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { BullmqSendQueue } from '../../src/queue/bullmq-send-queue.js';
import { MemorySendQueue } from '../../src/queue/memory-send-queue.js';
import type { SendJob, SendJobResult, SendProcessor, SendQueue, SendQueueCounts } from '../../src/queue/send-queue.js';
import { DirectFirstLanes, MAX_HELD_JOBS_PER_LANE, MAX_TRACKED_LANES } from '../../src/webhooks/direct-first-lanes.js';
import { ProcessorCalls, aborted, deferred, describeSendQueueContract, ids, job, type SendQueueOpenOptions } from './send-queue.contract.js';

const ERROR_RETRY_MS = 50;
const DONE: SendJobResult = { outcome: 'done' };
const newPrefix = (): string => `dfl${randomBytes(6).toString('hex')}`;
const openBullmq = (prefix: string, options: SendQueueOpenOptions = {}): Promise<BullmqSendQueue> =>
  BullmqSendQueue.open({ redisUrl: inject('redisUrl'), prefix, lockDurationMs: 4_000, stalledIntervalMs: 1_000, errorRetryMs: ERROR_RETRY_MS, ...options });

// Through `add`, the lanes are their queue: the same contract, on both queue drivers.
describeSendQueueContract('direct-first lanes over memory', {
  open: async (options = {}) => new DirectFirstLanes(new MemorySendQueue({ ...options, errorRetryMs: ERROR_RETRY_MS }), { ...options, errorRetryMs: ERROR_RETRY_MS }),
});

describeSendQueueContract('direct-first lanes over bullmq', (() => {
  const prefixes = new WeakMap<object, string>();
  const open = async (prefix: string, options: SendQueueOpenOptions = {}): Promise<DirectFirstLanes> => {
    const lanes = new DirectFirstLanes(await openBullmq(prefix, options), { ...options, errorRetryMs: ERROR_RETRY_MS });
    prefixes.set(lanes, prefix);
    return lanes;
  };
  return {
    open: (options) => open(newPrefix(), options),
    reopen: (lanes, options) => open(prefixes.get(lanes) ?? '', options),
  };
})());

/** The queue under the lanes, counting what reaches it. */
interface Inner {
  queue: SendQueue;
  added: string[];
  /** A fresh inner queue on the storage of this one (BullMQ only). */
  reopen?: () => Promise<SendQueue>;
}

type OpenInner = () => Promise<Inner>;

function counting(queue: SendQueue): { queue: SendQueue; added: string[] } {
  const added: string[] = [];
  const add = queue.add.bind(queue);
  vi.spyOn(queue, 'add').mockImplementation(async (j: SendJob) => {
    added.push(j.messageId);
    await add(j);
  });
  return { queue, added };
}

const drivers: [string, OpenInner][] = [
  ['memory', async () => counting(new MemorySendQueue({ errorRetryMs: ERROR_RETRY_MS }))],
  ['bullmq', async () => {
    const prefix = newPrefix();
    return { ...counting(await openBullmq(prefix)), reopen: () => openBullmq(prefix) };
  }],
];

/** What `offer` tells, awaitable per job. */
class Settlements {
  readonly told = new Map<string, Error | undefined>();
  private readonly waiters = new Map<string, () => void>();

  for(j: SendJob): (error?: Error) => void {
    return (error) => {
      this.told.set(j.messageId, error);
      this.waiters.get(j.messageId)?.();
    };
  }

  async of(j: SendJob): Promise<Error | undefined> {
    if (!this.told.has(j.messageId)) await new Promise<void>((resolve) => this.waiters.set(j.messageId, resolve));
    return this.told.get(j.messageId);
  }
}

describe.each(drivers)('direct-first lanes over %s', (_name, openInner) => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setup(process: (j: SendJob, signal: AbortSignal) => Promise<SendJobResult> = async () => DONE) {
    const inner = await openInner();
    const lanes = new DirectFirstLanes(inner.queue, { errorRetryMs: ERROR_RETRY_MS });
    closers.push(() => lanes.close());
    const calls = new ProcessorCalls();
    await lanes.start(async (j, signal) => {
      calls.add(j);
      return process(j, signal);
    });
    return { lanes, inner, calls, settlements: new Settlements() };
  }

  it('makes the jobs of an idle lane from memory, in order, without queueing them', async () => {
    const { lanes, inner, calls, settlements } = await setup();
    const jobs = [1, 2, 3].map((n) => job('a', n));
    for (const j of jobs) await lanes.offer(j, settlements.for(j));
    for (const j of jobs) expect(await settlements.of(j)).toBeUndefined();
    expect(calls.of('a')).toEqual(ids('a', 1, 2, 3));
    expect(inner.added).toEqual([]);
    expect(await lanes.counts('a')).toEqual({ waiting: 0, active: 0 });
  });

  it('hands a lane to the queue at its first job that must wait: that job and the held ones queued in order, later offers behind them, then back to memory', async () => {
    let failed = false;
    const lateOffered = deferred();
    const { lanes, inner, calls, settlements } = await setup(async (j, signal) => {
      if (j.messageId !== job('b', 1).messageId) return DONE;
      if (failed) {
        // The queue's attempt waits until the test has offered a job while the queue holds the lane.
        await Promise.race([lateOffered.promise, aborted(signal)]);
        return DONE;
      }
      failed = true;
      return { outcome: 'retry', delayMs: 30 };
    });
    const early = [1, 2, 3].map((n) => job('b', n));
    for (const j of early) await lanes.offer(j, settlements.for(j));
    for (const j of early) expect(await settlements.of(j)).toBeUndefined();
    // Queued once the first attempt failed (settled means durable, not made yet).
    expect(inner.added).toEqual(ids('b', 1, 2, 3));
    const late = job('b', 4);
    await lanes.offer(late, settlements.for(late));
    expect(inner.added).toEqual(ids('b', 1, 2, 3, 4));
    lateOffered.resolve();
    await calls.reach('b', 5);
    expect(calls.of('b')).toEqual(ids('b', 1, 1, 2, 3, 4));
    // The queue's jobs done, a read finds the lane empty: the next job is made from memory again.
    await vi.waitFor(async () => expect(await inner.queue.counts('b')).toEqual({ waiting: 0, active: 0 }));
    const again = job('b', 5);
    await lanes.offer(again, settlements.for(again));
    await settlements.of(again);
    expect(calls.of('b')).toEqual(ids('b', 1, 1, 2, 3, 4, 5));
    expect(inner.added).toEqual(ids('b', 1, 2, 3, 4));
  });

  it('keeps jobs given to `add` (durable at once) behind the jobs being made from memory', async () => {
    const release = deferred();
    const { lanes, inner, calls, settlements } = await setup(async (j, signal) => {
      if (j.messageId === job('c', 1).messageId) await Promise.race([release.promise, aborted(signal)]);
      return DONE;
    });
    const held = [job('c', 1), job('c', 2)];
    for (const j of held) await lanes.offer(j, settlements.for(j));
    await lanes.add(job('c', 3));
    expect(inner.added).toEqual(ids('c', 3));
    expect(await lanes.holds(job('c', 2))).toBe(true);
    // c1 being made, c2 held, c3 queued. A queued job the queue has just moved to active and not yet
    // handed to its processor reads as active for a moment (Redis is ahead of the process): 1 + 2.
    expect([{ waiting: 2, active: 1 }, { waiting: 1, active: 2 }]).toContainEqual(await lanes.counts('c'));
    // The lane is the queue's now: later offers go behind the added job.
    const late = job('c', 4);
    await lanes.offer(late, settlements.for(late));
    release.resolve();
    await calls.reach('c', 4);
    expect(calls.of('c')).toEqual(ids('c', 1, 2, 3, 4));
    expect(inner.added).toEqual(ids('c', 3, 4));
  });

  it(`holds at most ${MAX_HELD_JOBS_PER_LANE} jobs of a lane in memory; the rest go to the queue, order kept`, async () => {
    const release = deferred();
    const { lanes, inner, calls, settlements } = await setup(async (j, signal) => {
      if (j.messageId === job('d', 1).messageId) await Promise.race([release.promise, aborted(signal)]);
      return DONE;
    });
    const count = MAX_HELD_JOBS_PER_LANE + 5;
    const all = Array.from({ length: count }, (_, i) => job('d', i + 1));
    for (const j of all) await lanes.offer(j, settlements.for(j));
    expect(inner.added).toEqual(all.slice(MAX_HELD_JOBS_PER_LANE).map((j) => j.messageId));
    release.resolve();
    await calls.reach('d', count);
    expect(calls.of('d')).toEqual(all.map((j) => j.messageId));
  });

  it('retries a held job in memory when the queue already has later jobs of its lane, ahead of them', async () => {
    const release = deferred();
    let failures = 2;
    const { lanes, calls, settlements } = await setup(async (j, signal) => {
      if (j.messageId !== job('e', 1).messageId) return DONE;
      await Promise.race([release.promise, aborted(signal)]);
      if (failures === 0) return DONE;
      failures -= 1;
      return { outcome: 'retry', delayMs: 10 };
    });
    const first = job('e', 1);
    await lanes.offer(first, settlements.for(first));
    await lanes.add(job('e', 2));
    release.resolve();
    await calls.reach('e', 4);
    expect(calls.of('e')).toEqual(ids('e', 1, 1, 1, 2));
    expect(await settlements.of(first)).toBeUndefined();
  });

  it('asks the queue again, in order, while it refuses the held jobs of a lane being handed over; later offers wait behind them', async () => {
    let failedOnce = false;
    const { lanes, inner, calls, settlements } = await setup(async (j) => {
      if (j.messageId !== job('f', 1).messageId || failedOnce) return DONE;
      failedOnce = true;
      return { outcome: 'retry', delayMs: 0 };
    });
    const add = vi.spyOn(inner.queue, 'add');
    const queueAdd = add.getMockImplementation();
    let refusals = 2;
    add.mockImplementation(async (j) => {
      if (refusals-- > 0) throw new Error('Redis away');
      await queueAdd?.(j);
    });
    const held = [job('f', 1), job('f', 2)];
    for (const j of held) await lanes.offer(j, settlements.for(j));
    const late = job('f', 3);
    await lanes.offer(late, settlements.for(late));
    for (const j of [...held, late]) expect(await settlements.of(j)).toBeUndefined();
    await calls.reach('f', 4);
    expect(calls.of('f')).toEqual(ids('f', 1, 1, 2, 3));
    // The held jobs went to the queue in order. The late one waited behind them: queued after them or,
    // when the queue had made them by the time its offer was taken, made from memory after them.
    expect([ids('f', 1, 2), ids('f', 1, 2, 3)]).toContainEqual(inner.added);
  });

  it('cuts the attempts in flight on close and tells their jobs that they were not made', async () => {
    const inFlight = deferred();
    const { lanes, settlements } = await setup(async (_j, signal) => {
      inFlight.resolve();
      await aborted(signal);
      return { outcome: 'retry', delayMs: 0 };
    });
    const held = [job('g', 1), job('g', 2)];
    for (const j of held) await lanes.offer(j, settlements.for(j));
    await inFlight.promise;
    await lanes.close();
    for (const j of held) expect((await settlements.of(j))?.message).toMatch(/closed before the delivery was made/);
    await expect(lanes.offer(job('g', 3), () => undefined)).rejects.toThrow(/closed/);
  });

  it(`forgets idle lanes past ${MAX_TRACKED_LANES} tracked; a forgotten lane reads its queue again, so order holds`, async () => {
    const release = deferred();
    const { lanes, calls, settlements } = await setup(async (j, signal) => {
      if (j.sessionId === 'busy') await Promise.race([release.promise, aborted(signal)]);
      return DONE;
    });
    // A lane the queue holds (jobs behind a held one) and one with a job in memory: never forgotten.
    await lanes.offer(job('busy', 1), settlements.for(job('busy', 1)));
    await lanes.add(job('busy', 2));
    const keys = Array.from({ length: MAX_TRACKED_LANES }, (_, i) => `idle${i}`);
    await Promise.all(keys.map((key) => lanes.offer(job(key, 1), settlements.for(job(key, 1)))));
    await Promise.all(keys.map((key) => settlements.of(job(key, 1))));
    expect(lanes.trackedLanes).toBe(MAX_TRACKED_LANES + 1);
    // A new lane past the bound: the idle ones are forgotten, the busy one is kept.
    await lanes.offer(job('fresh', 1), settlements.for(job('fresh', 1)));
    expect(lanes.trackedLanes).toBe(2);
    await lanes.offer(job('idle0', 2), settlements.for(job('idle0', 2)));
    const late = job('busy', 3);
    await lanes.offer(late, settlements.for(late));
    release.resolve();
    await calls.reach('busy', 3);
    expect(calls.of('busy')).toEqual(ids('busy', 1, 2, 3));
    expect(calls.of('idle0')).toEqual(ids('idle0', 1, 2));
  });

  it('queues what is offered before start (nothing to make it with yet)', async () => {
    const inner = await openInner();
    const lanes = new DirectFirstLanes(inner.queue);
    closers.push(() => lanes.close());
    const settlements = new Settlements();
    const j = job('h', 1);
    await lanes.offer(j, settlements.for(j));
    expect(await settlements.of(j)).toBeUndefined();
    expect(inner.added).toEqual([j.messageId]);
    expect(await lanes.counts('h')).toEqual({ waiting: 1, active: 0 });
  });

  it('queues behind the jobs an earlier run left in the queue (the lane is read before its first job is made from memory)', async () => {
    const first = await openInner();
    if (!first.reopen) return; // only a durable queue has an earlier run
    await first.queue.add(job('i', 1));
    await first.queue.add(job('i', 2));
    await first.queue.close();
    const lanes = new DirectFirstLanes(await first.reopen(), { errorRetryMs: ERROR_RETRY_MS });
    closers.push(() => lanes.close());
    const calls = new ProcessorCalls();
    const gate = deferred();
    await lanes.start(async (j, signal) => {
      calls.add(j);
      await Promise.race([gate.promise, aborted(signal)]);
      return DONE;
    });
    const settlements = new Settlements();
    const late = job('i', 3);
    await lanes.offer(late, settlements.for(late));
    gate.resolve();
    await calls.reach('i', 3);
    expect(calls.of('i')).toEqual(ids('i', 1, 2, 3));
  });
});

/**
 * A queue whose `counts` answers the state at the time of the call, later — like BullMQ's read of
 * Redis does, while its worker may hand a job to the lanes in between.
 */
class LaggingCountsQueue implements SendQueue {
  readonly kind: SendQueue['kind'] = 'bullmq';
  readonly jobs: SendJob[] = [];
  processor: SendProcessor | null = null;
  /** When set, the next `counts` answers only once this resolves. */
  countsAnswer: Promise<void> | null = null;

  async add(j: SendJob): Promise<void> {
    this.jobs.push(j);
  }
  async start(processor: SendProcessor): Promise<void> {
    this.processor = processor;
  }
  async holds(j: SendJob): Promise<boolean> {
    return this.jobs.some((queued) => queued.messageId === j.messageId);
  }
  async counts(): Promise<SendQueueCounts> {
    const asOfNow = { waiting: this.jobs.length, active: 0 };
    const answer = this.countsAnswer;
    this.countsAnswer = null;
    if (answer) await answer;
    return asOfNow;
  }
  async removeSession(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {
    // nothing to close
  }
}

describe('direct-first lanes counts', () => {
  it('counts a queued job its worker hands over while the queue is being read once: waiting behind the held jobs, one active', async () => {
    const inner = new LaggingCountsQueue();
    const lanes = new DirectFirstLanes(inner, { errorRetryMs: ERROR_RETRY_MS });
    const release = deferred();
    await lanes.start(async (j, signal) => {
      if (j.messageId === job('k', 1).messageId) await Promise.race([release.promise, aborted(signal)]);
      return DONE;
    });
    for (const n of [1, 2]) await lanes.offer(job('k', n), () => undefined);
    await lanes.add(job('k', 3));
    expect(inner.jobs).toEqual([job('k', 3)]);
    const answer = deferred();
    inner.countsAnswer = answer.promise;
    const counting = lanes.counts('k');
    // The worker takes k3 (Redis already counted it waiting) and hands it to the lanes, where it waits for k1 and k2.
    const handedOver = inner.processor?.(job('k', 3), new AbortController().signal);
    answer.resolve();
    // k1 being made, k2 held, k3 waiting behind them: once, and someone active.
    expect(await counting).toEqual({ waiting: 2, active: 1 });
    release.resolve();
    expect(await handedOver).toEqual(DONE);
    await lanes.close();
  });
});

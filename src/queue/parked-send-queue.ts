import type { BullmqSendQueue } from './bullmq-send-queue.js';
import { untilAborted } from '../abortable-wait.js';
import { DEFAULT_ERROR_RETRY_MS, report, type SendQueueErrorHandler } from './lane-job.js';
import { MemorySendQueue } from './memory-send-queue.js';
import type { SendJob, SendJobResult, SendProcessor, SendQueue, SendQueueCounts } from './send-queue.js';

/**
 * Jobs held in memory at most, per session's lane and over all lanes; past either, a lane's next
 * jobs wait in BullMQ's lane. A held job costs ~190 bytes of heap (its ids, in an array and a
 * Set; measured with 100,000): the total bounds that at ~20 MB.
 */
export const MAX_HELD_PER_LANE = 10_000;
export const MAX_HELD_TOTAL = 100_000;

const DONE: SendJobResult = { outcome: 'done' };
const INTERRUPTED: SendJobResult = { outcome: 'retry', delayMs: 0 };

export interface ParkedSendQueueOptions {
  onError?: SendQueueErrorHandler | undefined;
  /** Wait before a held job whose processor threw is offered again. Default 1 s. */
  errorRetryMs?: number;
  /** Default {@link MAX_HELD_PER_LANE} (tests lower it). */
  maxHeldPerLane?: number;
  /** Default {@link MAX_HELD_TOTAL} (tests lower it). */
  maxHeldTotal?: number;
}

/** How a session's next job is added: absent from the map = `held`; `queued` = into BullMQ's lane; a check in flight = wait for it. */
type LaneMode = 'queued' | { checking: Promise<void> };

/**
 * The Redis-mode send queue: BullMQ keeps every accepted job durable, and this process makes the
 * jobs from memory. A job added is **parked** in its session's BullMQ lane — stored, a delayed
 * job due in a year, which no Worker takes — and held in a {@link MemorySendQueue} lane, which
 * makes it (order, retries, pacing, abort: that queue's contract). Done, its parked copy is
 * removed. BullMQ's Worker path (a blocking fetch, lock renewals, a move to ACTIVE and one to
 * completed, four event-stream entries per job) is skipped; what is paid is one add (which the
 * accept sends with its record's insert) and one removal (batched). If the process dies, the next
 * start finds the parked jobs and moves them to the head of their lanes, where BullMQ's Workers
 * make them in order (see BullmqLane.start, `recover`).
 *
 * A lane goes to BullMQ's Worker (mode `queued`) when memory must not hold it: more than
 * {@link MAX_HELD_PER_LANE} jobs wait in it (a session down for long) or {@link MAX_HELD_TOTAL} in
 * all lanes, or BullMQ holds jobs of it from
 * an earlier run, or a job is added before `start()`. A queued job waits until the lane's held
 * jobs are done, so order holds across the change. Once BullMQ's lane is empty again (checked on a
 * completed job, after the adds in flight have landed), the lane's next job is held again.
 *
 * One process per prefix (like BullmqSendQueue): parked jobs are taken for this process's own.
 */
export class ParkedSendQueue implements SendQueue {
  readonly kind = 'bullmq' as const;
  private readonly memory: MemorySendQueue;
  private readonly maxHeld: number;
  private readonly maxHeldTotal: number;
  private readonly onError: SendQueueErrorHandler | undefined;
  private readonly errorRetryMs: number;
  private readonly modes = new Map<string, LaneMode>();
  /** Parks not answered yet, or failed (false: the add rejected, the job is not made). */
  private readonly parking = new Map<string, Promise<boolean>>();
  /** Per session, the last park not answered yet: an add to BullMQ's lane resolves after it. */
  private readonly lastPark = new Map<string, Promise<boolean>>();
  /** Per session, the adds to BullMQ's lane not answered yet (a check waits for them). */
  private readonly adding = new Map<string, Set<Promise<void>>>();
  /** Per session, parked copies of done jobs whose removal is not answered yet (they still count in BullMQ). */
  private readonly unparking = new Map<string, number>();
  private readonly unparks = new Set<Promise<void>>();
  /** Per session, queued jobs taken by a Worker that wait for the lane's held jobs. */
  private readonly queuedWaiting = new Map<string, number>();
  private processor: SendProcessor | null = null;
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly bull: BullmqSendQueue,
    options: ParkedSendQueueOptions = {},
  ) {
    this.onError = options.onError;
    this.maxHeld = options.maxHeldPerLane ?? MAX_HELD_PER_LANE;
    this.maxHeldTotal = options.maxHeldTotal ?? MAX_HELD_TOTAL;
    this.errorRetryMs = options.errorRetryMs ?? DEFAULT_ERROR_RETRY_MS;
    this.memory = new MemorySendQueue({ onError: options.onError, errorRetryMs: this.errorRetryMs });
    bull.onJobDone((sessionId) => this.queuedJobDone(sessionId));
  }

  async add(job: SendJob): Promise<void> {
    this.checkOpen();
    if (!this.processor) {
      if (this.starting) await this.starting;
      else {
        // Not started: BullMQ's lane takes it (and the lane stays there until it is empty again).
        this.modes.set(job.sessionId, 'queued');
        return this.enqueue(job);
      }
    }
    for (;;) {
      this.checkOpen();
      const mode = this.modes.get(job.sessionId);
      if (mode === 'queued') return this.enqueue(job);
      if (mode !== undefined) {
        await mode.checking;
        continue;
      }
      if (this.memory.has(job)) return this.parked(job);
      if (this.memory.size(job.sessionId) < this.maxHeld && this.memory.size() < this.maxHeldTotal) return this.hold(job);
      this.modes.set(job.sessionId, 'queued');
    }
  }

  async start(processor: SendProcessor): Promise<void> {
    if (this.processor || this.starting) throw new Error('send queue already started');
    this.checkOpen();
    this.starting = (async () => {
      await this.bull.start(this.queued(processor));
      for (const sessionId of this.bull.lanesAtStart) this.modes.set(sessionId, 'queued');
      this.processor = processor;
      await this.memory.start(this.held(processor));
    })();
    await this.starting;
  }

  async holds(job: SendJob): Promise<boolean> {
    return this.memory.has(job) || this.bull.holds(job);
  }

  async counts(sessionId?: string): Promise<SendQueueCounts> {
    const [queue, memory] = await Promise.all([this.bull.counts(sessionId), this.memory.counts(sessionId)]);
    // BullMQ counts in `waiting` a held job (parked) and a done one whose removal is on its way, and
    // in `active` a queued job that waits for the held ones.
    const unparking = sessionId === undefined ? sum(this.unparking) : (this.unparking.get(sessionId) ?? 0);
    const waitingForHeld = sessionId === undefined ? sum(this.queuedWaiting) : (this.queuedWaiting.get(sessionId) ?? 0);
    return {
      waiting: Math.max(0, queue.waiting - unparking - memory.active + waitingForHeld),
      active: Math.max(0, queue.active - waitingForHeld + memory.active),
    };
  }

  /** Drops the session's held jobs (their processor aborted and awaited), then its BullMQ lane — parked copies included. */
  async removeSession(sessionId: string): Promise<number> {
    await this.memory.removeSession(sessionId);
    await Promise.allSettled([...this.unparks]);
    const dropped = await this.bull.removeSession(sessionId);
    this.modes.delete(sessionId);
    return dropped;
  }

  /** Held jobs not done stay parked: the next start makes them first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.memory.close();
      await Promise.allSettled([...this.unparks]);
      await this.bull.close();
    })();
    return this.closing;
  }

  /** Test hook (see BullmqSendQueue.crashForTests): the held jobs' processors are aborted, BullMQ's copies left untouched. */
  crashForTests(): Promise<void> {
    this.closing ??= (async () => {
      // Not awaited: a processor "dying" in the middle never returns.
      void this.memory.close();
      await this.bull.crashForTests();
    })();
    return this.closing;
  }

  /** Parks the job, and holds it in memory at once (in add order); its processing waits for the park. */
  private async hold(job: SendJob): Promise<void> {
    const parking = this.bull.park(job);
    const parked = parking.then(
      () => true,
      () => false,
    );
    this.parking.set(job.messageId, parked);
    this.lastPark.set(job.sessionId, parked);
    void parked.then((ok) => {
      if (ok && this.parking.get(job.messageId) === parked) this.parking.delete(job.messageId);
      if (this.lastPark.get(job.sessionId) === parked) this.lastPark.delete(job.sessionId);
    });
    await this.memory.add(job);
    await parking;
  }

  /** A job held already: resolves once its park is in (like its first add), rejects if that failed. */
  private async parked(job: SendJob): Promise<void> {
    const parking = this.parking.get(job.messageId);
    if (parking && !(await parking)) throw new Error(`send job ${job.messageId} could not be stored`);
  }

  /** Into BullMQ's lane, behind what it and memory hold. */
  private async enqueue(job: SendJob): Promise<void> {
    let inFlight = this.adding.get(job.sessionId);
    if (!inFlight) {
      inFlight = new Set();
      this.adding.set(job.sessionId, inFlight);
    }
    // Parks are answered in order; an add that overtook one (re-sent after NOSCRIPT) waits for it,
    // so that the lane's adds resolve in the order its jobs are made.
    const parkBefore = this.lastPark.get(job.sessionId);
    const added = this.bull.add(job);
    const settled = added.then(
      () => undefined,
      () => undefined,
    );
    inFlight.add(settled);
    try {
      await added;
      if (parkBefore) await parkBefore;
    } finally {
      inFlight.delete(settled);
      if (inFlight.size === 0 && this.adding.get(job.sessionId) === inFlight) this.adding.delete(job.sessionId);
    }
  }

  /** The memory lanes' processor: a job whose park failed is not made (its add rejected); a job done is unparked. */
  private held(processor: SendProcessor): SendProcessor {
    return async (job, signal) => {
      const parked = this.parking.get(job.messageId);
      if (parked !== undefined && !(await parked)) {
        this.parking.delete(job.messageId);
        return DONE;
      }
      const result = await processor(job, signal);
      if (result.outcome === 'done') this.unpark(job);
      return result;
    };
  }

  /** BullMQ's Workers' processor: a queued job waits until its lane's held jobs are done. */
  private queued(processor: SendProcessor): SendProcessor {
    return async (job, signal) => {
      const { sessionId } = job;
      bump(this.queuedWaiting, sessionId, 1);
      try {
        await this.memory.idle(sessionId, signal);
      } finally {
        bump(this.queuedWaiting, sessionId, -1);
      }
      if (this.closing) {
        // The held jobs were cut by the close, not done: this job must not overtake them.
        await untilAborted(signal);
        return INTERRUPTED;
      }
      if (signal.aborted) return INTERRUPTED;
      return processor(job, signal);
    };
  }

  /**
   * Removes the parked copy of a done job. A removal that fails (Redis away) is tried again every
   * `errorRetryMs` until it is made or the queue closes: a copy left behind would count in `waiting`
   * until the next start, which makes it a no-op (its record is no longer queued).
   */
  private unpark(job: SendJob): void {
    const { sessionId } = job;
    bump(this.unparking, sessionId, 1);
    const removal: Promise<void> = this.removeParked(job).finally(() => {
      this.unparks.delete(removal);
      bump(this.unparking, sessionId, -1);
    });
    this.unparks.add(removal);
  }

  private async removeParked(job: SendJob): Promise<void> {
    for (;;) {
      try {
        await this.bull.unpark(job);
        return;
      } catch (error) {
        report(this.onError, error, job);
        if (this.closing) return;
        await new Promise((resolve) => setTimeout(resolve, this.errorRetryMs));
      }
    }
  }

  /** A Worker completed a queued job: if BullMQ's lane is empty now, the session's next job is held again. */
  private queuedJobDone(sessionId: string): void {
    if (this.modes.get(sessionId) !== 'queued' || this.closing) return;
    const checking = (async () => {
      try {
        const inFlight = this.adding.get(sessionId);
        if (inFlight) await Promise.all([...inFlight]);
        if ((await this.bull.pending(sessionId)) === 0) {
          this.modes.delete(sessionId);
          // Its Worker would be woken by every park of the lane: closed until the lane is queued again.
          void this.bull.releaseWorker(sessionId);
        } else {
          this.modes.set(sessionId, 'queued');
        }
      } catch (error) {
        this.modes.set(sessionId, 'queued');
        report(this.onError, error, null);
      }
    })();
    this.modes.set(sessionId, { checking });
  }

  private checkOpen(): void {
    if (this.closing) throw new Error('send queue is closed');
  }
}

/** Adds `by` to a per-session count; a count back at zero leaves the map. */
function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

function sum(counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}

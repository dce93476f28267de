import { settledOrAborted, sleep } from '../abortable-wait.js';
import { DEFAULT_ERROR_RETRY_MS, report, type SendQueueErrorHandler } from '../queue/lane-job.js';
import type { SendJob, SendJobResult, SendProcessor, SendQueue, SendQueueCounts } from '../queue/send-queue.js';

/** Jobs one lane holds in memory at most; past that the lane's next jobs go to the queue. */
export const MAX_HELD_JOBS_PER_LANE = 256;
/**
 * Lanes whose state is kept; past that, idle ones are forgotten (deleted sessions and replaced
 * targets leave theirs behind). A forgotten lane is read from the queue again at its next job.
 */
export const MAX_TRACKED_LANES = 10_000;

/** Told once a job offered is made or durable in the queue (no argument); or, at close, that neither happened (the error). */
export type Settled = (error?: Error) => void;

/** A lane queue that can also make a job at once, from memory, when its lane is idle. */
export interface DeliveryLanes extends SendQueue {
  /**
   * Hands over a job whose loss the caller can repair (webhook deliveries: the fan-out's cursor
   * stays behind it until `settled`). Resolves once the job is taken; `settled` is told later.
   * Rejects when the lane's state cannot be read or the queue refuses the job (Redis away);
   * `settled` is then never called.
   */
  offer(job: SendJob, settled: Settled): Promise<void>;
}

/** `unknown`: whether the queue holds jobs of the lane must be read first; `direct`: it holds none, jobs are made from memory; `queued`: it holds some, jobs go behind them. */
type LaneMode = 'unknown' | 'direct' | 'queued';

interface HeldJob {
  job: SendJob;
  settled: Settled;
}

interface Lane {
  mode: LaneMode;
  /** Jobs held in memory, in order; the head is being made. */
  held: HeldJob[];
  /** The loop making the held jobs, while there are some. */
  run: Promise<void> | null;
  /** Mode changes and queue adds of the lane, one after the other. */
  ops: Promise<void>;
  /** Queued jobs taken by the queue's processor and waiting for the held ones (active for the queue, waiting in fact). */
  queuedWaiting: number;
  /** Tasks given to `serially` and not finished. */
  pendingOps: number;
  readonly controller: AbortController;
}

const INTERRUPTED: SendJobResult = { outcome: 'retry', delayMs: 0 };

/**
 * Webhook lanes that skip the queue while a lane is idle. A delivery whose lane holds nothing is
 * attempted at once from memory — no queue job, so no queue round trips (four BullMQ scripts and
 * a blocking pop per job) on the way to the receiver. The queue (`inner`, BullMQ in Redis mode)
 * takes over a lane as soon as it must wait: an attempt failed (the held jobs go to the queue, in
 * order, and it retries them on the schedule), more than {@link MAX_HELD_JOBS_PER_LANE} jobs wait
 * (a slow receiver), or a job came through `add` (a manual retry or a replay, which must be durable
 * at once). The lane comes back to memory once the queue's jobs of it are done and a read finds
 * none left.
 *
 * Order: one job at a time per lane either way; the queue's processor for a lane waits while the
 * lane's held jobs are being made, so queued jobs never overtake them. An offered job is not
 * durable until it is made or queued: the caller keeps what it needs to offer it again after a
 * crash (the fan-out does not move its cursor past it). Jobs of `add` are durable when it resolves.
 *
 * One process per lane set, as for the queue itself.
 */
export class DirectFirstLanes implements DeliveryLanes {
  readonly kind: SendQueue['kind'];
  private readonly lanes = new Map<string, Lane>();
  private processor: SendProcessor | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly inner: SendQueue,
    private readonly options: { onError?: SendQueueErrorHandler | undefined; errorRetryMs?: number } = {},
  ) {
    this.kind = inner.kind;
  }

  async offer(job: SendJob, settled: Settled): Promise<void> {
    this.checkOpen();
    const lane = this.laneOf(job.sessionId);
    await this.serially(lane, async () => {
      if (this.processor && lane.mode === 'unknown') lane.mode = (await this.queueHoldsNone(job.sessionId)) ? 'direct' : 'queued';
      if (this.processor && lane.mode === 'direct' && lane.held.length < MAX_HELD_JOBS_PER_LANE && !this.closing) {
        lane.held.push({ job, settled });
        this.startRun(lane);
        return;
      }
      // Not started (nothing to make it with), held jobs enough, or the queue has the lane already.
      if (this.processor) lane.mode = 'queued';
      await this.inner.add(job);
      settled();
    });
  }

  /** Durable at once: into the queue, behind what the lane holds in memory. */
  async add(job: SendJob): Promise<void> {
    this.checkOpen();
    const lane = this.laneOf(job.sessionId);
    await this.serially(lane, async () => {
      lane.mode = 'queued';
      await this.inner.add(job);
    });
  }

  async start(processor: SendProcessor): Promise<void> {
    if (this.processor) throw new Error('delivery lanes already started');
    this.processor = processor;
    await this.inner.start(this.queued(processor));
  }

  async holds(job: SendJob): Promise<boolean> {
    if (this.lanes.get(job.sessionId)?.held.some((h) => h.job.messageId === job.messageId)) return true;
    return this.inner.holds(job);
  }

  async counts(sessionId?: string): Promise<SendQueueCounts> {
    // The lanes are read before the queue's counts: Redis is ahead of this process, so a job the
    // worker takes meanwhile is counted active by the queue whether or not its lane has it yet.
    // Read after, a job handed over in between would be counted waiting twice and never active.
    let waiting = 0;
    let active = 0;
    for (const [key, lane] of this.lanes) {
      if (sessionId !== undefined && key !== sessionId) continue;
      active += (lane.held.length > 0 ? 1 : 0) - lane.queuedWaiting;
      waiting += Math.max(0, lane.held.length - 1) + lane.queuedWaiting;
    }
    const queued = await this.inner.counts(sessionId);
    return { waiting: waiting + queued.waiting, active: active + queued.active };
  }

  /** Drops the lane: its held jobs (told settled: dropped as the queue drops its own) and its queued ones. */
  async removeSession(sessionId: string): Promise<number> {
    const lane = this.lanes.get(sessionId);
    let dropped = 0;
    if (lane) {
      this.lanes.delete(sessionId);
      lane.controller.abort();
      await lane.run;
      await lane.ops;
      for (const held of lane.held.splice(0)) {
        held.settled();
        dropped += 1;
      }
    }
    return dropped + (await this.inner.removeSession(sessionId));
  }

  /**
   * Cuts the attempts in flight, then closes the queue. Jobs still held are told they were not
   * made (an error): their caller offers them again at the next start.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const lanes = [...this.lanes.values()];
      for (const lane of lanes) lane.controller.abort();
      await Promise.all(lanes.map(async (lane) => {
        await lane.run;
        await lane.ops;
      }));
      const closed = new Error('closed before the delivery was made');
      for (const lane of lanes) for (const held of lane.held.splice(0)) held.settled(closed);
      await this.inner.close();
    })();
    return this.closing;
  }

  private startRun(lane: Lane): void {
    if (lane.run) return;
    const run: Promise<void> = this.makeHeld(lane).finally(() => {
      if (lane.run === run) lane.run = null;
    });
    lane.run = run;
  }

  /**
   * Makes the lane's held jobs in order; on a job that must wait, the queue takes the lane over (or,
   * if it has later jobs already, the job is retried here). `lane.run` is cleared in the same turn
   * as the last look at `held`, so a job held later always starts a new run.
   */
  private async makeHeld(lane: Lane): Promise<void> {
    const { signal } = lane.controller;
    // A function, not `signal.aborted` inline: the compiler would take it as unchanged across awaits.
    const aborted = (): boolean => signal.aborted;
    const processor = this.processor;
    for (;;) {
      const head = lane.held[0];
      if (!head || aborted() || !processor) {
        lane.run = null;
        return;
      }
      const result = await this.attempt(processor, head.job, signal);
      if (aborted()) continue;
      if (result.outcome === 'done') {
        lane.held.shift();
        head.settled();
        continue;
      }
      if (lane.mode === 'direct') {
        await this.handOver(lane);
        continue;
      }
      // The queue has later jobs of the lane (they wait for this one): retry here, ahead of them.
      await sleep(result.delayMs, signal);
    }
  }

  private async attempt(processor: SendProcessor, job: SendJob, signal: AbortSignal): Promise<SendJobResult> {
    try {
      return await processor(job, signal);
    } catch (error) {
      if (signal.aborted) return INTERRUPTED;
      report(this.options.onError, error, job);
      return { outcome: 'retry', delayMs: this.options.errorRetryMs ?? DEFAULT_ERROR_RETRY_MS };
    }
  }

  /**
   * Moves every held job to the queue, in order; the queue retries the head on its schedule. A queue
   * that refuses (Redis away) is asked again until it takes them or the lanes close: meanwhile the
   * lane's later offers wait (they must go behind), and the jobs stay held — not settled.
   */
  private handOver(lane: Lane): Promise<void> {
    return this.serially(lane, async () => {
      const { signal } = lane.controller;
      while (lane.held.length > 0 && !signal.aborted) {
        const head = lane.held[0];
        if (!head) break;
        try {
          await this.inner.add(head.job);
        } catch (error) {
          report(this.options.onError, error, head.job);
          await sleep(this.options.errorRetryMs ?? DEFAULT_ERROR_RETRY_MS, signal);
          continue;
        }
        lane.held.shift();
        head.settled();
      }
      lane.mode = 'queued';
    });
  }

  /** The queue's processor: a lane's queued job waits while the lane's held jobs are made; the lane's last queued job done, the lane may come back to memory. */
  private queued(processor: SendProcessor): SendProcessor {
    return async (job, signal) => {
      const lane = this.laneOf(job.sessionId);
      lane.queuedWaiting += 1;
      try {
        while (lane.run && !signal.aborted) await settledOrAborted(lane.run, signal);
      } finally {
        lane.queuedWaiting -= 1;
      }
      if (signal.aborted) return INTERRUPTED;
      const result = await processor(job, signal);
      if (result.outcome === 'done' && lane.mode === 'queued') lane.mode = 'unknown';
      return result;
    };
  }

  private async queueHoldsNone(key: string): Promise<boolean> {
    const counts = await this.inner.counts(key);
    return counts.waiting === 0 && counts.active === 0;
  }

  private laneOf(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) {
      if (this.lanes.size >= MAX_TRACKED_LANES) this.forgetIdleLanes();
      lane = { mode: 'unknown', held: [], run: null, ops: Promise.resolve(), queuedWaiting: 0, pendingOps: 0, controller: new AbortController() };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Lanes tracked now (tests). */
  get trackedLanes(): number {
    return this.lanes.size;
  }

  /** Drops the lanes with nothing held, running or pending: their next job reads the queue again. */
  private forgetIdleLanes(): void {
    for (const [key, lane] of this.lanes) {
      if (lane.held.length === 0 && !lane.run && lane.queuedWaiting === 0 && lane.pendingOps === 0) this.lanes.delete(key);
    }
  }

  /** Runs `task` after the lane's earlier ones; a failure is the caller's, not the next task's. */
  private serially(lane: Lane, task: () => Promise<void>): Promise<void> {
    lane.pendingOps += 1;
    const result = lane.ops.then(task).finally(() => {
      lane.pendingOps -= 1;
    });
    lane.ops = result.catch(() => undefined);
    return result;
  }

  private checkOpen(): void {
    if (this.closing) throw new Error('delivery lanes are closed');
  }
}

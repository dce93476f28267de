import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { sleep } from '../abortable-wait.js';
import { type LaneState, type SendQueueErrorHandler, offerUntilDone, report } from './lane-job.js';
import { KEEP_FAILED, LANE_JOB_NAME, promoteParked } from './parked-jobs.js';
import type { SendJob, SendProcessor, SendQueueCounts } from './send-queue.js';

export interface LaneSettings {
  /** Fail-fast connection shared by every lane's Queue (adds, counts). */
  producer: Redis;
  /** `maxRetriesPerRequest: null` connection shared by every Worker; BullMQ duplicates it for each Worker's blocking fetch. */
  workerConnection: Redis;
  /** BullMQ `prefix` option: `<redisPrefix>:bull`. */
  bullPrefix: string;
  /** Queue names are `<queueName>-<lane key>` (`send` for sends, `webhook` for webhook deliveries). */
  queueName: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  errorRetryMs: number;
  onError: SendQueueErrorHandler | undefined;
  /** Told, with the lane key, when a lane's Worker has completed a job (BullMQ has moved it out of ACTIVE). Set once, after the lanes are made. */
  listeners: { jobDone?: (laneKey: string) => void };
}

/** A redelivered job is harmless (the processor makes repeats no-ops), so stalling never fails one. */
const MAX_STALLED_COUNT = 1_000_000;

export const laneQueueName = (sessionId: string, queueName = 'send'): string => `${queueName}-${sessionId}`;

/** A lane's BullMQ keys start with this (BullMQ's layout: `<bull prefix>:<queue name>`), then `:wait`, `:<job id>`, … */
export const laneKeyBase = (settings: Pick<LaneSettings, 'bullPrefix' | 'queueName'>, laneKey: string): string => `${settings.bullPrefix}:${laneQueueName(laneKey, settings.queueName)}`;

/**
 * One session's lane: a BullMQ Queue of its own plus, once started, a Worker with concurrency 1 —
 * BullMQ open source has no per-group ordering, so a queue per session is what keeps it FIFO.
 * Cost: one Redis connection per started lane (the Worker's blocking fetch), bounded by
 * WHATSAPP_MAX_SESSIONS.
 */
export class BullmqLane {
  readonly queue: Queue<SendJob, void, typeof LANE_JOB_NAME>;
  private worker: Worker<SendJob, void, typeof LANE_JOB_NAME> | null = null;
  private starting: Promise<void> = Promise.resolve();
  /** Aborts this lane's processor waits: on close, on removal. */
  private readonly controller = new AbortController();
  /** Only this process knows that an ACTIVE job is in fact waiting to retry or done and pausing. */
  private state: LaneState = 'idle';

  constructor(
    readonly sessionId: string,
    private readonly settings: LaneSettings,
  ) {
    this.queue = new Queue(laneQueueName(sessionId, settings.queueName), {
      connection: settings.producer,
      prefix: settings.bullPrefix,
      // No I/O when the Queue is made: BullMQ memoizes a failed init (a lane made while Redis is down
      // would stay broken), and adds must fail fast rather than wait for the connection to be ready.
      skipVersionCheck: true,
      skipWaitingForReady: true,
      // No attempts/backoff: a job moved to `delayed` would let the lane's later jobs overtake it.
      defaultJobOptions: { removeOnComplete: true, removeOnFail: KEEP_FAILED },
    });
    this.queue.on('error', (error) => report(settings.onError, error, null));
  }

  /** jobId = messageId: adding a job that BullMQ still holds is a no-op. */
  async add(job: SendJob): Promise<void> {
    await this.queue.add(LANE_JOB_NAME, { sessionId: job.sessionId, messageId: job.messageId }, { jobId: job.messageId });
  }

  get started(): boolean {
    return this.worker !== null;
  }

  /**
   * Creates the Worker; it takes jobs once no job of the lane is left ACTIVE by an earlier run.
   * `recover` (lanes found at start): the lane's parked jobs, left by an earlier run, are moved
   * to the head of the lane first.
   */
  start(processor: SendProcessor, recover = false): void {
    if (this.worker || this.controller.signal.aborted) return;
    const { settings } = this;
    const worker = new Worker<SendJob, void, typeof LANE_JOB_NAME>(laneQueueName(this.sessionId, settings.queueName), (job) => this.process(job.data, processor), {
      connection: settings.workerConnection,
      prefix: settings.bullPrefix,
      concurrency: 1,
      autorun: false,
      lockDuration: settings.lockDurationMs,
      stalledInterval: settings.stalledIntervalMs,
      maxStalledCount: MAX_STALLED_COUNT,
    });
    worker.on('error', (error) => report(settings.onError, error, null));
    worker.on('failed', (job, error) => report(settings.onError, error, job?.data ?? null));
    worker.on('completed', () => settings.listeners.jobDone?.(this.sessionId));
    this.worker = worker;
    this.starting = this.run(worker, recover);
  }

  /**
   * A job still ACTIVE at start belongs to a process that died (its lock expires, then the stalled
   * checker moves it back to the head of `wait`). Taking jobs before that would let the lane's later
   * jobs overtake it, so the Worker's main loop waits until the lane has no ACTIVE job. Then, when
   * recovering, the parked jobs go ahead of both (they were accepted before anything queued).
   */
  private async run(worker: Worker<SendJob, void, typeof LANE_JOB_NAME>, recover: boolean): Promise<void> {
    const signal = this.controller.signal;
    await worker.startStalledCheckTimer();
    while (!signal.aborted) {
      try {
        if ((await this.queue.getActiveCount()) === 0) {
          if (recover) await promoteParked(this.settings.producer, laneKeyBase(this.settings, this.sessionId));
          break;
        }
      } catch (error) {
        report(this.settings.onError, error, null);
      }
      await sleep(this.settings.stalledIntervalMs, signal);
    }
    if (signal.aborted) return;
    // Resolves when the worker closes.
    worker.run().catch((error: unknown) => report(this.settings.onError, error, null));
  }

  /** The Worker's processor: one job until done, then the pacing pause (the job stays ACTIVE meanwhile). */
  private async process(job: SendJob, processor: SendProcessor): Promise<void> {
    const signal = this.controller.signal;
    try {
      const result = await offerUntilDone(job, processor, signal, {
        errorRetryMs: this.settings.errorRetryMs,
        onError: this.settings.onError,
        onState: (state) => {
          this.state = state;
        },
      });
      if (result.outcome === 'interrupted') {
        // Back to the head of the lane, no failure counted: for a RateLimitError BullMQ runs
        // moveJobFromActiveToWait, which RPUSHes the job onto `wait` — the end Workers take from
        // (RPOPLPUSH) while adds LPUSH. The worker is closing, so it does not take the job again.
        throw Worker.RateLimitError();
      }
      this.state = 'pausing';
      await sleep(result.pauseMs, signal);
    } finally {
      this.state = 'idle';
    }
  }

  /** Whether the lane holds the job: waiting, delayed or active (completed jobs are removed; failed ones are not held). */
  async holds(jobId: string): Promise<boolean> {
    const state = await this.queue.getJobState(jobId);
    return state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children';
  }

  async counts(): Promise<SendQueueCounts> {
    // BullMQ 6 has no `paused` list: a paused queue keeps its jobs in `wait`.
    const c = await this.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active');
    let waiting = (c.wait ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
    let active = c.active ?? 0;
    if (active > 0 && this.state === 'retrying') {
      active -= 1;
      waiting += 1;
    } else if (active > 0 && this.state === 'pausing') {
      active -= 1;
    }
    return { waiting, active };
  }

  /**
   * Stops the Worker: aborts the waits, then lets the active job return (and go back to `wait`, if
   * not done). `force` (Redis away): does not wait for the active job's move, which would wait for
   * Redis forever; the job stays ACTIVE and the next start recovers it as stalled.
   */
  async stop(force = false): Promise<void> {
    this.controller.abort();
    // Called in the same tick as the abort, so the Worker is closing before the processor resumes.
    const closing = this.worker?.close(force);
    await this.starting;
    await closing;
  }

  /** Drops the lane's queue, jobs included; the number of jobs dropped. */
  async remove(): Promise<number> {
    await this.stop();
    const { waiting } = await this.counts();
    await this.queue.obliterate({ force: true });
    await this.queue.close();
    return waiting;
  }

  async close(force = false): Promise<void> {
    await this.stop(force);
    await this.queue.close();
  }

  /** Test hook (see BullmqSendQueue.crashForTests): stop without moving or completing any job. */
  async crash(): Promise<void> {
    await this.worker?.close(true);
    this.controller.abort();
    await this.queue.close();
  }
}

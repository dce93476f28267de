import { settledOrAborted, sleep } from '../abortable-wait.js';
import { DEFAULT_ERROR_RETRY_MS, type LaneState, type SendQueueErrorHandler, offerUntilDone } from './lane-job.js';
import type { SendJob, SendProcessor, SendQueue, SendQueueCounts } from './send-queue.js';

export interface MemorySendQueueOptions {
  /** Told when a processor throws; the job is offered again after `errorRetryMs`. */
  onError?: SendQueueErrorHandler | undefined;
  /** Wait before a job whose processor threw is offered again. Default 1 s. */
  errorRetryMs?: number;
}

/** One session's jobs. Exists only while it holds jobs or its loop runs: an idle session costs nothing. */
interface Lane {
  /** Head first. Array `shift` is fine at the sizes one session queues. */
  readonly jobs: SendJob[];
  /** Message ids held, so that adding a held job again is a no-op (as with BullMQ job ids). */
  readonly ids: Set<string>;
  readonly controller: AbortController;
  state: LaneState;
  /** The lane's loop while it runs. */
  loop: Promise<void> | null;
}

/**
 * The embedded-mode send queue: a FIFO per session, each drained by its own async loop, so one job
 * at a time per session and sessions fully concurrent. Nothing survives the process.
 */
export class MemorySendQueue implements SendQueue {
  readonly kind = 'memory' as const;
  private readonly lanes = new Map<string, Lane>();
  /** Jobs held over all lanes. */
  private held = 0;
  private readonly onError: SendQueueErrorHandler | undefined;
  private readonly errorRetryMs: number;
  private processor: SendProcessor | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: MemorySendQueueOptions = {}) {
    this.onError = options.onError;
    this.errorRetryMs = options.errorRetryMs ?? DEFAULT_ERROR_RETRY_MS;
  }

  async add(job: SendJob): Promise<void> {
    if (this.closing) throw new Error('send queue is closed');
    let lane = this.lanes.get(job.sessionId);
    if (!lane) {
      lane = { jobs: [], ids: new Set(), controller: new AbortController(), state: 'idle', loop: null };
      this.lanes.set(job.sessionId, lane);
    }
    if (lane.ids.has(job.messageId)) return;
    lane.ids.add(job.messageId);
    lane.jobs.push({ sessionId: job.sessionId, messageId: job.messageId });
    this.held += 1;
    this.wake(job.sessionId, lane);
  }

  async start(processor: SendProcessor): Promise<void> {
    if (this.processor) throw new Error('send queue already started');
    if (this.closing) throw new Error('send queue is closed');
    this.processor = processor;
    for (const [sessionId, lane] of this.lanes) this.wake(sessionId, lane);
  }

  async holds(job: SendJob): Promise<boolean> {
    return this.has(job);
  }

  /** `holds`, answered at once. */
  has(job: SendJob): boolean {
    return this.lanes.get(job.sessionId)?.ids.has(job.messageId) ?? false;
  }

  /** Jobs a session's lane holds (the one being processed included); without a session, all lanes'. */
  size(sessionId?: string): number {
    if (sessionId === undefined) return this.held;
    return this.lanes.get(sessionId)?.jobs.length ?? 0;
  }

  /** Resolves once the session's lane is not running (nothing held, or the queue closed), or `signal` aborts. */
  async idle(sessionId: string, signal: AbortSignal): Promise<void> {
    for (let loop = this.lanes.get(sessionId)?.loop; loop && !signal.aborted; loop = this.lanes.get(sessionId)?.loop) await settledOrAborted(loop, signal);
  }

  async counts(sessionId?: string): Promise<SendQueueCounts> {
    const lanes = sessionId === undefined ? [...this.lanes.values()] : [this.lanes.get(sessionId)];
    const counts = { waiting: 0, active: 0 };
    for (const lane of lanes) {
      if (!lane) continue;
      const active = lane.state === 'processing' ? 1 : 0;
      counts.active += active;
      counts.waiting += lane.jobs.length - active;
    }
    return counts;
  }

  async removeSession(sessionId: string): Promise<number> {
    const lane = this.lanes.get(sessionId);
    if (!lane) return 0;
    this.lanes.delete(sessionId);
    lane.controller.abort();
    await lane.loop;
    this.held -= lane.jobs.length;
    return lane.jobs.length;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const lanes = [...this.lanes.values()];
      for (const lane of lanes) lane.controller.abort();
      await Promise.all(lanes.flatMap((lane) => (lane.loop ? [lane.loop] : [])));
    })();
    return this.closing;
  }

  /** Starts the lane's loop unless it runs already, or the queue is not started. */
  private wake(sessionId: string, lane: Lane): void {
    const processor = this.processor;
    if (!processor || lane.loop || lane.controller.signal.aborted) return;
    lane.loop = this.drain(sessionId, lane, processor);
  }

  private async drain(sessionId: string, lane: Lane, processor: SendProcessor): Promise<void> {
    const signal = lane.controller.signal;
    const onState = (state: LaneState): void => {
      lane.state = state;
    };
    try {
      for (let job = lane.jobs[0]; job && !signal.aborted; job = lane.jobs[0]) {
        const result = await offerUntilDone(job, processor, signal, { errorRetryMs: this.errorRetryMs, onError: this.onError, onState });
        if (result.outcome === 'interrupted') break;
        lane.jobs.shift();
        lane.ids.delete(job.messageId);
        this.held -= 1;
        lane.state = 'pausing';
        await sleep(result.pauseMs, signal);
      }
    } finally {
      lane.state = 'idle';
      lane.loop = null;
      // An idle, empty lane is forgotten; `add` makes a new one. Guard: removeSession may have replaced it.
      if (lane.jobs.length === 0 && this.lanes.get(sessionId) === lane) this.lanes.delete(sessionId);
    }
  }
}

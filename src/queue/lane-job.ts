import { sleep } from '../abortable-wait.js';
import type { SendJob, SendProcessor } from './send-queue.js';

/**
 * Told when a processor throws (with its job; the job is offered again) or, BullMQ driver only,
 * when the queue itself meets an error (`job` null: Redis trouble, a job BullMQ gave up on).
 */
export type SendQueueErrorHandler = (error: unknown, job: SendJob | null) => void;

/** Default wait before a job whose processor threw is offered again. */
export const DEFAULT_ERROR_RETRY_MS = 1_000;

/** Where a lane's head job stands, for `counts()`: `retrying` counts as waiting, `pausing` as gone. */
export type LaneState = 'idle' | 'processing' | 'retrying' | 'pausing';

export interface OfferOptions {
  errorRetryMs: number;
  onError: SendQueueErrorHandler | undefined;
  onState: (state: LaneState) => void;
}

export type OfferOutcome =
  /** The processor finished the job; the lane should wait `pauseMs` before its next one. */
  | { outcome: 'done'; pauseMs: number }
  /** The signal aborted before the job was done: keep it at the head of its lane. */
  | { outcome: 'interrupted' };

/**
 * Offers one job to the processor until it is done — the part of a lane both drivers share. `retry`
 * (and a throw) keep the job here, so the lane's later jobs cannot overtake it.
 */
export async function offerUntilDone(job: SendJob, processor: SendProcessor, signal: AbortSignal, options: OfferOptions): Promise<OfferOutcome> {
  // A function, not `signal.aborted` inline: the compiler would take it as unchanged across awaits.
  const aborted = (): boolean => signal.aborted;
  for (;;) {
    if (aborted()) return { outcome: 'interrupted' };
    options.onState('processing');
    let delayMs: number;
    try {
      const result = await processor(job, signal);
      if (result.outcome === 'done') return { outcome: 'done', pauseMs: result.pauseMs ?? 0 };
      delayMs = result.delayMs;
    } catch (error) {
      // A throw caused by the abort is the expected way out, not worth a log line.
      if (aborted()) return { outcome: 'interrupted' };
      report(options.onError, error, job);
      delayMs = options.errorRetryMs;
    }
    if (aborted()) return { outcome: 'interrupted' };
    options.onState('retrying');
    await sleep(delayMs, signal);
  }
}

/** Calls the error handler; a failing handler must not stop a lane. */
export function report(onError: SendQueueErrorHandler | undefined, error: unknown, job: SendJob | null): void {
  try {
    onError?.(error, job);
  } catch {
    // nothing sensible left to do with it
  }
}

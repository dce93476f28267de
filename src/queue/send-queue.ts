/**
 * The send queue: where accepted sends wait for the engine. Three drivers implement it —
 * `memory-send-queue.ts` (embedded mode, in-process), `parked-send-queue.ts` (Redis mode: jobs
 * durable in BullMQ, made from memory) and `bullmq-send-queue.ts` (BullMQ's Workers; the webhook
 * lanes, and the send lanes that must wait in Redis) — and all pass
 * `tests/contract/send-queue.contract.ts`.
 *
 * Semantics every driver keeps:
 * - A job carries ids only (`sessionId`, `messageId`); the content lives in the message store.
 * - **Lanes**: jobs of one session are processed one at a time, in the order `add` resolved.
 *   Sessions are independent: a slow, waiting or failing job holds back only its own session.
 * - The processor decides what happens next: `done` (terminal for this job; the lane then waits
 *   `pauseMs` before its next job — pacing), or `retry` (the job stays at the head of its lane and
 *   is offered again after `delayMs`; later jobs of the session wait behind it).
 * - At-least-once: a job whose process died mid-processing is offered again (BullMQ: stalled-job
 *   recovery; parked: the next start), at the head of its lane. The processor must make a repeat harmless.
 * - `close()` stops taking jobs, aborts the `signal` of running processors (so that waits end
 *   early) and waits for them to return; a job interrupted this way is kept for the next start,
 *   at the head of its lane.
 */

export interface SendJob {
  sessionId: string;
  messageId: string;
}

export type SendJobResult =
  /** Finished (sent, failed or nothing to do). The lane waits `pauseMs` (default 0) before its next job. */
  | { outcome: 'done'; pauseMs?: number }
  /** Not possible yet: offer this job again after `delayMs`, still ahead of the session's later jobs. */
  | { outcome: 'retry'; delayMs: number };

/**
 * Processes one job. `signal` aborts when the queue closes (or `removeSession` drops the lane):
 * return promptly (any result); a job whose processor returns `retry` or throws after the abort is
 * kept for the next start. A throw otherwise is treated like `retry` after a short delay (the
 * driver logs it).
 */
export type SendProcessor = (job: SendJob, signal: AbortSignal) => Promise<SendJobResult>;

export interface SendQueueCounts {
  /** Accepted, not yet being processed (includes jobs waiting to retry). */
  waiting: number;
  /** Being processed right now. */
  active: number;
}

export interface SendQueue {
  readonly kind: 'memory' | 'bullmq';
  /**
   * Stores a job at the tail of its session's lane. Resolves once the job is durable (Redis) or held
   * (memory). A job whose `messageId` the queue still holds is not added again. Rejects after `close()`.
   */
  add(job: SendJob): Promise<void>;
  /**
   * Starts processing, including jobs left by an earlier run (Redis mode). Call once.
   */
  start(processor: SendProcessor): Promise<void>;
  /** Whether the queue holds this job (waiting, retrying or being processed). */
  holds(job: SendJob): Promise<boolean>;
  /** Jobs per state, over every session or for one session. */
  counts(sessionId?: string): Promise<SendQueueCounts>;
  /**
   * Drops every job of a session (session deleted); the number dropped. A running processor gets
   * its `signal` aborted and is awaited first: its job is dropped too unless it returned `done`.
   */
  removeSession(sessionId: string): Promise<number>;
  /** See the module comment. Idempotent. */
  close(): Promise<void>;
}

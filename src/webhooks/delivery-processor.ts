import type { Logger } from '../logger.js';
import type { SendJob, SendJobResult } from '../queue/send-queue.js';
import type { DeliveryStore } from '../storage/delivery-store.js';
import { FINAL_STATUSES, parseDeliveryJobIds, withAttempt, type DeliveryError, type DeliveryRecord } from './delivery.js';
import type { SendOutcome, WebhookSender } from './webhook-sender.js';
import type { WebhookTarget, WebhookTargets } from './webhook-targets.js';

/** Up to this share of a scheduled delay is added at random (jitter): the schedule is a minimum. */
export const RETRY_JITTER = 0.2;
/** The longest wait a `Retry-After` answer can impose on one attempt. */
export const RETRY_AFTER_CAP_MS = 60 * 60 * 1000;

const DONE: SendJobResult = { outcome: 'done' };

/**
 * The delay before attempt `index` (0-based) of a run: WEBHOOK_RETRY_SCHEDULE[index] plus up to
 * {@link RETRY_JITTER} of it; null when the schedule has no such attempt.
 */
export function scheduledDelay(scheduleMs: readonly number[], index: number, random: () => number = Math.random): number | null {
  const base = scheduleMs[index];
  if (base === undefined) return null;
  return base <= 0 ? 0 : Math.round(base * (1 + RETRY_JITTER * random()));
}

/** Told after every attempt (health: webhook latency, counts). */
export type AttemptObserver = (record: DeliveryRecord, outcome: Exclude<SendOutcome, { kind: 'interrupted' }>) => void;

export interface DeliveryProcessorDeps {
  store: DeliveryStore;
  targets: WebhookTargets;
  sender: WebhookSender;
  /** WEBHOOK_RETRY_SCHEDULE: delays before attempts 1..n. */
  scheduleMs: readonly number[];
  logger: Logger;
  onAttempt?: AttemptObserver;
  random?: () => number;
}

/**
 * Processes one webhook job of a lane `<sessionId>.<targetId>` (the queue keeps a lane in order, one
 * job at a time): makes the delivery's next attempt, or waits for it. A failed attempt returns
 * `retry` with the scheduled delay, so the delivery stays at the head of its lane and holds back
 * only that session's later events for that target; after the last attempt it is dead-lettered and
 * the lane moves on. Jobs are `<deliveryId>.<run>`; a job of an older run, or of a delivery already
 * finished, is a no-op (at-least-once queues may offer a job twice).
 */
export class DeliveryProcessor {
  constructor(private readonly deps: DeliveryProcessorDeps) {}

  /**
   * A job carries one delivery or several consecutive ones of its lane (a burst, see the fan-out):
   * they are made in order; one that must wait or be retried ends the job with `retry`, and the
   * next offer skips those already made.
   */
  readonly process = async (job: SendJob, signal: AbortSignal): Promise<SendJobResult> => {
    const refs = parseDeliveryJobIds(job.messageId);
    if (!refs) return DONE;
    let last: SendJobResult = DONE;
    for (const ref of refs) {
      last = await this.processOne(ref, signal);
      if (last.outcome === 'retry') return last;
    }
    return last;
  };

  private async processOne(ref: { id: string; run: number }, signal: AbortSignal): Promise<SendJobResult> {
    // Record and body in one read: most jobs go on to an attempt.
    const found = await this.deps.store.getWithBody(ref.id);
    if (!found) return DONE;
    const { record, body } = found;
    if (record.run !== ref.run || FINAL_STATUSES.has(record.status)) return DONE;

    const target = this.deps.targets.find(record.sessionId, record.target.id);
    if (!target) return this.bury(record, { code: 'TARGET_REMOVED', message: 'the target is no longer configured (webhooks replaced, session deleted or APP_WEBHOOK_URL changed)' });
    if (target.disabled) return this.bury(record, { code: 'TARGET_DISABLED', message: 'the target is disabled after a 410 answer; replace the session\'s webhooks to enable it' });

    const waitMs = record.nextAttemptAt === null ? 0 : Date.parse(record.nextAttemptAt) - Date.now();
    if (waitMs > 0) return { outcome: 'retry', delayMs: waitMs };

    if (body === null) return this.bury(record, { code: 'BODY_EXPIRED', message: 'the stored body expired' });

    const at = new Date().toISOString();
    const outcome = await this.deps.sender.send({
      url: target.url,
      eventId: record.eventId,
      body,
      secrets: target.secrets,
      guarded: target.guarded,
      sendApiKey: target.sendApiKey,
      signal,
    });
    // Closing: the job stays at the head of its lane for the next start; no attempt is counted.
    if (outcome.kind === 'interrupted') return { outcome: 'retry', delayMs: 0 };
    return this.record(record, target, outcome, at);
  }

  /** Logs the attempt and decides what comes next: delivered, dead, or another attempt after a delay. */
  private async record(record: DeliveryRecord, target: WebhookTarget, outcome: Exclude<SendOutcome, { kind: 'interrupted' }>, at: string): Promise<SendJobResult> {
    const attempted = withAttempt(record, {
      at,
      statusCode: outcome.statusCode,
      error: outcome.kind === 'failed' ? outcome.error : null,
      durationMs: outcome.durationMs,
    });
    let next: DeliveryRecord;
    let delayMs: number | null = null;
    if (outcome.kind === 'delivered') {
      next = { ...attempted, status: 'delivered', nextAttemptAt: null, completedAt: attempted.updatedAt };
    } else if (outcome.gone) {
      await this.deps.targets.disable(record.sessionId, target);
      next = { ...attempted, status: 'dead', nextAttemptAt: null, completedAt: attempted.updatedAt };
    } else {
      const scheduled = scheduledDelay(this.deps.scheduleMs, attempted.runAttempts, this.deps.random);
      if (scheduled === null) {
        next = { ...attempted, status: 'dead', nextAttemptAt: null, completedAt: attempted.updatedAt };
      } else {
        delayMs = Math.max(scheduled, Math.min(outcome.retryAfterMs ?? 0, RETRY_AFTER_CAP_MS));
        next = { ...attempted, status: 'failed', nextAttemptAt: new Date(Date.now() + delayMs).toISOString() };
      }
    }
    const written = await this.write(record, next);
    this.deps.onAttempt?.(next, outcome);
    if (!written) return DONE;
    if (next.status === 'dead') {
      this.deps.logger.warn(
        { deliveryId: next.id, sessionId: next.sessionId, event: next.event, seq: next.seq, target: next.target.url, attempts: next.attempts, lastStatusCode: next.lastStatusCode, error: next.lastError },
        'webhook delivery dead-lettered',
      );
    } else if (next.status === 'failed') {
      this.deps.logger.debug({ deliveryId: next.id, target: next.target.url, attempts: next.attempts, retryInMs: delayMs, error: next.lastError }, 'webhook attempt failed; retrying');
    }
    return delayMs === null ? DONE : { outcome: 'retry', delayMs };
  }

  /** Dead-letters a delivery that cannot be attempted. */
  private async bury(record: DeliveryRecord, error: DeliveryError): Promise<SendJobResult> {
    const now = new Date().toISOString();
    await this.write(record, { ...record, status: 'dead', lastError: error, nextAttemptAt: null, completedAt: now, updatedAt: now });
    this.deps.logger.warn({ deliveryId: record.id, sessionId: record.sessionId, target: record.target.url, error }, 'webhook delivery dead-lettered without an attempt');
    return DONE;
  }

  /** Writes `next` unless the delivery moved on meanwhile (another run); whether it was written. */
  private async write(record: DeliveryRecord, next: DeliveryRecord): Promise<boolean> {
    const written = await this.deps.store.modify(
      record.id,
      (current) => (current.run === record.run && !FINAL_STATUSES.has(current.status) ? { record: next, result: true } : { result: false }),
      record,
    );
    return written === true;
  }
}

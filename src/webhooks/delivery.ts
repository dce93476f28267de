import { createHash, randomBytes } from 'node:crypto';

/**
 * One webhook delivery: one envelope to one target (contract "Events and webhooks"). Every
 * attempt updates it; it ends `delivered` (2xx) or `dead` (last attempt failed, 410, or the target
 * went away). A manual retry puts a finished delivery back to `pending` (a new run: the retry
 * schedule starts again, the envelope id — the `webhook-id` — stays).
 */

export const DELIVERY_STATUSES = ['pending', 'failed', 'delivered', 'dead'] as const;
/**
 * `pending`: queued or being attempted; `failed`: the last attempt failed and another is scheduled
 * (`nextAttemptAt`); `delivered`: a 2xx answer; `dead`: dead-lettered, the lane moved on.
 */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['delivered', 'dead']);

/** Why an attempt failed (or why a delivery died without one). */
export const DELIVERY_ERROR_CODES = [
  /** A non-2xx answer other than those below. */
  'HTTP_ERROR',
  /** 3xx: redirects are never followed. */
  'REDIRECT_NOT_FOLLOWED',
  /** 410: the target is disabled until the session's webhooks are replaced. */
  'GONE',
  /** No answer within WEBHOOK_TIMEOUT. */
  'TIMEOUT',
  /** DNS, refused, reset, TLS… */
  'CONNECTION_ERROR',
  /** The SSRF guard refused the address at delivery time (not in WEBHOOK_ALLOWED_HOSTS). */
  'URL_FORBIDDEN',
  /** The target is disabled (410 earlier): nothing sent. */
  'TARGET_DISABLED',
  /** The target is no longer configured (webhooks replaced, session deleted, APP_WEBHOOK_URL changed): nothing sent. */
  'TARGET_REMOVED',
  /** The stored body expired before the delivery could be made. */
  'BODY_EXPIRED',
] as const;
export type DeliveryErrorCode = (typeof DELIVERY_ERROR_CODES)[number];

export interface DeliveryError {
  code: DeliveryErrorCode;
  message: string;
}

export interface DeliveryAttempt {
  /** ISO-8601 start of the attempt. */
  at: string;
  /** HTTP status answered; null without an answer. */
  statusCode: number | null;
  error: DeliveryError | null;
  durationMs: number;
}

export type TargetKind = 'app' | 'session';

export interface DeliveryTarget {
  /** `app` (APP_WEBHOOK_URL) or `w<12 hex>` (a session webhook, from its URL). */
  id: string;
  kind: TargetKind;
  /** The URL without userinfo: safe to show and log. */
  url: string;
}

export interface DeliveryRecord {
  /** `dlv_` + 24 hex. */
  id: string;
  /** The envelope id: the `webhook-id` header. */
  eventId: string;
  event: string;
  seq: number;
  sessionId: string;
  target: DeliveryTarget;
  /** `event`: made when the event happened; `replay`: made by POST /webhooks/replay. */
  origin: 'event' | 'replay';
  status: DeliveryStatus;
  /** Attempts made, over every run. */
  attempts: number;
  lastStatusCode: number | null;
  lastError: DeliveryError | null;
  createdAt: string;
  updatedAt: string;
  lastAttemptAt: string | null;
  /** When the next attempt is due (`failed`, or `pending` with a first delay). */
  nextAttemptAt: string | null;
  /** When it became `delivered` or `dead`. */
  completedAt: string | null;
  /** The latest attempts, oldest first (at most {@link HISTORY_LIMIT}). */
  history: DeliveryAttempt[];
  /** Manual retries so far; the queue job of run n is `<id>.<n>` (older jobs are ignored). */
  run: number;
  /** Attempts in the current run: the position in WEBHOOK_RETRY_SCHEDULE. */
  runAttempts: number;
}

export const HISTORY_LIMIT = 20;

export const DELIVERY_ID_PATTERN = /^dlv_[0-9a-f]{24}$/;

/**
 * The id of the delivery of an event to a target: derived, so that the same event fanned out
 * twice (after a crash) finds the delivery it made the first time.
 */
export function eventDeliveryId(eventId: string, laneKey: string): string {
  return `dlv_${createHash('sha256').update(`${eventId}|${laneKey}`).digest('hex').slice(0, 24)}`;
}

export function randomDeliveryId(): string {
  return `dlv_${randomBytes(12).toString('hex')}`;
}

/** The queue job of a delivery's run (BullMQ job ids must not contain `:`). */
export function deliveryJobId(record: Pick<DeliveryRecord, 'id' | 'run'>): string {
  return `${record.id}.${record.run}`;
}

/** Joins the delivery job ids of a job that carries several deliveries of one lane, in order. */
export const DELIVERY_JOB_SEPARATOR = ',';

/** The deliveries a queue job carries, in order; null when any part is not a delivery job id. */
export function parseDeliveryJobIds(jobId: string): { id: string; run: number }[] | null {
  const refs: { id: string; run: number }[] = [];
  for (const part of jobId.split(DELIVERY_JOB_SEPARATOR)) {
    const ref = parseDeliveryJobId(part);
    if (!ref) return null;
    refs.push(ref);
  }
  return refs;
}

export function parseDeliveryJobId(jobId: string): { id: string; run: number } | null {
  const match = /^(dlv_[0-9a-f]{24})\.(\d{1,9})$/.exec(jobId);
  if (!match?.[1] || !match[2]) return null;
  return { id: match[1], run: Number(match[2]) };
}

/** A new delivery, `pending`; `firstDelayMs` > 0 postpones the first attempt (WEBHOOK_RETRY_SCHEDULE[0]). */
export function newDelivery(input: {
  id: string;
  eventId: string;
  event: string;
  seq: number;
  sessionId: string;
  target: DeliveryTarget;
  origin: DeliveryRecord['origin'];
  now: Date;
  firstDelayMs: number;
}): DeliveryRecord {
  const now = input.now.toISOString();
  return {
    id: input.id,
    eventId: input.eventId,
    event: input.event,
    seq: input.seq,
    sessionId: input.sessionId,
    target: input.target,
    origin: input.origin,
    status: 'pending',
    attempts: 0,
    lastStatusCode: null,
    lastError: null,
    createdAt: now,
    updatedAt: now,
    lastAttemptAt: null,
    nextAttemptAt: input.firstDelayMs > 0 ? new Date(input.now.getTime() + input.firstDelayMs).toISOString() : null,
    completedAt: null,
    history: [],
    run: 0,
    runAttempts: 0,
  };
}

/** The record with one more attempt logged (history capped). */
export function withAttempt(record: DeliveryRecord, attempt: DeliveryAttempt): DeliveryRecord {
  const history = [...record.history, attempt];
  return {
    ...record,
    attempts: record.attempts + 1,
    runAttempts: record.runAttempts + 1,
    lastStatusCode: attempt.statusCode,
    lastError: attempt.error,
    lastAttemptAt: attempt.at,
    updatedAt: new Date().toISOString(),
    history: history.slice(-HISTORY_LIMIT),
  };
}

/** What the API shows: everything but the internal run counters. */
export type DeliveryView = Omit<DeliveryRecord, 'run' | 'runAttempts'>;

export function toDeliveryView(record: DeliveryRecord): DeliveryView {
  const { run: _run, runAttempts: _runAttempts, ...view } = record;
  return view;
}

import { randomHex } from '../random-hex.js';

/**
 * The Message object of `../shared/docs/api.md` ("Messages"), as stored by a MessageStore and
 * returned by the API, plus the status rules every driver applies (one function, so that the
 * memory and Redis drivers cannot disagree).
 */

export const MESSAGE_DIRECTIONS = ['outbound', 'inbound'] as const;
export type MessageDirection = (typeof MESSAGE_DIRECTIONS)[number];

export const MESSAGE_STATUSES = ['queued', 'sent', 'delivered', 'read', 'played', 'failed', 'received'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** The statuses an outbound record moves forward through, in order. */
export const OUTBOUND_PROGRESS = ['queued', 'sent', 'delivered', 'read', 'played'] as const;
export type OutboundProgressStatus = (typeof OUTBOUND_PROGRESS)[number];

export interface MessageError {
  code: string;
  message: string;
}

export interface MessageLatency {
  /** createdAt → sentAt, ms. */
  toSentMs: number | null;
  /** createdAt → deliveredAt, ms. */
  toDeliveredMs: number | null;
  /** createdAt → readAt, ms. */
  toReadMs: number | null;
  /** Inbound only: WhatsApp's timestamp of the message → the gateway received it, ms. */
  receivedMs?: number | null;
}

export interface MessageRecord {
  /** Ours: `msg_…`. */
  id: string;
  sessionId: string;
  chatId: string;
  direction: MessageDirection;
  /** A send type of the contract (`text`, `image`, …) or, inbound, whatever WhatsApp reported. */
  type: string;
  status: MessageStatus;
  clientRef: string | null;
  /** WhatsApp's id, once WhatsApp Web holds the message. */
  waMessageId: string | null;
  content: Record<string, unknown>;
  attempts: number;
  error: MessageError | null;
  /** ISO-8601 UTC with milliseconds, like every timestamp below. */
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  readAt: string | null;
  playedAt: string | null;
  failedAt: string | null;
  latency: MessageLatency;
  /**
   * Internal (never in API bodies or events): when the send worker began the engine call that is
   * still unconcluded. Set before the engine is called and cleared with its outcome, so that a
   * job redelivered after a crash can tell "maybe sent" from "not sent".
   */
  sendingSince?: string | null;
}

/** A new record: a fresh id, created now, every status time, error and latency still empty. */
export function newRecord(
  fields: Pick<MessageRecord, 'sessionId' | 'chatId' | 'direction' | 'type' | 'status' | 'content'> & Partial<Omit<MessageRecord, 'sendingSince'>>,
): MessageRecord {
  // Field by field, not `{ ...defaults, ...fields }`: a spread into a literal is a runtime copy,
  // measurable on the accept path (~1 % of an accept's CPU).
  return {
    // Made only when not given (the accept path makes its id first, for the idempotency key).
    id: fields.id ?? newMessageId(),
    sessionId: fields.sessionId,
    chatId: fields.chatId,
    direction: fields.direction,
    type: fields.type,
    status: fields.status,
    clientRef: fields.clientRef ?? null,
    waMessageId: fields.waMessageId ?? null,
    content: fields.content,
    attempts: fields.attempts ?? 0,
    error: fields.error ?? null,
    createdAt: fields.createdAt ?? new Date().toISOString(),
    sentAt: fields.sentAt ?? null,
    deliveredAt: fields.deliveredAt ?? null,
    readAt: fields.readAt ?? null,
    playedAt: fields.playedAt ?? null,
    failedAt: fields.failedAt ?? null,
    latency: fields.latency ?? { toSentMs: null, toDeliveredMs: null, toReadMs: null },
  };
}

/** A new record id: `msg_` + 24 lowercase hex characters. */
export function newMessageId(): string {
  return `msg_${randomHex(12)}`;
}

/**
 * A status change reported by the send worker or a `message_ack` event. `at` is when it happened
 * (ISO-8601). `waMessageId`, when given, is recorded if the record has none yet.
 */
export type StatusUpdate =
  | { status: 'sent' | 'delivered' | 'read' | 'played'; at: string; waMessageId?: string }
  | { status: 'failed'; at: string; error: MessageError; waMessageId?: string };

export interface StatusOutcome {
  /** The record after the update (equal to the input when nothing changed). */
  record: MessageRecord;
  /** The status moved. */
  changed: boolean;
  /** Something must be written (the status moved, or a waMessageId was filled in). */
  dirty: boolean;
}

const RANK: Record<OutboundProgressStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3, played: 4 };
const TIMESTAMP = { sent: 'sentAt', delivered: 'deliveredAt', read: 'readAt', played: 'playedAt' } as const;
const TIMED_STATUSES = ['sent', 'delivered', 'read', 'played'] as const;

function isProgress(status: MessageStatus): status is OutboundProgressStatus {
  return status in RANK;
}

function since(createdMs: number, at: string | null): number | null {
  return at === null ? null : Math.max(0, Date.parse(at) - createdMs);
}

/**
 * The status rules ("statuses never go backwards"), applied by every driver:
 * - outbound records move forward only: queued → sent → delivered → read → played. An update to a
 *   status at or below the current one (a late or duplicate ack) is ignored. Skipping ahead
 *   (queued → delivered, when the ack beats the worker's result) also fills the skipped
 *   timestamps with the same `at`: reaching `delivered` implies it was sent.
 * - `failed` is accepted only from `queued` or `sent` (WhatsApp's ack -1 comes before delivery);
 *   once delivered, a failure is ignored. `failed` is terminal: nothing moves it again.
 * - inbound records stay `received`; status updates never apply to them.
 * - each timestamp is set once, when its status is first reached; latencies are derived from
 *   them and `createdAt`.
 */
export function applyStatusUpdate(record: MessageRecord, update: StatusUpdate): StatusOutcome {
  // A copy deep enough for what changes here (status, times, error, latency); content is shared.
  const next: MessageRecord = { ...record, latency: { ...record.latency }, error: record.error ? { ...record.error } : null };
  let dirty = false;
  if (update.waMessageId !== undefined && next.waMessageId === null && next.direction === 'outbound') {
    next.waMessageId = update.waMessageId;
    dirty = true;
  }
  const current = record.status;
  let changed = false;
  if (record.direction === 'outbound' && isProgress(current)) {
    if (update.status === 'failed') {
      if (current === 'queued' || current === 'sent') {
        next.status = 'failed';
        next.failedAt = update.at;
        next.error = { code: update.error.code, message: update.error.message };
        changed = true;
      }
    } else if (RANK[update.status] > RANK[current]) {
      next.status = update.status;
      for (const status of TIMED_STATUSES) {
        if (RANK[status] > RANK[update.status]) break;
        const field = TIMESTAMP[status];
        if (next[field] === null) next[field] = update.at;
      }
      changed = true;
    }
  }
  if (changed) {
    const createdMs = Date.parse(next.createdAt);
    next.latency = {
      ...next.latency,
      toSentMs: since(createdMs, next.sentAt),
      toDeliveredMs: since(createdMs, next.deliveredAt),
      toReadMs: since(createdMs, next.readAt),
    };
  }
  return { record: changed || dirty ? next : record, changed, dirty: changed || dirty };
}

/** The largest latency a record has measured (any of them), or null when none is known yet. */
export function maxLatencyMs(record: MessageRecord): number | null {
  const { toSentMs, toDeliveredMs, toReadMs, receivedMs } = record.latency;
  const known = [toSentMs, toDeliveredMs, toReadMs, receivedMs ?? null].filter((v): v is number => v !== null);
  return known.length === 0 ? null : Math.max(...known);
}

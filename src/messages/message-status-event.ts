import type { EventBus } from '../events/event-bus.js';
import type { MessageRecord } from './message.js';

/** The fields of a record that the `message.status` event carries. */
export type MessageStatusFields = Pick<MessageRecord, 'id' | 'waMessageId' | 'clientRef' | 'status' | 'error' | 'chatId' | 'attempts'>;

/**
 * The `message.status` event's data (contract: "gateway send outcome, on every status change of an
 * outbound record"): `id, waMessageId, clientRef, status, error` + `chatId, attempts, at` (seconds).
 */
export function messageStatusData(record: MessageStatusFields, occurredAt: Date): Record<string, unknown> {
  return {
    id: record.id,
    waMessageId: record.waMessageId,
    clientRef: record.clientRef,
    status: record.status,
    error: record.error,
    chatId: record.chatId,
    attempts: record.attempts,
    at: Math.floor(occurredAt.getTime() / 1000),
  };
}

/** Publishes the `message.status` event of `record`'s current status. */
export function publishMessageStatus(bus: EventBus, record: MessageRecord): void {
  const occurredAt = new Date();
  bus.publish({ sessionId: record.sessionId, event: 'message.status', data: messageStatusData(record, occurredAt), occurredAt });
}

/** The record as the API returns it: without internal fields. */
export function toPublicMessage(record: MessageRecord): MessageRecord {
  if (!('sendingSince' in record)) return record;
  const { sendingSince: _internal, ...rest } = record;
  return rest;
}

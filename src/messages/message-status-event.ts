import type { EventBus } from '../events/event-bus.js';
import type { MessageRecord } from './message.js';

/**
 * The `message.status` event (contract: "gateway send outcome, on every status change of an
 * outbound record"): `id, waMessageId, clientRef, status, error` + `chatId, attempts, at`.
 */
export function publishMessageStatus(bus: EventBus, record: MessageRecord): void {
  const occurredAt = new Date();
  bus.publish({
    sessionId: record.sessionId,
    event: 'message.status',
    data: {
      id: record.id,
      waMessageId: record.waMessageId,
      clientRef: record.clientRef,
      status: record.status,
      error: record.error,
      chatId: record.chatId,
      attempts: record.attempts,
      at: Math.floor(occurredAt.getTime() / 1000),
    },
    occurredAt,
  });
}

/** The record as the API returns it: without internal fields. */
export function toPublicMessage(record: MessageRecord): MessageRecord {
  if (!('sendingSince' in record)) return record;
  const { sendingSince: _internal, ...rest } = record;
  return rest;
}

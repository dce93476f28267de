import type { MessageError, MessageRecord } from './message.js';
import { applyStatusUpdate } from './message.js';

/**
 * The record changes of one send attempt, as pure functions for `MessageStore.modify` (atomic on
 * both drivers). The rule they keep: a record is handed to the engine only after `sendingSince`
 * is written, and `sendingSince` is cleared only with the attempt's outcome. A worker that finds
 * `sendingSince` still set (its predecessor died during the engine call) cannot know whether
 * WhatsApp got the message, so it never sends again: the record fails `SEND_INTERRUPTED`.
 */

export type BeginOutcome = 'started' | 'interrupted' | 'not_queued';

/** Claims the record for an engine call: attempts + 1, `sendingSince` set. */
export function beginAttempt(at: string) {
  return (record: MessageRecord): { record?: MessageRecord; result: { outcome: BeginOutcome; record: MessageRecord } } => {
    if (record.status !== 'queued' || record.waMessageId !== null) return { result: { outcome: 'not_queued', record } };
    if (record.sendingSince) return { result: { outcome: 'interrupted', record } };
    const next = { ...record, attempts: record.attempts + 1, sendingSince: at };
    return { record: next, result: { outcome: 'started', record: next } };
  };
}

/**
 * The engine took the message: WhatsApp's id recorded and the record `sent`. whatsapp-web.js
 * resolves `sendMessage` once WhatsApp Web holds the message and is sending it to the server (ack
 * 0); its ack 1 follows within moments. Waiting for that ack would leave a record `queued` for good
 * when the ack is never seen (the process died in between), so the handoff is what `sent` means.
 */
export function attemptSucceeded(waMessageId: string, at: string) {
  return (record: MessageRecord): { record: MessageRecord; result: { record: MessageRecord; changed: boolean } } => {
    const outcome = applyStatusUpdate({ ...record, sendingSince: null }, { status: 'sent', at, waMessageId });
    return { record: outcome.record, result: { record: outcome.record, changed: outcome.changed } };
  };
}

/** The engine refused before taking the message: the attempt is over, the record stays queued. */
export function attemptEnded() {
  return (record: MessageRecord): { record?: MessageRecord; result: MessageRecord } =>
    record.sendingSince ? { record: { ...record, sendingSince: null }, result: { ...record, sendingSince: null } } : { result: record };
}

/** Ends a queued record as failed (permanent error, expiry, interruption, deletion). */
export function failQueued(error: MessageError, at: string) {
  return (record: MessageRecord): { record?: MessageRecord; result: { record: MessageRecord; changed: boolean } } => {
    if (record.status !== 'queued') return { result: { record, changed: false } };
    const outcome = applyStatusUpdate({ ...record, sendingSince: null }, { status: 'failed', at, error });
    return { record: outcome.record, result: { record: outcome.record, changed: outcome.changed } };
  };
}

export type CancelOutcome = 'cancelled' | 'in_flight' | 'not_queued';

/** DELETE on a queued record: cancelled unless the engine call is running or WhatsApp has it. */
export function cancelQueued(at: string) {
  return (record: MessageRecord): { record?: MessageRecord; result: { outcome: CancelOutcome; record: MessageRecord } } => {
    if (record.status !== 'queued' || record.waMessageId !== null) return { result: { outcome: 'not_queued', record } };
    if (record.sendingSince) return { result: { outcome: 'in_flight', record } };
    const outcome = applyStatusUpdate(record, { status: 'failed', at, error: { code: 'CANCELLED', message: 'Cancelled before it was sent' } });
    return { record: outcome.record, result: { outcome: 'cancelled', record: outcome.record } };
  };
}

/** The phone number resolved to WhatsApp's canonical id (it may differ, e.g. Brazil's ninth digit). */
export function resolveChat(chatId: string) {
  return (record: MessageRecord): { record?: MessageRecord; result: MessageRecord } =>
    record.chatId === chatId ? { result: record } : { record: { ...record, chatId }, result: { ...record, chatId } };
}

import type { GatewayEvent } from './event-bus.js';

/**
 * The envelope every event travels in (contract "Events and webhooks"): seed 002's base structure
 * plus `id`, `seq` and `occurredAt`. `seq` increases by exactly one per session across all its
 * events (surviving restarts in Redis mode), so a consumer can order events and spot gaps. `id`
 * is the Standard Webhooks `webhook-id`: identical on every retry and replay of the event.
 */
export interface EventEnvelope {
  /** `evt_` + 24 lowercase hex characters. */
  id: string;
  seq: number;
  sessionId: string;
  event: string;
  /** Unix seconds of `occurredAt`. */
  timestamp: number;
  /** ISO-8601 UTC with milliseconds. */
  occurredAt: string;
  data: Record<string, unknown>;
}

/** Receives every envelope once it is in the event log, per session in `seq` order. */
export type EnvelopeListener = (envelope: EventEnvelope) => void;

/**
 * Where envelopes come from, for the webhook dispatcher and the SSE stream: the event recorder
 * (bus → event log → listeners) implements it.
 */
export interface EnvelopeSource {
  /** Subscribes to new envelopes; returns the unsubscribe function. */
  onEnvelope(listener: EnvelopeListener): () => void;
  /** Envelopes of a session with `seq > afterSeq`, oldest first, at most `limit` (what the log still holds). */
  read(sessionId: string, afterSeq: number, limit: number): Promise<EventEnvelope[]>;
}

export function toEnvelope(event: GatewayEvent, id: string, seq: number): EventEnvelope {
  return {
    id,
    seq,
    sessionId: event.sessionId,
    event: event.event,
    timestamp: Math.floor(event.occurredAt.getTime() / 1000),
    occurredAt: event.occurredAt.toISOString(),
    data: event.data,
  };
}

/** Whether a value read back from a log has an envelope's fields (their types, not their content). */
function isEnvelope(value: unknown): value is EventEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const v: Partial<Record<keyof EventEnvelope, unknown>> = value;
  return (
    typeof v.id === 'string' &&
    typeof v.seq === 'number' &&
    typeof v.sessionId === 'string' &&
    typeof v.event === 'string' &&
    typeof v.timestamp === 'number' &&
    typeof v.occurredAt === 'string' &&
    typeof v.data === 'object' &&
    v.data !== null
  );
}

/** An envelope from the JSON a log stored; throws on something else (a key written by another program). */
export function parseStoredEnvelope(json: string): EventEnvelope {
  const value: unknown = JSON.parse(json);
  if (!isEnvelope(value)) throw new Error(`not an event envelope: ${json.slice(0, 80)}`);
  return value;
}

import { z } from 'zod';
import { SESSION_ID_PATTERN } from '../sessions/session.js';
import { MAX_EVENT_PAGE_LIMIT } from '../storage/event-log.js';
import { EVENT_NAMES, envelopeSchema, exampleEnvelope, isEventName } from './event-schemas.js';

/** Limits of the event routes (documented in the OpenAPI document). */
export const EVENT_ROUTE_LIMITS = {
  /** Event names in `?events=`. */
  eventNames: 50,
  /** Session positions in `Last-Event-ID`. */
  resumePositions: 100,
  lastEventIdLength: 8_192,
} as const;

export const EventEnvelopeResponse = envelopeSchema(z.string().describe(`Event name: ${EVENT_NAMES.join(', ')}`), z.record(z.string(), z.unknown()).describe('The event\'s fields (see the `webhooks` section)')).meta({
  id: 'EventEnvelope',
  examples: [exampleEnvelope('message_ack')],
});

export const EventLogQuery = z
  .object({
    afterSeq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).describe('Events with seq > afterSeq (default 0: the oldest the log holds)'),
    limit: z.coerce.number().int().min(1).max(MAX_EVENT_PAGE_LIMIT).default(100).describe(`Page size, 1–${MAX_EVENT_PAGE_LIMIT}`),
  })
  .strict();

export const EventLogPage = z
  .object({
    data: z.array(EventEnvelopeResponse).describe('Oldest first'),
    nextAfterSeq: z.int().describe('Pass as ?afterSeq= to continue (or to poll): the seq of the last event returned, or afterSeq when none'),
    lastSeq: z.int().describe("The session's newest seq (0: none yet); below afterSeq after an embedded-mode restart, which starts seqs again at 1"),
    hasMore: z.boolean().describe('More events follow nextAfterSeq'),
  })
  .meta({ examples: [{ data: [exampleEnvelope('message_ack', 42)], nextAfterSeq: 42, lastSeq: 42, hasMore: false }] });

const EventNameList = z
  .string()
  .max(2_048)
  .transform((value) => [...new Set(value.split(',').map((name) => name.trim()).filter((name) => name.length > 0))])
  .refine((names) => names.length > 0 && names.length <= EVENT_ROUTE_LIMITS.eventNames, `1–${EVENT_ROUTE_LIMITS.eventNames} comma-separated event names`)
  .refine((names) => names.every((name) => name === '*' || isEventName(name)), `each name must be * or one of: ${EVENT_NAMES.join(', ')}`);

export const EventStreamQuery = z
  .object({
    sessionId: z.string().regex(SESSION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').optional().describe('Only this session (default: every session)'),
    events: EventNameList.optional().describe('Comma-separated event names, or * (default *)'),
  })
  .strict();

export const EventStreamHeaders = z.object({
  'last-event-id': z
    .string()
    .max(EVENT_ROUTE_LIMITS.lastEventIdLength)
    .optional()
    .describe(`Resume: \`<sessionId>:<seq>\` (the id of the last event received; sent by EventSource on reconnect), or up to ${EVENT_ROUTE_LIMITS.resumePositions} of them comma-separated to resume several sessions`),
});

const STREAM_EXAMPLE = [
  ': connected',
  '',
  `id: sales:42\nevent: message_ack\ndata: ${JSON.stringify(exampleEnvelope('message_ack'))}`,
  '',
  ': heartbeat',
  '',
  '',
].join('\n');

export const EventStreamResponse = {
  description: 'A `text/event-stream` that stays open: one SSE event per envelope (`id: <sessionId>:<seq>`, `event: <name>`, `data: <envelope JSON>`), and a `: heartbeat` comment every 15 s',
  content: { 'text/event-stream': { schema: z.string().meta({ examples: [STREAM_EXAMPLE] }) } },
};

/** A `Last-Event-ID` position. */
export interface ResumePosition {
  sessionId: string;
  seq: number;
}

/**
 * Parses `Last-Event-ID`: comma-separated `<sessionId>:<seq>`; a bare `<seq>` means `defaultSession`
 * (a stream filtered to one session). Null when malformed.
 */
export function parseLastEventId(value: string, defaultSession: string | undefined): ResumePosition[] | null {
  const positions: ResumePosition[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const match = /^(?:([A-Za-z0-9_-]{1,64}):)?(\d{1,15})$/.exec(item);
    const sessionId = match?.[1] ?? defaultSession;
    if (!match?.[2] || sessionId === undefined) return null;
    positions.push({ sessionId, seq: Number(match[2]) });
  }
  return positions.length <= EVENT_ROUTE_LIMITS.resumePositions ? positions : null;
}

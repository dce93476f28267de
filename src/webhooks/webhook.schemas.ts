import { z } from 'zod';
import { SESSION_ID_PATTERN } from '../sessions/session.js';
import { DELIVERY_ERROR_CODES, DELIVERY_ID_PATTERN, DELIVERY_STATUSES, HISTORY_LIMIT } from './delivery.js';
import { REPLAY_MAX_EVENTS } from './webhook-service.js';

const DeliveryErrorView = z.object({
  code: z.enum(DELIVERY_ERROR_CODES).describe('Why the attempt failed (or why the delivery died without one)'),
  message: z.string(),
});

const EXAMPLE_DELIVERY = {
  id: 'dlv_5f0c6a1e9b2d4c8a7e3f1b20',
  eventId: 'evt_6a1f3c9e2b7d4e0f8a5c1d3b',
  event: 'message',
  seq: 42,
  sessionId: 'sales',
  target: { id: 'app', kind: 'app', url: 'https://monolith.example.com/webhooks/whatsapp' },
  origin: 'event',
  status: 'failed',
  attempts: 2,
  lastStatusCode: 503,
  lastError: { code: 'HTTP_ERROR', message: 'HTTP 503' },
  createdAt: '2026-11-21T12:00:00.000Z',
  updatedAt: '2026-11-21T12:00:05.210Z',
  lastAttemptAt: '2026-11-21T12:00:05.100Z',
  nextAttemptAt: '2026-11-21T12:05:11.000Z',
  completedAt: null,
  history: [
    { at: '2026-11-21T12:00:00.010Z', statusCode: null, error: { code: 'TIMEOUT', message: 'no answer within 10000 ms' }, durationMs: 10002 },
    { at: '2026-11-21T12:00:05.100Z', statusCode: 503, error: { code: 'HTTP_ERROR', message: 'HTTP 503' }, durationMs: 110 },
  ],
} as const;

export const DeliveryResponse = z
  .object({
    id: z.string().describe('Delivery id (`dlv_…`)'),
    eventId: z.string().describe('The envelope id: the `webhook-id` header, identical on every retry and replay'),
    event: z.string(),
    seq: z.int().describe("The envelope's seq in its session"),
    sessionId: z.string(),
    target: z
      .object({
        id: z.string().describe('`app` (APP_WEBHOOK_URL) or `w<hex>` (a session webhook, derived from its URL)'),
        kind: z.enum(['app', 'session']),
        url: z.string().describe('Target URL without credentials; secrets are never shown'),
      })
      .describe('Where it goes'),
    origin: z.enum(['event', 'replay']).describe('`event`: made when the event happened; `replay`: made by POST /webhooks/replay'),
    status: z
      .enum(DELIVERY_STATUSES)
      .describe('`pending`: queued or being attempted; `failed`: the last attempt failed, another is scheduled (`nextAttemptAt`); `delivered`: a 2xx answer; `dead`: dead-lettered after the last attempt (or 410, or target gone)'),
    attempts: z.int().describe('Attempts made, manual retries included'),
    lastStatusCode: z.int().nullable().describe('HTTP status of the last attempt; null without an answer'),
    lastError: DeliveryErrorView.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    lastAttemptAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable().describe('When the next attempt is due'),
    completedAt: z.string().nullable().describe('When it became delivered or dead'),
    history: z
      .array(z.object({ at: z.string(), statusCode: z.int().nullable(), error: DeliveryErrorView.nullable(), durationMs: z.int() }))
      .describe(`The latest attempts, oldest first (at most ${HISTORY_LIMIT})`),
  })
  .meta({ id: 'WebhookDelivery', examples: [EXAMPLE_DELIVERY] });

export const DeliveryIdParams = z.object({
  deliveryId: z.string().regex(DELIVERY_ID_PATTERN, 'must be a delivery id (dlv_ + 24 hex)').describe('Delivery id'),
});

export const ListDeliveriesQuery = z
  .object({
    sessionId: z.string().regex(SESSION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').optional().describe('Only this session'),
    status: z.enum(DELIVERY_STATUSES).optional().describe('Only deliveries in this status'),
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size, 1–200'),
    cursor: z.string().max(512).optional().describe('nextCursor of the previous page'),
  })
  .strict();

export const DeliveryPageResponse = z
  .object({
    data: z.array(DeliveryResponse).describe('Newest first'),
    nextCursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page'),
  })
  .meta({ examples: [{ data: [EXAMPLE_DELIVERY], nextCursor: null }] });

const IsoTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time, e.g. 2026-11-21T12:00:00.000Z' });

export const ReplayBody = z
  .object({
    sessionId: z.string().regex(SESSION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').optional().describe('Only this session (default: every session)'),
    since: IsoTime.describe('Events whose occurredAt is at or after this'),
    until: IsoTime.optional().describe('…and before this (default: now)'),
  })
  .strict()
  .meta({ examples: [{ sessionId: 'sales', since: '2026-11-21T12:00:00.000Z', until: '2026-11-21T13:00:00.000Z' }] });

export const ReplayResponse = z
  .object({
    events: z.int().describe('Events found in the range'),
    queued: z.int().describe('Deliveries queued: each event to every enabled target whose filter takes it'),
    truncated: z.boolean().describe(`True when the range held more than ${REPLAY_MAX_EVENTS} events: only the first ${REPLAY_MAX_EVENTS} were queued; replay the rest with a later since`),
  })
  .meta({ examples: [{ events: 120, queued: 240, truncated: false }] });

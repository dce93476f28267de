import { z } from 'zod';
import { SessionIdParams } from '../sessions/session.schemas.js';
import { MESSAGE_DIRECTIONS, MESSAGE_STATUSES } from './message.js';
import { MESSAGE_LIMITS } from './message.schemas.js';

/** Schemas of the Messages routes' params, queries and responses (the send body is message.schemas.ts). */

const Iso = z.string().describe('ISO-8601 UTC with milliseconds');

export const MessageResponse = z
  .object({
    id: z.string().describe('Ours: msg_…'),
    sessionId: z.string(),
    chatId: z.string().describe('For a phone number: the canonical id WhatsApp resolved it to'),
    direction: z.enum(MESSAGE_DIRECTIONS),
    type: z.string(),
    status: z
      .enum(MESSAGE_STATUSES)
      .describe('queued → sent (WhatsApp Web took it and gave it an id; ack 1 follows) → delivered (ack 2) → read (3) → played (4), or failed; inbound: received. Never goes backwards'),
    clientRef: z.string().nullable(),
    waMessageId: z.string().nullable().describe("WhatsApp's id, once WhatsApp Web holds the message"),
    content: z.record(z.string(), z.unknown()).describe('The body sent (media without its bytes), or what was received'),
    attempts: z.number().int().describe('Engine calls made'),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    createdAt: Iso,
    sentAt: Iso.nullable(),
    deliveredAt: Iso.nullable(),
    readAt: Iso.nullable(),
    playedAt: Iso.nullable(),
    failedAt: Iso.nullable(),
    latency: z.object({
      toSentMs: z.number().nullable(),
      toDeliveredMs: z.number().nullable(),
      toReadMs: z.number().nullable(),
      receivedMs: z.number().nullable().optional().describe('Inbound: WhatsApp timestamp → gateway'),
    }),
  })
  .meta({
    id: 'Message',
    examples: [
      {
        id: 'msg_5f0c2a9e8b7d6c5b4a392817',
        sessionId: 'sales',
        chatId: '5511999999999@c.us',
        direction: 'outbound',
        type: 'text',
        status: 'delivered',
        clientRef: 'order-123',
        waMessageId: 'true_5511999999999@c.us_3EB0C767D26A1D4A8F10',
        content: { text: 'Olá!', linkPreview: false },
        attempts: 1,
        error: null,
        createdAt: '2026-11-22T12:00:00.000Z',
        sentAt: '2026-11-22T12:00:00.412Z',
        deliveredAt: '2026-11-22T12:00:01.030Z',
        readAt: null,
        playedAt: null,
        failedAt: null,
        latency: { toSentMs: 412, toDeliveredMs: 1030, toReadMs: null },
      },
    ],
  });

export const MessageParams = SessionIdParams.extend({
  messageId: z.string().min(1).max(MESSAGE_LIMITS.replyToLength).regex(/^\S+$/, 'must be a message id').describe('Ours (msg_…) or WhatsApp’s'),
});

const IsoQuery = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' });

export const HistoryQuery = z
  .object({
    chatId: z.string().min(1).max(MESSAGE_LIMITS.toLength).optional(),
    direction: z.enum(MESSAGE_DIRECTIONS).optional(),
    status: z.enum(MESSAGE_STATUSES).optional(),
    type: z.string().min(1).max(32).optional(),
    since: IsoQuery.optional().describe('createdAt ≥ since'),
    until: IsoQuery.optional().describe('createdAt < until'),
    latencyOverMs: z.coerce.number().int().min(0).max(86_400_000).optional().describe("Any measured latency above this (seed 003's high-latency list: 5000)"),
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size, 1–200'),
    cursor: z.string().max(512).optional().describe('nextCursor of the previous page'),
  })
  .strict();

export const StatsQuery = z.object({ since: IsoQuery.optional(), until: IsoQuery.optional() }).strict();

const Percentiles = z.object({ count: z.number().int(), p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

export const StatsResponse = z
  .object({
    since: z.string().nullable(),
    until: z.string().nullable(),
    total: z.number().int(),
    byStatus: z.record(z.enum(MESSAGE_STATUSES), z.number().int()),
    byDirection: z.record(z.enum(MESSAGE_DIRECTIONS), z.number().int()),
    latency: z.object({ toSentMs: Percentiles, toDeliveredMs: Percentiles, toReadMs: Percentiles, receivedMs: Percentiles }).describe('Nearest-rank percentiles, ms'),
    under5s: z
      .object({ basis: z.literal('toSentMs'), thresholdMs: z.number(), count: z.number().int(), of: z.number().int(), share: z.number().nullable() })
      .describe('Share of outbound messages sent within 5 s of acceptance'),
  })
  .meta({
    id: 'MessageStats',
    examples: [
      {
        since: '2026-11-22T00:00:00.000Z',
        until: null,
        total: 120,
        byStatus: { queued: 2, sent: 10, delivered: 40, read: 48, played: 0, failed: 3, received: 17 },
        byDirection: { outbound: 103, inbound: 17 },
        latency: {
          toSentMs: { count: 101, p50: 380, p95: 1200, p99: 4100 },
          toDeliveredMs: { count: 88, p50: 900, p95: 3100, p99: 6400 },
          toReadMs: { count: 48, p50: 60000, p95: 540000, p99: 900000 },
          receivedMs: { count: 17, p50: 250, p95: 700, p99: 900 },
        },
        under5s: { basis: 'toSentMs', thresholdMs: 5000, count: 100, of: 101, share: 0.990099 },
      },
    ],
  });

export const EditBody = z
  .object({ text: z.string().min(1).max(MESSAGE_LIMITS.textLength).refine((t) => t.trim().length > 0, 'must not be blank') })
  .strict()
  .meta({ examples: [{ text: 'Olá! (corrigido)' }] });

export const RevokeQuery = z
  .object({ forEveryone: z.enum(['true', 'false']).default('true').transform((v) => v === 'true').describe('false: delete for me only') })
  .strict();

export const RevokeResponse = z
  .object({
    id: z.string().nullable().describe('Ours, when the message went through the gateway'),
    waMessageId: z.string().nullable(),
    result: z.enum(['cancelled', 'revoked', 'deleted_for_me']).describe('cancelled: it was still queued and will not be sent'),
    message: MessageResponse.nullable(),
  })
  .meta({ id: 'RevokeResult' });

export const ReactionBody = z
  .object({ emoji: z.string().max(16).describe('One emoji; "" removes the reaction') })
  .strict()
  .meta({ examples: [{ emoji: '👍' }, { emoji: '' }] });

export const ActionResponse = z
  .object({
    id: z.string().nullable().describe('Ours, when the message went through the gateway'),
    waMessageId: z.string(),
    message: MessageResponse.nullable().describe('The record after the action, when the gateway has one'),
  })
  .meta({ id: 'MessageActionResult' });

export const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(MESSAGE_LIMITS.idempotencyKeyLength).optional().describe('Repeat-safe key, scoped to the session, kept 24 h'),
});

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';
import { errorResponses, page } from '../http/schemas.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import type { MessageStore } from '../storage/message-store.js';
import { InvalidCursorError } from '../storage/message-store.js';
import type { MessageActions } from './message-actions.js';
import type { MessageService } from './message-service.js';
import { toPublicMessage } from './message-status-event.js';
import {
  ActionResponse,
  EditBody,
  HistoryQuery,
  IdempotencyHeaders,
  MessageParams,
  MessageResponse,
  ReactionBody,
  RevokeQuery,
  RevokeResponse,
  StatsQuery,
  StatsResponse,
} from './message.responses.js';
import { base64DecodedBytes, MESSAGE_LIMITS, SEND_MESSAGE_EXAMPLES, sendMessageBody } from './message.schemas.js';

const tags = ['Messages'];

export interface MessageRoutesOptions {
  service: MessageService;
  actions: MessageActions;
  store: MessageStore;
  mediaMaxBytes: number;
}

/** Room for base64 media of MEDIA_MAX_BYTES (4/3 of it) plus the rest of the body. */
export function sendBodyLimit(mediaMaxBytes: number): number {
  return Math.ceil(mediaMaxBytes / 3) * 4 + 64 * 1024;
}

export async function messageRoutes(parent: FastifyInstance, options: MessageRoutesOptions): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { service, actions, store, mediaMaxBytes } = options;
  // The size cap is checked after validation so that it answers 413 MEDIA_TOO_LARGE, not 400.
  const SendBody = sendMessageBody({ mediaMaxBytes: Number.MAX_SAFE_INTEGER });

  app.post('/api/v1/sessions/:id/messages', {
    bodyLimit: sendBodyLimit(mediaMaxBytes),
    // The hot route: its answer is a record this service built (typed, internal fields removed by
    // toPublicMessage), so it is serialised as is instead of being re-validated by zod on the way out.
    serializerCompiler: () => (data) => JSON.stringify(data),
    config: { bodyExamples: SEND_MESSAGE_EXAMPLES.filter((example) => example.type !== 'buttons' && example.type !== 'list') },
    schema: {
      tags,
      summary: 'Queue a send',
      description: [
        'Answers 202 with the stored Message once the send is durably queued; the outcome arrives as `message.status` events (and in the record).',
        'Sends of one session leave in accepted order, paced by SEND_MIN_INTERVAL_MS + up to SEND_JITTER_MS. Transient failures retry with exponential backoff (SEND_RETRY_DELAY, doubling) up to SEND_MAX_ATTEMPTS; a send not possible within SEND_TTL fails SEND_EXPIRED.',
        'A session that is stopped or failed → 409 SESSION_NOT_READY; starting, qr, authenticated or disconnected → 202, queued until ready.',
        '`Idempotency-Key`: a repeat with the same body within 24 h returns the original Message with header `idempotent-replayed: true`; another body → 422 IDEMPOTENCY_KEY_REUSED.',
        `Limits: text ≤ ${MESSAGE_LIMITS.textLength}, caption ≤ ${MESSAGE_LIMITS.captionLength}, mentions ≤ ${MESSAGE_LIMITS.mentions}, poll options ${MESSAGE_LIMITS.pollOptionsMin}–${MESSAGE_LIMITS.pollOptionsMax}, clientRef ≤ ${MESSAGE_LIMITS.clientRefLength}, media ≤ MEDIA_MAX_BYTES (base64 or fetched) → 413 MEDIA_TOO_LARGE.`,
        'Media URLs: http(s) only; private, loopback, link-local and metadata addresses → 422 MEDIA_URL_FORBIDDEN unless the host is in MEDIA_ALLOWED_HOSTS. `buttons` and `list` → 422 NOT_SUPPORTED_BY_ENGINE.',
      ].join('\n\n'),
      params: SessionIdParams,
      headers: IdempotencyHeaders,
      body: SendBody,
      response: {
        202: MessageResponse,
        ...errorResponses('SESSION_NOT_FOUND', 'SESSION_NOT_READY', 'PAYLOAD_TOO_LARGE', 'MEDIA_TOO_LARGE', 'NOT_SUPPORTED_BY_ENGINE', 'IDEMPOTENCY_KEY_REUSED', 'MEDIA_URL_FORBIDDEN', 'SHUTTING_DOWN', 'STORE_UNAVAILABLE'),
      },
    },
    handler: async (request, reply) => {
      const body = request.body;
      if ('media' in body && 'data' in body.media && base64DecodedBytes(body.media.data) > mediaMaxBytes) {
        throw new AppError('MEDIA_TOO_LARGE', `The media decodes to ${base64DecodedBytes(body.media.data)} bytes; MEDIA_MAX_BYTES is ${mediaMaxBytes}`);
      }
      const { record, replayed } = await service.accept(request.params.id, body, request.headers['idempotency-key']);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(toPublicMessage(record));
    },
  });

  app.get('/api/v1/sessions/:id/messages', {
    schema: {
      tags,
      summary: 'Message history, both directions, newest first',
      description: 'Filters combine. `latencyOverMs=5000` lists the messages with any measured latency above 5 s.',
      params: SessionIdParams,
      querystring: HistoryQuery,
      response: { 200: page(MessageResponse), ...errorResponses('SESSION_NOT_FOUND') },
    },
    handler: async (request) => {
      service.assertSession(request.params.id);
      try {
        const result = await store.list(request.params.id, request.query);
        return { data: result.data.map(toPublicMessage), nextCursor: result.nextCursor };
      } catch (error) {
        if (error instanceof InvalidCursorError) throw new AppError('VALIDATION_ERROR', error.message, [{ path: 'querystring.cursor', message: error.message }]);
        throw error;
      }
    },
  });

  app.get('/api/v1/sessions/:id/messages/stats', {
    schema: {
      tags,
      summary: 'Counts and latency percentiles',
      description: 'Over the messages created in [since, until): counts by status and direction; p50/p95/p99 to sent, delivered and read; inbound receive latency; share sent within 5 s.',
      params: SessionIdParams,
      querystring: StatsQuery,
      response: { 200: StatsResponse, ...errorResponses('SESSION_NOT_FOUND') },
    },
    handler: async (request) => {
      service.assertSession(request.params.id);
      return store.stats(request.params.id, request.query);
    },
  });

  app.get('/api/v1/sessions/:id/messages/:messageId', {
    schema: { tags, summary: 'One message', params: MessageParams, response: { 200: MessageResponse, ...errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND') } },
    handler: async (request) => toPublicMessage(await service.require(request.params.id, request.params.messageId)),
  });

  app.patch('/api/v1/sessions/:id/messages/:messageId', {
    schema: {
      tags,
      summary: 'Edit a sent text (or caption)',
      description: '409 MESSAGE_NOT_SENT while WhatsApp does not have it yet; 422 EDIT_NOT_ALLOWED when WhatsApp refuses (not ours, too old).',
      params: MessageParams,
      body: EditBody,
      response: { 200: ActionResponse, ...errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'SESSION_NOT_READY', 'MESSAGE_NOT_SENT', 'EDIT_NOT_ALLOWED', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request) => publicResult(await actions.edit(request.params.id, request.params.messageId, request.body.text)),
  });

  app.delete('/api/v1/sessions/:id/messages/:messageId', {
    schema: {
      tags,
      summary: 'Revoke for everyone (or delete for me); cancel a queued send',
      description: 'On a message still queued: cancels it (`failed`, `CANCELLED`; result `cancelled`). 422 REVOKE_NOT_ALLOWED when WhatsApp would only delete it for me (not ours, too old).',
      params: MessageParams,
      querystring: RevokeQuery,
      response: { 200: RevokeResponse, ...errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'SESSION_NOT_READY', 'MESSAGE_NOT_SENT', 'REVOKE_NOT_ALLOWED', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request) => {
      const result = await actions.revoke(request.params.id, request.params.messageId, request.query.forEveryone);
      return { ...result, message: result.message ? toPublicMessage(result.message) : null };
    },
  });

  app.post('/api/v1/sessions/:id/messages/:messageId/reaction', {
    schema: {
      tags,
      summary: 'React to a message ("" removes the reaction)',
      params: MessageParams,
      body: ReactionBody,
      response: { 200: ActionResponse, ...errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'SESSION_NOT_READY', 'MESSAGE_NOT_SENT', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request) => publicResult(await actions.react(request.params.id, request.params.messageId, request.body.emoji)),
  });
}

function publicResult<T extends { message: Parameters<typeof toPublicMessage>[0] | null }>(result: T): T {
  return { ...result, message: result.message ? toPublicMessage(result.message) : null };
}

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { qrRenderer } from './qr-renderer.js';
import { z } from 'zod';
import { errorResponses, page, paginate } from '../http/schemas.js';
import type { SessionManager } from './session-manager.js';
import {
  CreateSessionBody,
  ListSessionsQuery,
  PairingCodeBody,
  PairingCodeResponse,
  QrResponse,
  ReplaceWebhooksBody,
  SessionIdParams,
  SessionResponse,
  SessionWebhookView,
  UpdateSessionBody,
} from './session.schemas.js';

const tags = ['Sessions'];

export async function sessionRoutes(parent: FastifyInstance, options: { sessions: SessionManager }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions } = options;

  app.post('/api/v1/sessions', {
    schema: {
      tags,
      summary: 'Create (and by default start) a session',
      description: 'Unknown engine → 400; an engine this gateway does not run → 422. The id is generated (`sess_<random>`) when absent.',
      body: CreateSessionBody,
      response: { 201: SessionResponse, ...errorResponses('SESSION_EXISTS', 'SESSION_LIMIT_REACHED', 'NOT_SUPPORTED_BY_ENGINE', 'WEBHOOK_URL_FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'SHUTTING_DOWN') },
    },
    handler: async (request, reply) => reply.code(201).send(await sessions.create(request.body)),
  });

  app.get('/api/v1/sessions', {
    schema: {
      tags,
      summary: 'List sessions',
      querystring: ListSessionsQuery,
      response: { 200: page(SessionResponse), ...errorResponses() },
    },
    handler: async (request) => paginate(sessions.list(request.query.status), (s) => `${s.createdAt}|${s.id}`, request.query.limit, request.query.cursor),
  });

  app.get('/api/v1/sessions/:id', {
    schema: { tags, summary: 'One session', params: SessionIdParams, response: { 200: SessionResponse, ...errorResponses('SESSION_NOT_FOUND') } },
    handler: async (request) => sessions.get(request.params.id),
  });

  app.patch('/api/v1/sessions/:id', {
    schema: {
      tags,
      summary: 'Change metadata and/or webhooks',
      params: SessionIdParams,
      body: UpdateSessionBody,
      response: { 200: SessionResponse, ...errorResponses('SESSION_NOT_FOUND', 'WEBHOOK_URL_FORBIDDEN') },
    },
    handler: async (request) => sessions.update(request.params.id, request.body),
  });

  app.get('/api/v1/sessions/:id/webhooks', {
    schema: {
      tags,
      summary: "The session's webhook targets (secrets never returned)",
      params: SessionIdParams,
      response: { 200: z.object({ webhooks: z.array(SessionWebhookView) }), ...errorResponses('SESSION_NOT_FOUND') },
    },
    handler: async (request) => ({ webhooks: sessions.get(request.params.id).webhooks }),
  });

  app.put('/api/v1/sessions/:id/webhooks', {
    schema: {
      tags,
      summary: "Replace the session's webhook targets",
      description: 'Replacing re-enables a target disabled by a 410 answer.',
      params: SessionIdParams,
      body: ReplaceWebhooksBody,
      response: { 200: z.object({ webhooks: z.array(SessionWebhookView) }), ...errorResponses('SESSION_NOT_FOUND', 'WEBHOOK_URL_FORBIDDEN') },
    },
    handler: async (request) => ({ webhooks: (await sessions.update(request.params.id, { webhooks: request.body.webhooks })).webhooks }),
  });

  app.delete('/api/v1/sessions/:id', {
    schema: {
      tags,
      summary: 'Stop and delete a session with its auth data',
      params: SessionIdParams,
      response: { 204: z.null().describe('Deleted'), ...errorResponses('SESSION_NOT_FOUND') },
    },
    handler: async (request, reply) => {
      await sessions.delete(request.params.id);
      return reply.code(204).send(null);
    },
  });

  const lifecycle = [
    ['start', 'Start a stopped or failed session', (id: string) => sessions.start(id)],
    ['stop', 'Stop a session (auth data kept)', (id: string) => sessions.stop(id)],
    ['restart', 'Stop and start again', (id: string) => sessions.restart(id)],
    ['logout', 'Unlink the device and drop auth data; the session stays, stopped', (id: string) => sessions.logout(id)],
  ] as const;
  for (const [action, summary, run] of lifecycle) {
    app.post(`/api/v1/sessions/:id/${action}`, {
      schema: { tags, summary, params: SessionIdParams, response: { 200: SessionResponse, ...errorResponses('SESSION_NOT_FOUND', 'SHUTTING_DOWN') } },
      handler: async (request) => run(request.params.id),
    });
  }

  app.get('/api/v1/sessions/:id/qr', {
    schema: {
      tags,
      summary: 'Current QR code',
      description: 'JSON by default; the PNG itself with `Accept: image/png`. 409 QR_NOT_AVAILABLE unless the status is `qr`.',
      params: SessionIdParams,
      response: {
        200: {
          description: 'The QR code',
          content: { 'application/json': { schema: QrResponse }, 'image/png': { schema: z.string().describe('PNG bytes') } },
        },
        ...errorResponses('SESSION_NOT_FOUND', 'QR_NOT_AVAILABLE'),
      },
    },
    handler: async (request, reply) => {
      const { qr, expiresAt } = sessions.qrOf(request.params.id);
      const accept = request.headers.accept ?? '';
      if (/\bimage\/png\b/.test(accept) && !/\bapplication\/json\b/.test(accept)) {
        const png = await qrRenderer.png(qr, { width: 300 });
        return sendBinary(reply, 'image/png', png);
      }
      const image = await qrRenderer.dataUrl(qr, { width: 300 });
      return reply.header('cache-control', 'no-store').send({ qr, image, expiresAt: expiresAt.toISOString() });
    },
  });

  app.post('/api/v1/sessions/:id/pairing-code', {
    config: { bodyExamples: [{ phone: '+55 11 99999-9999' }] },
    schema: {
      tags,
      summary: 'Link by phone number instead of QR',
      description: 'Only while the status is `qr`; the code rotates at most WHATSAPP_QR_MAX_RETRIES times per start.',
      params: SessionIdParams,
      body: PairingCodeBody,
      response: { 200: PairingCodeResponse, ...errorResponses('SESSION_NOT_FOUND', 'QR_NOT_AVAILABLE', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request) => {
      const { code, expiresAt } = await sessions.requestPairingCode(request.params.id, request.body.phone);
      return { code, expiresAt: expiresAt.toISOString() };
    },
  });
}


/** Sends bytes as they are: Fastify skips serialization for Buffers, whatever the route's schema. */
function sendBinary(reply: FastifyReply, type: string, bytes: Buffer): FastifyReply {
  return reply.type(type).header('cache-control', 'no-store').send(bytes);
}

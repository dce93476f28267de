import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import { InvalidEventCursorError } from '../storage/event-log.js';
import { InvalidCursorError } from '../storage/message-store.js';
import type { WebhookService } from './webhook-service.js';
import { DeliveryIdParams, DeliveryPageResponse, DeliveryResponse, ListDeliveriesQuery, ReplayBody, ReplayResponse } from './webhook.schemas.js';

const tags = ['Webhooks'];

export async function webhookRoutes(parent: FastifyInstance, options: { webhooks: WebhookService }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { webhooks } = options;

  app.get('/api/v1/webhooks/deliveries', {
    schema: {
      tags,
      summary: 'Webhook deliveries (the attempts log)',
      description:
        'One entry per event and target, newest first, with its attempts: status, attempt count, last HTTP status and error, timestamps and the latest attempts. ' +
        'Kept 7 days after their last change in Redis mode; in embedded mode the newest 10,000 (deliveries still to be made are never dropped). Target URLs are shown without credentials; secrets never.',
      querystring: ListDeliveriesQuery,
      response: { 200: DeliveryPageResponse, ...errorResponses() },
    },
    handler: async (request) => {
      const { sessionId, status, limit, cursor } = request.query;
      try {
        return await webhooks.list({ sessionId, status, limit, cursor });
      } catch (error) {
        if (error instanceof InvalidCursorError) throw new AppError('VALIDATION_ERROR', error.message, [{ path: 'querystring.cursor', message: error.message }]);
        throw error;
      }
    },
  });

  app.post('/api/v1/webhooks/deliveries/:deliveryId/retry', {
    schema: {
      tags,
      summary: 'Send one delivery again',
      description:
        'Same envelope, same `webhook-id` (consumers deduplicate on it). A `delivered` or `dead` delivery goes back to `pending` at the tail of its lane ' +
        "(after the session's deliveries already queued for that target) and gets the whole WEBHOOK_RETRY_SCHEDULE again. " +
        'A `pending` or `failed` one is already queued: it is returned unchanged. A delivery whose target is now disabled (410) or gone ends `dead` without an attempt.',
      params: DeliveryIdParams,
      response: { 202: DeliveryResponse, ...errorResponses('DELIVERY_NOT_FOUND', 'SHUTTING_DOWN', 'STORE_UNAVAILABLE') },
    },
    handler: async (request, reply) => reply.code(202).send(await webhooks.retry(request.params.deliveryId)),
  });

  app.post('/api/v1/webhooks/replay', {
    schema: {
      tags,
      summary: 'Send a range of events again',
      description:
        'Reads the events whose `occurredAt` is in [since, until) from the event log (one session, or every session) and queues them again — new deliveries, `origin: "replay"`, the same `webhook-id`s — ' +
        "to every target that is enabled and whose filter takes them now, per session and target in seq order, after what is already queued. Only what the event log still holds can be replayed. " +
        `At most 10,000 events per request (\`truncated\`). An unknown sessionId → 404.`,
      body: ReplayBody,
      response: { 202: ReplayResponse, ...errorResponses('SESSION_NOT_FOUND', 'SHUTTING_DOWN', 'STORE_UNAVAILABLE') },
    },
    handler: async (request, reply) => {
      const result = await webhooks.replay(request.body).catch((error: unknown) => {
        if (error instanceof InvalidEventCursorError || error instanceof RangeError) throw new AppError('VALIDATION_ERROR', error.message);
        throw error;
      });
      return reply.code(202).send(result);
    },
  });
}

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { ERROR_CODES, RECORD_ERROR_CODES } from '../errors.js';
import { webhooksDocument } from '../events/event-schemas.js';
import { SESSION_LIMITS } from '../sessions/session.schemas.js';

function description(): string {
  const httpCodes = Object.entries(ERROR_CODES)
    .map(([code, status]) => `| ${status} | \`${code}\` |`)
    .join('\n');
  return [
    'HTTP API of whatsapp-gateway. Every route but the open health probes needs an API key: `x-api-key`, `x-28web-gateway-key`, `Authorization: Bearer <key>` or the header named by `API_KEY_HEADER`.',
    '',
    'Errors always have the shape `{ statusCode, code, error, message, details }`; `details` lists `{ path, message }` for validation errors.',
    '',
    '| HTTP | code |',
    '|---|---|',
    httpCodes,
    '',
    `Record and session error codes (\`error.code\`, \`lastError.code\`): ${RECORD_ERROR_CODES.map((c) => `\`${c}\``).join(', ')}.`,
    '',
    `Limits: session ids \`^[A-Za-z0-9_-]{1,64}$\`; at most ${SESSION_LIMITS.webhooks} webhooks per session, ${SESSION_LIMITS.eventsPerWebhook} event names each, URLs ≤ ${SESSION_LIMITS.urlLength} chars; metadata ≤ ${SESSION_LIMITS.metadataKeys} keys (key ≤ ${SESSION_LIMITS.metadataKeyLength}, value ≤ ${SESSION_LIMITS.metadataValueLength} chars); request bodies ≤ 1 MiB unless a route says otherwise; pages of 1–200 items (the event log: 1–1000).`,
  ].join('\n');
}

/**
 * zod drops `examples` from bodies whose schema transforms (the send body normalises `to`), and the
 * provider rebuilds body schemas after `transform`; so a route gives them in `config.bodyExamples`
 * and they are put on the finished document.
 */
function bodyExamplesPatcher(app: FastifyInstance): typeof jsonSchemaTransformObject {
  const wanted: { path: string; method: string; examples: readonly unknown[] }[] = [];
  app.addHook('onRoute', (route) => {
    const examples = route.config?.bodyExamples;
    if (!examples) return;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of [route.method].flat()) wanted.push({ path, method: method.toLowerCase(), examples });
  });
  return (input) => {
    const document = jsonSchemaTransformObject(input) as { paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> } }>> };
    for (const { path, method, examples } of wanted) {
      const media = document.paths?.[path]?.[method]?.requestBody?.content?.['application/json'];
      if (media?.schema) media.schema = { ...media.schema, examples };
    }
    return document;
  };
}

/**
 * Adds the OpenAPI 3.1 `webhooks` section — one entry per contract event, its envelope and `data`
 * schemas (components `<Event>Event`, `<Event>EventData`) and an example — to the finished document.
 */
function withWebhooks(transform: typeof jsonSchemaTransformObject): typeof jsonSchemaTransformObject {
  const { webhooks, schemas } = webhooksDocument();
  return (input) => {
    const document = transform(input) as { components?: { schemas?: Record<string, unknown> }; webhooks?: Record<string, unknown> };
    document.components = { ...document.components, schemas: { ...document.components?.schemas, ...schemas } };
    document.webhooks = webhooks;
    return document as ReturnType<typeof jsonSchemaTransformObject>;
  };
}

async function openApiPlugin(app: FastifyInstance, options: { version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'whatsapp-gateway', version: options.version, description: description() },
      tags: [
        { name: 'Sessions', description: 'Session lifecycle' },
        { name: 'Messages', description: 'Sends (queued, ordered, paced, retried, idempotent), history, stats and actions' },
        { name: 'Contacts', description: 'Synced contacts (cached), number lookup, profile pictures' },
        { name: 'Chats', description: 'Chats, read receipts and presence' },
        { name: 'Webhooks', description: 'Delivery log, retries and replays' },
        { name: 'Simulator', description: 'Controls of the simulated phone (engine "simulator" only)' },
        { name: 'Events', description: 'The event log of each session and the live event stream (SSE); every event is also a webhook (see `webhooks`)' },
        { name: 'Webhook events', description: 'What the gateway POSTs to webhook targets (the `webhooks` section), signed per Standard Webhooks' },
        { name: 'Health', description: 'Probes and health' },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          gatewayKey: { type: 'apiKey', in: 'header', name: 'x-28web-gateway-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { gatewayKey: [] }, { bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: withWebhooks(bodyExamplesPatcher(app)),
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true } });
}

export const openApi = fp(openApiPlugin, { name: 'openapi', fastify: '5.x' });

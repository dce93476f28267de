import { z } from 'zod';
import { ENGINE_NAMES } from '../engines/engine.js';
import { normalizePhone } from '../messages/phone-number.js';
import { isValidWebhookSecret } from '../webhooks/webhook-signer.js';
import { SESSION_ID_PATTERN, SESSION_STATUSES } from './session.js';

/** Limits of the session routes (documented in the OpenAPI document and the README). */
export const SESSION_LIMITS = {
  webhooks: 10,
  eventsPerWebhook: 50,
  urlLength: 2048,
  metadataKeys: 50,
  metadataKeyLength: 64,
  metadataValueLength: 1024,
  pushNameLength: 64,
} as const;

export const SessionIdParams = z.object({
  id: z.string().regex(SESSION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').describe('Session id'),
});

export const PhoneNumber = z
  .string()
  .max(32)
  .refine((value) => normalizePhone(value) !== null, 'must be a phone number in international form (8–15 digits)')
  .transform((value) => normalizePhone(value) ?? value);

const EventName = z.string().min(1).max(64).regex(/^(\*|[a-z_.]+)$/, 'must be an event name or *');

export const WebhookInput = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(SESSION_LIMITS.urlLength)
      .describe('http(s) URL; a host that is or resolves to a private, loopback, link-local or cloud-metadata address is refused (422 WEBHOOK_URL_FORBIDDEN) unless listed in WEBHOOK_ALLOWED_HOSTS; redirects are never followed'),
    events: z.array(EventName).min(1).max(SESSION_LIMITS.eventsPerWebhook).optional().describe('Exact event names or *; default ["*"]'),
    secret: z
      .string()
      .max(256)
      .refine((secret) => isValidWebhookSecret(secret) && secret.length >= 'whsec_'.length + 16, 'must be a Standard Webhooks secret: whsec_<padded base64, at least 16 chars>')
      .optional()
      .describe('Signing secret; never returned'),
  })
  .strict();

export const Metadata = z
  .record(z.string().min(1).max(SESSION_LIMITS.metadataKeyLength), z.string().max(SESSION_LIMITS.metadataValueLength))
  .refine((m) => Object.keys(m).length <= SESSION_LIMITS.metadataKeys, `at most ${SESSION_LIMITS.metadataKeys} keys`);

export const CreateSessionBody = z
  .object({
    id: z.string().regex(SESSION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').optional().describe('Generated as sess_<random> when absent'),
    engine: z.enum(ENGINE_NAMES).optional().describe('Default: DEFAULT_ENGINE'),
    webhooks: z.array(WebhookInput).max(SESSION_LIMITS.webhooks).optional(),
    metadata: Metadata.optional(),
    start: z.boolean().optional().describe('Start at once (default true)'),
  })
  .strict()
  .meta({ examples: [{ id: 'sales', engine: 'simulator', metadata: { team: 'sales' }, webhooks: [{ url: 'https://app.example.com/webhook/whatsapp', events: ['message', 'message_ack'] }] }] });

export const UpdateSessionBody = z
  .object({
    metadata: Metadata.optional().describe('Merged into the current metadata; a key set to "" is removed'),
    webhooks: z.array(WebhookInput).max(SESSION_LIMITS.webhooks).optional().describe('Replaces every target; re-enables targets disabled by 410'),
  })
  .strict()
  .meta({ examples: [{ metadata: { team: 'support' } }] });

export const ReplaceWebhooksBody = z
  .object({ webhooks: z.array(WebhookInput).max(SESSION_LIMITS.webhooks) })
  .strict()
  .meta({ examples: [{ webhooks: [{ url: 'https://backend.example.com/whatsapp/webhook', events: ['message', 'message_ack', 'message.status'], secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }] }] });

export const ListSessionsQuery = z.object({
  status: z.enum(SESSION_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});

const Me = z.object({ id: z.string(), phone: z.string(), pushName: z.string().nullable() });

export const SessionWebhookView = z
  .object({ url: z.string(), events: z.array(z.string()), disabled: z.boolean().describe('Disabled after a 410 answer'), hasSecret: z.boolean() })
  .meta({ id: 'SessionWebhook', examples: [{ url: 'https://app.example.com/webhook/whatsapp', events: ['message', 'message_ack'], disabled: false, hasSecret: true }] });

export const SessionResponse = z
  .object({
    id: z.string(),
    engine: z.enum(ENGINE_NAMES),
    status: z.enum(SESSION_STATUSES),
    me: Me.nullable(),
    metadata: z.record(z.string(), z.string()),
    webhooks: z.array(SessionWebhookView),
    createdAt: z.string(),
    updatedAt: z.string(),
    connectedAt: z.string().nullable(),
    lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
    stats: z.object({ sent: z.number(), received: z.number(), failed: z.number() }),
  })
  .meta({
    id: 'Session',
    examples: [
      {
        id: 'sales',
        engine: 'simulator',
        status: 'qr',
        me: null,
        metadata: {},
        webhooks: [{ url: 'https://app.example.com/webhook/whatsapp', events: ['message'], disabled: false, hasSecret: true }],
        createdAt: '2026-11-21T12:00:00.000Z',
        updatedAt: '2026-11-21T12:00:00.120Z',
        connectedAt: null,
        lastError: null,
        stats: { sent: 0, received: 0, failed: 0 },
      },
    ],
  });

export const QrResponse = z
  .object({
    qr: z.string().describe('Raw QR content'),
    image: z.string().describe('data:image/png;base64,…'),
    expiresAt: z.string().describe('Estimate: WhatsApp decides rotation'),
  })
  .meta({ examples: [{ qr: '2@AbC…,…', image: 'data:image/png;base64,iVBORw0KGgo…', expiresAt: '2026-11-21T12:01:00.000Z' }] });

export const PairingCodeBody = z.object({ phone: PhoneNumber.describe('The phone to link, international form') }).strict().meta({ examples: [{ phone: '+55 11 99999-9999' }] });

export const PairingCodeResponse = z.object({ code: z.string(), expiresAt: z.string() }).meta({ examples: [{ code: 'ABCD-EFGH', expiresAt: '2026-11-21T12:01:00.000Z' }] });

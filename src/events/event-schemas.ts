import { z } from 'zod';
import { MESSAGE_STATUSES } from '../messages/message.js';
import { SESSION_STATUSES } from '../sessions/session.js';

/**
 * The contract's events (`api.md` "Events and webhooks", seed 002's fields first, extras allowed):
 * one zod schema of `data` per event name, with an example, used for the OpenAPI `webhooks`
 * section (so a consumer can generate types) and by the tests that check what the code publishes.
 * Every event the gateway can publish has an entry here; `tests/unit/event-schemas.test.ts` fails
 * when a producer publishes a name or a field that is not documented.
 */

const Seconds = z.int().describe('Unix seconds');
const WaMessageId = z.string().describe("WhatsApp's message id (`true_<chat>_<id>` / `false_<chat>_<id>`)");
const ChatId = z.string().describe('Chat id (`<digits>@c.us`, `<id>@g.us`, `<id>@lid`…)');
const GatewayMessageId = z.string().describe('Our record id (`msg_…`), when the message went through the gateway');

const Location = z.strictObject({
  latitude: z.number(),
  longitude: z.number(),
  name: z.string().optional(),
  address: z.string().optional(),
  url: z.string().optional(),
});

const MediaRef = z.strictObject({ mediaId: z.string(), mimetype: z.string(), filename: z.string().nullable(), size: z.int(), url: z.string() });

const MessageData = z.looseObject({
  from: z.string().describe('Sender: chat id, or `<id>@lid` when WhatsApp hides the number'),
  to: z.string().describe('Our account id'),
  body: z.string().describe('Text or caption ("" for media without caption)'),
  messageId: WaMessageId,
  timestamp: Seconds.describe("WhatsApp's time of the message (Unix seconds)"),
  isGroup: z.boolean(),
  chatId: ChatId,
  fromPhone: z.string().nullable().optional().describe('Only when `from` is `@lid`: the sender\'s phone digits when known'),
  type: z.string().describe("whatsapp-web.js message type: chat, image, video, audio, ptt, document, sticker, location, vcard, …"),
  author: z.string().nullable().describe('Group messages: the member who wrote it'),
  hasMedia: z.boolean(),
  media: MediaRef.nullable().describe('The stored media (never inlined): `url` is the gateway route serving it (API key needed) until MEDIA_TTL; null without media or when it could not be stored'),
  mediaError: z.string().optional().describe('Why `media` is null although hasMedia is true: MEDIA_TOO_LARGE, MEDIA_STORE_FULL, MEDIA_STORE_FAILED, or the engine\'s reason (download failed, expired…)'),
  quotedMessageId: z.string().nullable(),
  mentions: z.array(z.string()),
  location: Location.optional(),
  fromMe: z.boolean().describe('false: `message` is what others send'),
});

const MessageCreateData = z.looseObject({
  id: WaMessageId,
  from: z.string(),
  to: z.string(),
  body: z.string(),
  timestamp: Seconds,
  author: z.string().optional().describe('Group messages only'),
  isForwarded: z.boolean(),
  isStatus: z.boolean(),
  fromMe: z.boolean(),
  chatId: ChatId,
  type: z.string(),
  gatewayMessageId: GatewayMessageId.optional(),
});

const MessageAckData = z.looseObject({
  messageId: WaMessageId,
  ack: z.literal([-1, 0, 1, 2, 3, 4]).describe("whatsapp-web.js's ack: -1 error, 0 pending, 1 server, 2 device, 3 read, 4 played"),
  timestamp: Seconds.describe('When the gateway saw the ack'),
  status: z.enum(['error', 'pending', 'sent', 'delivered', 'read', 'played']).describe('The name of `ack`'),
  chatId: ChatId,
  gatewayMessageId: GatewayMessageId.optional(),
});

const MessageEditData = z.looseObject({
  messageId: WaMessageId,
  newBody: z.string(),
  previousBody: z.string(),
  editedAt: Seconds,
  chatId: ChatId,
  gatewayMessageId: GatewayMessageId.optional(),
});

const MessageRevokeData = z.looseObject({ messageId: WaMessageId, revokedAt: Seconds, chatId: ChatId, gatewayMessageId: GatewayMessageId.optional() });

const MessageReactionData = z.looseObject({
  messageId: WaMessageId,
  reaction: z.string().describe('The emoji; "" when a reaction is removed'),
  senderId: z.string(),
  timestamp: Seconds,
});

const VoteUpdateData = z.looseObject({ messageId: WaMessageId.describe('The poll'), voter: z.string(), selectedOptions: z.array(z.string()), timestamp: Seconds });

const CallData = z.looseObject({ callId: z.string(), from: z.string(), isVideo: z.boolean(), isGroup: z.boolean(), timestamp: Seconds });

const GroupUpdateData = z.looseObject({
  kind: z.enum(['join', 'leave', 'admin_changed', 'update']),
  chatId: ChatId,
  author: z.string().nullable(),
  recipients: z.array(z.string()),
  subtype: z.string().describe("whatsapp-web.js's notification subtype (add, invite, remove, leave, promote, demote, subject, description, picture, …)"),
  body: z.string(),
  timestamp: Seconds,
});

const ChangeBatteryData = z.looseObject({ battery: z.number().describe('Percent'), plugged: z.boolean() });

const SessionStatusData = z.looseObject({
  status: z.enum(['connecting', 'connected', 'disconnected', 'qr_code']).describe('starting/authenticated → connecting; qr → qr_code; ready → connected; disconnected/failed/stopped → disconnected'),
  detail: z.enum(SESSION_STATUSES).describe('The gateway status'),
  reason: z.string().optional().describe('Why: a disconnect reason (LOGOUT, CONFLICT…), an error code (QR_TIMEOUT…), LOGOUT, IDLE_TIMEOUT or DELETED'),
});

const QrCodeData = z.looseObject({
  qrCode: z.string().describe('PNG, base64, no `data:` prefix'),
  timeout: z.int().describe('Life of this code, ms'),
  raw: z.string().describe('The QR payload itself'),
  attempt: z.int().describe('1-based number of this code since the session started'),
  maxAttempts: z.int().describe('WHATSAPP_QR_MAX_RETRIES: the session fails with QR_TIMEOUT after this many'),
});

const PairingCodeData = z.looseObject({ code: z.string(), expiresAt: Seconds });

const ConnectionStatusData = z.looseObject({
  state: z.enum(['open', 'connecting', 'closed', 'refused']).describe('CONNECTED → open; OPENING, PAIRING → connecting; TOS_BLOCK, SMB_TOS_BLOCK, PROXYBLOCK, DEPRECATED_VERSION → refused; anything else → closed'),
  lastSeen: Seconds.optional().describe('Last engine event time'),
  waState: z.string().describe("whatsapp-web.js's WAState"),
});

const DisconnectedData = z.looseObject({ reason: z.string().describe('whatsapp-web.js disconnect reason or gateway code'), isReconnectable: z.boolean() });

const MessageStatusData = z.looseObject({
  id: z.string().describe('Our record id (`msg_…`)'),
  waMessageId: z.string().nullable(),
  clientRef: z.string().nullable(),
  status: z.enum(MESSAGE_STATUSES),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  chatId: ChatId,
  attempts: z.int(),
  at: Seconds.describe('When the status changed'),
});

export interface EventDefinition {
  summary: string;
  data: z.ZodObject;
  example: Record<string, unknown>;
}

const QR_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** Every event name the gateway publishes, with its `data` schema and an example. */
export const EVENT_DEFINITIONS = {
  message: {
    summary: 'A message someone else sent (inbound)',
    data: MessageData,
    example: {
      from: '5511977776666@c.us',
      to: '5511988887777@c.us',
      body: 'Oi! Quero fazer este pedido',
      messageId: 'false_5511977776666@c.us_3EB0C0FFEE1234567890',
      timestamp: 1702323456,
      isGroup: false,
      chatId: '5511977776666@c.us',
      type: 'image',
      author: null,
      hasMedia: true,
      media: { mediaId: 'med_4f3c2b1a0e9d8c7b6a5f4e3d', mimetype: 'image/jpeg', filename: null, size: 48213, url: '/api/v1/sessions/sales/media/med_4f3c2b1a0e9d8c7b6a5f4e3d' },
      quotedMessageId: null,
      mentions: [],
      fromMe: false,
    },
  },
  message_create: {
    summary: 'Any new message of the account, either direction (own sends too, from the gateway or the phone)',
    data: MessageCreateData,
    example: {
      id: 'true_5511999991234@c.us_3EB0ABCDEF0123456789',
      from: '5511988887777@c.us',
      to: '5511999991234@c.us',
      body: 'Seu pedido saiu para entrega',
      timestamp: 1702323460,
      isForwarded: false,
      isStatus: false,
      fromMe: true,
      chatId: '5511999991234@c.us',
      type: 'chat',
      gatewayMessageId: 'msg_0123456789abcdef01234567',
    },
  },
  message_ack: {
    summary: 'A delivery receipt of an outbound message',
    data: MessageAckData,
    example: { messageId: 'true_5511999991234@c.us_3EB0ABCDEF0123456789', ack: 3, timestamp: 1702323470, status: 'read', chatId: '5511999991234@c.us', gatewayMessageId: 'msg_0123456789abcdef01234567' },
  },
  message_edit: {
    summary: 'A message was edited',
    data: MessageEditData,
    example: { messageId: 'false_5511977776666@c.us_3EB0C0FFEE1234567890', newBody: 'Quero fazer dois pedidos', previousBody: 'Quero fazer um pedido', editedAt: 1702323490, chatId: '5511977776666@c.us' },
  },
  message_revoke_everyone: {
    summary: 'A message was deleted for everyone',
    data: MessageRevokeData,
    example: { messageId: 'false_5511977776666@c.us_3EB0C0FFEE1234567890', revokedAt: 1702323500, chatId: '5511977776666@c.us' },
  },
  message_reaction: {
    summary: 'A reaction was added to (or removed from) a message',
    data: MessageReactionData,
    example: { messageId: 'true_5511999991234@c.us_3EB0ABCDEF0123456789', reaction: '👍', senderId: '5511999991234@c.us', timestamp: 1702323510 },
  },
  vote_update: {
    summary: 'A poll answer',
    data: VoteUpdateData,
    example: { messageId: 'true_5511999991234@c.us_3EB0POLL0123456789AB', voter: '5511999991234@c.us', selectedOptions: ['Terça'], timestamp: 1702323520 },
  },
  change_battery: {
    summary: "The phone's battery (not emitted by whatsapp-web.js for multi-device accounts; mapped when it comes)",
    data: ChangeBatteryData,
    example: { battery: 87, plugged: false },
  },
  'session.status': {
    summary: 'The session changed status (every change, persisted first)',
    data: SessionStatusData,
    example: { status: 'connected', detail: 'ready' },
  },
  qr_code: {
    summary: 'A new QR code to scan (each one replaces the last)',
    data: QrCodeData,
    example: { qrCode: QR_PNG, timeout: 60000, raw: '2@AbCdEf…,xYz…,AbC…,1', attempt: 1, maxAttempts: 5 },
  },
  pairing_code: {
    summary: 'A pairing code to type on the phone instead of scanning the QR',
    data: PairingCodeData,
    example: { code: 'ABCD1234', expiresAt: 1702323516 },
  },
  'connection.status': {
    summary: "WhatsApp Web's connection state changed",
    data: ConnectionStatusData,
    example: { state: 'open', lastSeen: 1702323456, waState: 'CONNECTED' },
  },
  disconnected: {
    summary: 'The engine lost its connection (a `session.status` follows: reconnecting or final)',
    data: DisconnectedData,
    example: { reason: 'CONFLICT', isReconnectable: true },
  },
  'message.status': {
    summary: 'A send of the gateway changed status (queued → sent → delivered → read, or failed)',
    data: MessageStatusData,
    example: {
      id: 'msg_0123456789abcdef01234567',
      waMessageId: 'true_5511999991234@c.us_3EB0ABCDEF0123456789',
      clientRef: 'order-123',
      status: 'delivered',
      error: null,
      chatId: '5511999991234@c.us',
      attempts: 1,
      at: 1702323465,
    },
  },
  call: {
    summary: 'An incoming call (not answered by the gateway)',
    data: CallData,
    example: { callId: 'CALL0123456789ABCDEF', from: '5511977776666@c.us', isVideo: false, isGroup: false, timestamp: 1702323530 },
  },
  group_update: {
    summary: 'A group changed: members joined or left, admins changed, subject/description/picture updated',
    data: GroupUpdateData,
    example: { kind: 'join', chatId: '120363012345678901@g.us', author: '5511988887777@c.us', recipients: ['5511977776666@c.us'], subtype: 'add', body: '', timestamp: 1702323540 },
  },
} as const satisfies Record<string, EventDefinition>;

export type EventName = keyof typeof EVENT_DEFINITIONS;
export const EVENT_NAMES = Object.keys(EVENT_DEFINITIONS) as EventName[];

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(EVENT_DEFINITIONS, name);
}

/** The envelope fields (`event-envelope.ts`) around a given `data` schema. */
export function envelopeSchema<D extends z.ZodType>(event: z.ZodType<string>, data: D) {
  return z.object({
    id: z.string().describe('`evt_` + 24 hex; the Standard Webhooks `webhook-id`, identical on every retry and replay'),
    seq: z.int().min(1).describe("The session's sequence number: +1 per event of the session, across all its events (a filtered consumer sees gaps)"),
    sessionId: z.string(),
    event,
    timestamp: Seconds.describe('Unix seconds of occurredAt'),
    occurredAt: z.iso.datetime().describe('ISO-8601 UTC with milliseconds'),
    data,
  });
}

/** An example envelope of an event (ids and times made up). */
export function exampleEnvelope(name: EventName, seq = 42): Record<string, unknown> {
  return {
    id: 'evt_5f0c1d2e3f4a5b6c7d8e9f01',
    seq,
    sessionId: 'sales',
    event: name,
    timestamp: 1702323456,
    occurredAt: '2023-12-11T19:37:36.123Z',
    data: EVENT_DEFINITIONS[name].example,
  };
}

const pascal = (name: string): string =>
  name
    .split(/[._]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** Component names: `<Pascal>Event` (the envelope) and `<Pascal>EventData`. */
export function eventSchemaName(name: EventName): string {
  return `${pascal(name)}Event`;
}

const WEBHOOK_DESCRIPTION = [
  'POSTed to `APP_WEBHOOK_URL` and to every matching target of the session (`webhooks[].events`: exact names or `*`), as JSON, signed per Standard Webhooks:',
  '`webhook-id` (= envelope `id`, the same on every retry and replay: deduplicate on it), `webhook-timestamp` (Unix seconds of the attempt) and',
  '`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, space-separated when several secrets are active). Delivery is at-least-once and in `seq` order per session and target.',
  'Answer 2xx to acknowledge; anything else, a timeout (WEBHOOK_TIMEOUT) or a connection error is retried on WEBHOOK_RETRY_SCHEDULE (`Retry-After` honoured on 429/503); 410 disables the target.',
].join(' ');

/** The OpenAPI 3.1 `webhooks` object and the component schemas it references. */
export function webhooksDocument(): { webhooks: Record<string, unknown>; schemas: Record<string, unknown> } {
  const registry = z.registry<{ id: string }>();
  for (const name of EVENT_NAMES) {
    const data = EVENT_DEFINITIONS[name].data;
    registry.add(data, { id: `${eventSchemaName(name)}Data` });
    const envelope = envelopeSchema(z.literal(name), data).meta({ description: EVENT_DEFINITIONS[name].summary, examples: [exampleEnvelope(name)] });
    registry.add(envelope, { id: eventSchemaName(name) });
  }
  const generated = z.toJSONSchema(registry, { target: 'draft-2020-12', io: 'output', uri: (id) => `#/components/schemas/${id}` }).schemas;
  const schemas: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(generated)) {
    const { $id: _id, $schema: _schema, ...rest } = schema as Record<string, unknown>;
    schemas[id] = rest;
  }
  const header = (name: string, description: string) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  const webhooks: Record<string, unknown> = {};
  for (const name of EVENT_NAMES) {
    webhooks[name] = {
      post: {
        operationId: `webhook_${name.replace(/\./g, '_')}`,
        tags: ['Webhook events'],
        summary: `${name}: ${EVENT_DEFINITIONS[name].summary}`,
        description: WEBHOOK_DESCRIPTION,
        security: [],
        parameters: [
          header('webhook-id', 'The envelope id (`evt_…`)'),
          header('webhook-timestamp', 'Unix seconds of this attempt'),
          header('webhook-signature', '`v1,<base64 signature>`, space-separated when several secrets are active'),
        ],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${eventSchemaName(name)}` }, example: exampleEnvelope(name) } },
        },
        responses: {
          '2XX': { description: 'Delivered' },
          '410': { description: 'Gone: the target is disabled until the session\'s webhooks are replaced' },
          default: { description: 'Failed attempt: retried on WEBHOOK_RETRY_SCHEDULE, then dead-lettered' },
        },
      },
    };
  }
  return { webhooks, schemas };
}

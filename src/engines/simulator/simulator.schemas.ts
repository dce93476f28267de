import { z } from 'zod';
import { ACK_STATUS } from '../../events/contract-events.js';
import { base64DecodedBytes } from '../../messages/message.schemas.js';
import { normalizePhone, parseRecipient } from '../../messages/phone-number.js';
import { KNOWN_DISCONNECT_REASONS } from '../../sessions/disconnect-reasons.js';
import type { AckLevel } from '../engine.js';
import { isSimulatedNumberOnWhatsApp, type SimulatedInbound } from './simulated-phone.js';

/** Limits of the simulator control routes (documented in the OpenAPI document). */
export const SIMULATOR_LIMITS = {
  addressLength: 64,
  textLength: 4096,
  /** Media travels inside the JSON body, which is capped at 1 MiB: 512 KiB decoded leaves room for base64. */
  mediaBytes: 512 * 1024,
  mimetypeLength: 255,
  filenameLength: 255,
  messageIdLength: 256,
  pushNameLength: 64,
  locationTextLength: 256,
  failNextSends: 1_000,
  sendLatencyMs: 60_000,
} as const;

export const INBOUND_TYPES = ['text', 'image', 'video', 'audio', 'document', 'sticker', 'location'] as const satisfies readonly SimulatedInbound['type'][];
const MEDIA_TYPES: readonly string[] = ['image', 'video', 'audio', 'document', 'sticker'];

export const ScanBody = z
  .object({
    phone: z
      .string()
      .max(32)
      .refine((p) => normalizePhone(p) !== null, 'must be a phone number (8–15 digits)')
      .optional()
      .describe('The simulated phone number (random when absent)'),
    pushName: z.string().min(1).max(SIMULATOR_LIMITS.pushNameLength).optional(),
  })
  .strict()
  .meta({ examples: [{ phone: '5511999999999', pushName: 'Sales phone' }] });

export const DisconnectBody = z
  .object({ reason: z.enum(KNOWN_DISCONNECT_REASONS).describe('A whatsapp-web.js disconnect reason') })
  .strict()
  .meta({ examples: [{ reason: 'CONFLICT' }] });

/** The chat a `from` writes from: a phone number becomes `<digits>@c.us`, a chat id is taken as it is; null when it is neither. */
export function inboundChatId(from: string): string | null {
  const recipient = parseRecipient(from);
  if (recipient === null) return null;
  return recipient.kind === 'phone' ? `${recipient.phone}@c.us` : recipient.chatId;
}

// Checked with refinements, not a transform: request bodies with transforms lose their examples in the OpenAPI document.
const From = z
  .string()
  .max(SIMULATOR_LIMITS.addressLength)
  .refine((from) => inboundChatId(from) !== null, 'must be a phone number in international form (8–15 digits) or a chat id (<digits>@c.us, <id>@g.us, <id>@lid, <id>@newsletter)')
  .refine((from) => {
    const chatId = inboundChatId(from);
    return chatId === null || !chatId.endsWith('@c.us') || isSimulatedNumberOnWhatsApp(chatId.slice(0, -'@c.us'.length));
  }, 'is not on WhatsApp in the simulator (numbers ending in 0000 are not): it cannot write to us')
  .describe('Who writes: a phone number in international form (becomes <digits>@c.us) or a chat id; a group id writes as the group');

const MessageId = z
  .string()
  .min(1)
  .max(SIMULATOR_LIMITS.messageIdLength)
  .regex(/^\S+$/, 'must be a WhatsApp message id (no spaces)')
  .describe("WhatsApp's message id (`waMessageId`), e.g. false_5511988887777@c.us_3EB0C0FFEE");

const MIMETYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"]*"))*$/;

const InboundMedia = z
  .object({
    data: z
      .base64('must be base64 (standard alphabet, padded)')
      .min(1)
      .refine((data) => base64DecodedBytes(data) <= SIMULATOR_LIMITS.mediaBytes, `must decode to at most ${SIMULATOR_LIMITS.mediaBytes} bytes`)
      .describe(`Base64 of the file, at most ${SIMULATOR_LIMITS.mediaBytes} bytes decoded (the whole body is capped at 1 MiB)`),
    mimetype: z.string().max(SIMULATOR_LIMITS.mimetypeLength).regex(MIMETYPE, 'must be a MIME type: type/subtype'),
    filename: z.string().min(1).max(SIMULATOR_LIMITS.filenameLength).optional(),
  })
  .strict()
  .describe(`{ data (base64, at most ${SIMULATOR_LIMITS.mediaBytes} bytes decoded), mimetype, filename? }`);

const InboundLocation = z
  .object({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    name: z.string().max(SIMULATOR_LIMITS.locationTextLength).optional(),
    address: z.string().max(SIMULATOR_LIMITS.locationTextLength).optional(),
  })
  .strict();

export const InboundBody = z
  .object({
    from: From,
    type: z.enum(INBOUND_TYPES).describe('text needs `text`; image, video, audio, document and sticker need `media`; location needs `location`'),
    text: z.string().min(1).max(SIMULATOR_LIMITS.textLength).optional().describe('The text of a text message, or the caption of a media message'),
    media: InboundMedia.optional(),
    location: InboundLocation.optional().describe('Only with type location (an extension of the contract body)'),
    quotedMessageId: MessageId.optional().describe('WhatsApp id of a message the simulated phone knows, to quote'),
    pushName: z.string().min(1).max(SIMULATOR_LIMITS.pushNameLength).optional().describe("The contact's own name, kept in the simulated address book (an extension of the contract body)"),
  })
  .strict()
  .superRefine((body, ctx) => {
    const isMedia = MEDIA_TYPES.includes(body.type);
    if (body.type === 'text' && body.text === undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'is required for type text' });
    if (isMedia && body.media === undefined) ctx.addIssue({ code: 'custom', path: ['media'], message: `is required for type ${body.type}` });
    if (!isMedia && body.media !== undefined) ctx.addIssue({ code: 'custom', path: ['media'], message: `is not allowed with type ${body.type}` });
    if (body.type === 'location' && body.location === undefined) ctx.addIssue({ code: 'custom', path: ['location'], message: 'is required for type location' });
    if (body.type !== 'location' && body.location !== undefined) ctx.addIssue({ code: 'custom', path: ['location'], message: `is not allowed with type ${body.type}` });
  })
  .meta({
    examples: [
      { from: '+55 11 98888-7777', type: 'text', text: 'Olá! Meu pedido já saiu?', pushName: 'Maria' },
      { from: '5511988887777@c.us', type: 'image', text: 'Foto do produto', media: { data: 'iVBORw0KGgo=', mimetype: 'image/png', filename: 'produto.png' } },
      { from: '5511988887777', type: 'location', location: { latitude: -23.5614, longitude: -46.6559, name: 'Av. Paulista' } },
    ],
  });

export const InboundResponse = z
  .object({
    waMessageId: z.string().describe("WhatsApp's id of the new inbound message"),
    chatId: z.string().describe('The chat it arrived in'),
  })
  .meta({ examples: [{ waMessageId: 'false_5511988887777@c.us_3EB0A1B2C3D4E5F60718', chatId: '5511988887777@c.us' }] });

const ACK_LEVELS = [-1, 0, 1, 2, 3, 4] as const satisfies readonly AckLevel[];

/** The ack level of a number the schema let through (-1..4). */
export function toAckLevel(ack: number): AckLevel {
  const level = ACK_LEVELS.find((l) => l === ack);
  if (level === undefined) throw new RangeError(`ack ${ack} is not a whatsapp-web.js ack level`);
  return level;
}

export const AckBody = z
  .object({
    messageId: MessageId,
    ack: z
      .number()
      .int()
      .min(-1)
      .max(4)
      .describe("whatsapp-web.js's ack level: -1 error, 0 pending, 1 server, 2 device, 3 read, 4 played"),
  })
  .strict()
  .meta({ examples: [{ messageId: 'true_5511988887777@c.us_3EB0A1B2C3D4E5F60718', ack: 3 }] });

export const AckResponse = z
  .object({
    messageId: z.string(),
    chatId: z.string(),
    ack: z.number().int(),
    status: z.enum(Object.values(ACK_STATUS) as [string, ...string[]]).describe('The name of the ack level, as in message_ack events'),
  })
  .meta({ examples: [{ messageId: 'true_5511988887777@c.us_3EB0A1B2C3D4E5F60718', chatId: '5511988887777@c.us', ack: 3, status: 'read' }] });

export const EditBody = z
  .object({ messageId: MessageId, text: z.string().min(1).max(SIMULATOR_LIMITS.textLength).describe('The new text (or caption)') })
  .strict()
  .meta({ examples: [{ messageId: 'false_5511988887777@c.us_3EB0A1B2C3D4E5F60718', text: 'Olá! Meu pedido 123 já saiu?' }] });

export const EditResponse = z
  .object({ messageId: z.string(), chatId: z.string(), newBody: z.string(), previousBody: z.string() })
  .meta({ examples: [{ messageId: 'false_5511988887777@c.us_3EB0A1B2C3D4E5F60718', chatId: '5511988887777@c.us', newBody: 'Olá! Meu pedido 123 já saiu?', previousBody: 'Olá! Meu pedido já saiu?' }] });

export const RevokeBody = z
  .object({ messageId: MessageId })
  .strict()
  .meta({ examples: [{ messageId: 'false_5511988887777@c.us_3EB0A1B2C3D4E5F60718' }] });

export const RevokeResponse = z
  .object({ messageId: z.string(), chatId: z.string(), revoked: z.literal(true) })
  .meta({ examples: [{ messageId: 'false_5511988887777@c.us_3EB0A1B2C3D4E5F60718', chatId: '5511988887777@c.us', revoked: true }] });

export const FaultsBody = z
  .object({
    failNextSends: z.number().int().min(0).max(SIMULATOR_LIMITS.failNextSends).optional().describe('The next n sends fail with a transient engine error (retried by the send queue); 0 clears'),
    sendLatencyMs: z.number().int().min(0).max(SIMULATOR_LIMITS.sendLatencyMs).optional().describe('Every send takes this long before WhatsApp has it; 0 clears'),
    autoAck: z.boolean().optional().describe('false turns the automatic server → device → read acks off (drive them with /simulator/ack)'),
  })
  .strict()
  .meta({ examples: [{ failNextSends: 2, sendLatencyMs: 1500 }, { autoAck: false }] });

export const FaultsResponse = z
  .object({ failNextSends: z.number().int(), sendLatencyMs: z.number().int(), autoAck: z.boolean() })
  .meta({ id: 'SimulatorFaults', examples: [{ failNextSends: 2, sendLatencyMs: 1500, autoAck: true }] });

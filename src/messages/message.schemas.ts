import { z } from 'zod';
import type { MediaInput, OutboundContent } from '../engines/engine.js';
import { normalizePhone, parseRecipient } from './phone-number.js';

/**
 * The send body of `POST /sessions/:id/messages` (`../shared/docs/api.md`, "Messages"). A factory,
 * because the base64 size cap is config (`MEDIA_MAX_BYTES`).
 */

/** Limits of the send body (documented in the OpenAPI document and the README). Lengths are UTF-16 code units. */
export const MESSAGE_LIMITS = {
  toLength: 64,
  replyToLength: 256,
  clientRefLength: 128,
  idempotencyKeyLength: 128,
  mentions: 50,
  textLength: 4096,
  captionLength: 1024,
  filenameLength: 255,
  mimetypeLength: 255,
  urlLength: 2048,
  pollNameLength: 255,
  pollOptionsMin: 2,
  pollOptionsMax: 12,
  pollOptionLength: 100,
  contactNameLength: 256,
  locationNameLength: 256,
  locationAddressLength: 256,
  /** Seed 000's interactive types (refused on webjs): kept minimal, with WhatsApp's own limits. */
  interactiveTextLength: 1024,
  buttons: 3,
  buttonTextLength: 20,
  interactiveFooterLength: 60,
  listSections: 10,
  listRows: 10,
  listTitleLength: 24,
  listRowDescriptionLength: 72,
  interactiveIdLength: 256,
} as const;

export const SEND_MESSAGE_TYPES = ['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contact', 'poll', 'buttons', 'list'] as const;
export type SendMessageType = (typeof SEND_MESSAGE_TYPES)[number];

/** Types the schema accepts but no engine sends (WhatsApp no longer delivers them to Web clients). */
export const INTERACTIVE_MESSAGE_TYPES = ['buttons', 'list'] as const;

// RFC 6838 restricted names, with optional parameters (`audio/ogg; codecs=opus`).
const TOKEN = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*";
const MIMETYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"]*"))*$`);

/** Bytes that a (syntactically valid, padded) base64 string decodes to. */
export function base64DecodedBytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

const HttpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(MESSAGE_LIMITS.urlLength);

export type ParsedRecipient = { kind: 'phone'; phone: string; input: string } | { kind: 'chat'; chatId: string; input: string };

const To = z
  .string()
  .max(MESSAGE_LIMITS.toLength)
  .transform((value, ctx): ParsedRecipient => {
    const recipient = parseRecipient(value);
    if (recipient === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a phone number in international form (8–15 digits) or a chat id (<digits>@c.us, <id>@g.us, <id>@lid, <id>@newsletter)' });
      return z.NEVER;
    }
    return { ...recipient, input: value };
  })
  .describe('Phone number in international form, or a chat id');

const Phone = z
  .string()
  .max(32)
  .transform((value, ctx) => {
    const phone = normalizePhone(value);
    if (phone === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a phone number in international form (8–15 digits)' });
      return z.NEVER;
    }
    return phone;
  });

const common = {
  to: To,
  replyTo: z
    .string()
    .min(1)
    .max(MESSAGE_LIMITS.replyToLength)
    .regex(/^\S+$/, 'must be a message id (msg_… or WhatsApp id)')
    .optional()
    .describe('Message to quote: our id (msg_…) or WhatsApp id'),
  mentions: z
    .array(Phone)
    .max(MESSAGE_LIMITS.mentions)
    .transform((phones) => [...new Set(phones)])
    .optional()
    .describe('Phones mentioned; each must appear in the text or caption as @<digits>'),
  clientRef: z.string().min(1).max(MESSAGE_LIMITS.clientRefLength).optional().describe('Echoed in the record and events'),
};

/** Adds an issue per mention missing from `text` as `@<digits>` (not followed by another digit). */
function checkMentions(mentions: readonly string[] | undefined, text: string | undefined, field: string, ctx: z.RefinementCtx): void {
  if (mentions === undefined) return;
  mentions.forEach((phone, index) => {
    if (text === undefined || !new RegExp(`@${phone}(?!\\d)`).test(text)) {
      const message = text === undefined ? `a mention needs a ${field} containing @${phone}` : `@${phone} does not appear in the ${field}`;
      ctx.addIssue({ code: 'custom', message, path: ['mentions', index] });
    }
  });
}

const NotBlank = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => value.trim().length > 0, 'must not be blank');

const Caption = z.string().max(MESSAGE_LIMITS.captionLength).optional();

function mediaSchema(mediaMaxBytes: number) {
  const MediaUrl = z.object({ url: HttpUrl }).strict().describe('Fetched by the gateway');
  const MediaData = z
    .object({
      data: z
        .base64('must be base64 (standard alphabet, padded)')
        .min(1)
        .refine((data) => base64DecodedBytes(data) <= mediaMaxBytes, `must decode to at most ${mediaMaxBytes} bytes (MEDIA_MAX_BYTES)`),
      mimetype: z.string().max(MESSAGE_LIMITS.mimetypeLength).regex(MIMETYPE, 'must be a MIME type: type/subtype'),
      filename: z.string().min(1).max(MESSAGE_LIMITS.filenameLength).optional(),
    })
    .strict();
  return z.union([MediaUrl, MediaData]).describe('{ url } or { data (base64), mimetype, filename? }');
}

const Location = z
  .object({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    name: z.string().max(MESSAGE_LIMITS.locationNameLength).optional(),
    address: z.string().max(MESSAGE_LIMITS.locationAddressLength).optional(),
    url: HttpUrl.optional(),
  })
  .strict();

const Contact = z.object({ name: NotBlank(MESSAGE_LIMITS.contactNameLength), phone: Phone }).strict();

const Poll = z
  .object({
    name: NotBlank(MESSAGE_LIMITS.pollNameLength),
    options: z
      .array(NotBlank(MESSAGE_LIMITS.pollOptionLength))
      .min(MESSAGE_LIMITS.pollOptionsMin)
      .max(MESSAGE_LIMITS.pollOptionsMax)
      .refine((options) => new Set(options).size === options.length, 'options must be unique'),
    multipleAnswers: z.boolean().optional(),
  })
  .strict();

const InteractiveId = z.string().min(1).max(MESSAGE_LIMITS.interactiveIdLength).optional();

const Button = z.object({ id: InteractiveId, text: NotBlank(MESSAGE_LIMITS.buttonTextLength) }).strict();

const ListSection = z
  .object({
    title: z.string().max(MESSAGE_LIMITS.listTitleLength).optional(),
    rows: z
      .array(
        z
          .object({
            id: InteractiveId,
            title: NotBlank(MESSAGE_LIMITS.listTitleLength),
            description: z.string().max(MESSAGE_LIMITS.listRowDescriptionLength).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MESSAGE_LIMITS.listRows),
  })
  .strict();

const EXAMPLE_TO = '+55 11 99999-9999';
const EXAMPLE_MEDIA = { url: 'https://cdn.example.com/files/catalogue.jpg' };

/** One example per type, for the OpenAPI document. */
export const SEND_MESSAGE_EXAMPLES = [
  { to: EXAMPLE_TO, type: 'text', text: 'Olá @5511988887777, seu pedido saiu para entrega!', mentions: ['5511988887777'], clientRef: 'order-123' },
  { to: '5511999999999@c.us', type: 'image', media: EXAMPLE_MEDIA, caption: 'Novo catálogo' },
  { to: EXAMPLE_TO, type: 'video', media: { url: 'https://cdn.example.com/files/demo.mp4' }, caption: 'Demo' },
  { to: EXAMPLE_TO, type: 'audio', media: { data: 'T2dnUwACAAAAAAAAAAA=', mimetype: 'audio/ogg; codecs=opus' }, voice: true },
  { to: EXAMPLE_TO, type: 'document', media: { url: 'https://cdn.example.com/files/invoice-123.pdf' }, filename: 'invoice-123.pdf', caption: 'Sua fatura' },
  { to: EXAMPLE_TO, type: 'sticker', media: { url: 'https://cdn.example.com/files/sticker.webp' } },
  { to: EXAMPLE_TO, type: 'location', location: { latitude: -23.5614, longitude: -46.6559, name: 'Loja Paulista', address: 'Av. Paulista, 1000, São Paulo' } },
  { to: EXAMPLE_TO, type: 'contact', contact: { name: 'Suporte', phone: '+55 11 3333-4444' } },
  { to: '120363025246125486@g.us', type: 'poll', poll: { name: 'Melhor horário?', options: ['Manhã', 'Tarde', 'Noite'], multipleAnswers: false } },
  { to: EXAMPLE_TO, type: 'buttons', text: 'Confirma o pedido?', buttons: [{ id: 'yes', text: 'Sim' }, { id: 'no', text: 'Não' }] },
  { to: EXAMPLE_TO, type: 'list', text: 'Escolha um produto', buttonText: 'Ver opções', sections: [{ title: 'Cafés', rows: [{ id: 'espresso', title: 'Espresso' }] }] },
] as const;

/** The send body schema; `mediaMaxBytes` caps decoded base64 media (`MEDIA_MAX_BYTES`). */
export function sendMessageBody({ mediaMaxBytes }: { mediaMaxBytes: number }) {
  const Media = mediaSchema(mediaMaxBytes);
  return z
    .discriminatedUnion('type', [
      z
        .object({ ...common, type: z.literal('text'), text: NotBlank(MESSAGE_LIMITS.textLength), linkPreview: z.boolean().default(false) })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, body.text, 'text', ctx)),
      z
        .object({ ...common, type: z.literal('image'), media: Media, caption: Caption })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, body.caption, 'caption', ctx)),
      z
        .object({ ...common, type: z.literal('video'), media: Media, caption: Caption })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, body.caption, 'caption', ctx)),
      z
        .object({ ...common, type: z.literal('audio'), media: Media, voice: z.boolean().optional().describe('Send as a voice note (ogg/opus)') })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, undefined, 'text or caption', ctx)),
      z
        .object({ ...common, type: z.literal('document'), media: Media, filename: z.string().min(1).max(MESSAGE_LIMITS.filenameLength).optional(), caption: Caption })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, body.caption, 'caption', ctx)),
      z
        .object({ ...common, type: z.literal('sticker'), media: Media.describe('An image (webp preferred); video stickers need ffmpeg') })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, undefined, 'text or caption', ctx)),
      z
        .object({ ...common, type: z.literal('location'), location: Location })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, undefined, 'text or caption', ctx)),
      z
        .object({ ...common, type: z.literal('contact'), contact: Contact })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, undefined, 'text or caption', ctx)),
      z
        .object({ ...common, type: z.literal('poll'), poll: Poll })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, undefined, 'text or caption', ctx)),
      z
        .object({
          ...common,
          type: z.literal('buttons'),
          text: NotBlank(MESSAGE_LIMITS.interactiveTextLength),
          buttons: z.array(Button).min(1).max(MESSAGE_LIMITS.buttons),
          footer: z.string().max(MESSAGE_LIMITS.interactiveFooterLength).optional(),
        })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, body.text, 'text', ctx))
        .describe('Seed 000 interactive type: refused with 422 NOT_SUPPORTED_BY_ENGINE on webjs'),
      z
        .object({
          ...common,
          type: z.literal('list'),
          text: NotBlank(MESSAGE_LIMITS.interactiveTextLength),
          buttonText: NotBlank(MESSAGE_LIMITS.buttonTextLength),
          sections: z.array(ListSection).min(1).max(MESSAGE_LIMITS.listSections),
          footer: z.string().max(MESSAGE_LIMITS.interactiveFooterLength).optional(),
        })
        .strict()
        .superRefine((body, ctx) => checkMentions(body.mentions, body.text, 'text', ctx))
        .describe('Seed 000 interactive type: refused with 422 NOT_SUPPORTED_BY_ENGINE on webjs'),
    ])
    .meta({ examples: [...SEND_MESSAGE_EXAMPLES] });
}

export type SendMessageBodySchema = ReturnType<typeof sendMessageBody>;
/** What a client sends. */
export type SendMessageBodyInput = z.input<SendMessageBodySchema>;
/** A validated, normalised send body. */
export type SendMessage = z.output<SendMessageBodySchema>;
/** A validated body some engine can send (every type but `buttons` and `list`). */
export type EngineSendMessage = Exclude<SendMessage, { type: (typeof INTERACTIVE_MESSAGE_TYPES)[number] }>;
export type MediaSendMessage = Extract<SendMessage, { media: unknown }>;

export function isInteractiveMessage(body: SendMessage): body is Extract<SendMessage, { type: 'buttons' | 'list' }> {
  return body.type === 'buttons' || body.type === 'list';
}

/** The WhatsApp ids (`<digits>@c.us`) of a body's mentions, as {@link SendOptions} wants them. */
export function mentionIds(body: SendMessage): string[] {
  return (body.mentions ?? []).map((phone) => `${phone}@c.us`);
}

/**
 * Maps a validated body to what the engine receives. Media given by URL must be fetched first
 * (by the send worker) and passed as `resolvedMedia`; inline base64 media is used as is.
 * Throws when a media type has URL media and nothing was resolved — a programming error.
 */
export function toOutboundContent(body: EngineSendMessage, resolvedMedia?: MediaInput): OutboundContent {
  switch (body.type) {
    case 'text':
      return { type: 'text', text: body.text, linkPreview: body.linkPreview };
    case 'image':
    case 'video':
      return { type: body.type, media: mediaOf(body, resolvedMedia), caption: body.caption };
    case 'audio':
      return { type: 'audio', media: mediaOf(body, resolvedMedia), voice: body.voice };
    case 'document': {
      const media = mediaOf(body, resolvedMedia);
      return { type: 'document', media, filename: body.filename ?? media.filename, caption: body.caption };
    }
    case 'sticker':
      return { type: 'sticker', media: mediaOf(body, resolvedMedia) };
    case 'location':
      return { type: 'location', location: { ...body.location } };
    case 'contact':
      return { type: 'contact', contact: { ...body.contact } };
    case 'poll':
      return { type: 'poll', poll: { name: body.poll.name, options: [...body.poll.options], multipleAnswers: body.poll.multipleAnswers } };
  }
}

function mediaOf(body: MediaSendMessage, resolved: MediaInput | undefined): MediaInput {
  if (resolved !== undefined) return resolved;
  if ('data' in body.media) return { data: body.media.data, mimetype: body.media.mimetype, filename: body.media.filename };
  throw new Error(`Media of a ${body.type} message given by URL must be fetched before it is sent`);
}

import { z } from 'zod';
import { PaginationQuery } from '../http/schemas.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import { CONTACT_QUERY_MAX_LENGTH, decodeContactCursor } from '../storage/contact-store.js';
import { AddressParam, PhoneParam } from './chat-address.js';
import { decodeChatCursor } from './chat-page.js';

/** The `cursor` of PaginationQuery, refusing (400) what the listing's own decoder does not accept. */
const cursorOf = (isValid: (cursor: string) => boolean) =>
  z.string().max(512).refine(isValid, 'is not a cursor this listing returned').optional().describe('nextCursor of the previous page');

export const ContactSchema = z
  .object({
    id: z.string().describe('WhatsApp id: <digits>@c.us, <id>@lid, <id>@g.us…'),
    phone: z.string().nullable().describe('Digits; null when WhatsApp hides the number (@lid) and for groups'),
    name: z.string().nullable().describe("The name saved in the linked phone's address book"),
    pushName: z.string().nullable().describe('The name the contact gave themselves'),
    isBusiness: z.boolean(),
    isMyContact: z.boolean().describe("In the linked phone's address book"),
    isGroup: z.boolean(),
  })
  .meta({
    id: 'Contact',
    examples: [{ id: '5511988887777@c.us', phone: '5511988887777', name: 'Maria Souza', pushName: 'Maria', isBusiness: false, isMyContact: true, isGroup: false }],
  });

export const ChatSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    isGroup: z.boolean(),
    unreadCount: z.number().int(),
    archived: z.boolean(),
    pinned: z.boolean(),
    muted: z.boolean(),
    lastMessage: z
      .object({ id: z.string().describe("WhatsApp's message id"), body: z.string(), fromMe: z.boolean(), timestamp: z.string().describe('ISO-8601') })
      .nullable(),
  })
  .meta({
    id: 'Chat',
    examples: [
      {
        id: '5511988887777@c.us',
        name: 'Maria',
        isGroup: false,
        unreadCount: 2,
        archived: false,
        pinned: false,
        muted: false,
        lastMessage: { id: 'false_5511988887777@c.us_3EB0A1B2C3D4E5F60718', body: 'Olá! Meu pedido já saiu?', fromMe: false, timestamp: '2026-11-21T12:00:00.000Z' },
      },
    ],
  });

export const ContactsQuery = PaginationQuery.extend({
  query: z
    .string()
    .trim()
    .min(1)
    .max(CONTACT_QUERY_MAX_LENGTH)
    .optional()
    .describe('Case-insensitive part of the name, push name, phone or id; a phone-looking query (+55 11 9…) matches on its digits'),
  cursor: cursorOf((c) => decodeContactCursor(c) !== null),
});

export const ChatsQuery = PaginationQuery.extend({
  cursor: cursorOf((c) => decodeChatCursor(c) !== null),
});

export const PhoneParams = SessionIdParams.extend({ phone: PhoneParam });
export const ContactParams = SessionIdParams.extend({ contactId: AddressParam });
export const ChatParams = SessionIdParams.extend({ chatId: AddressParam });

export const ContactPageResponse = z
  .object({ data: z.array(ContactSchema), nextCursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page') })
  .describe('Synced contacts ordered by id');

export const ChatPageResponse = z
  .object({ data: z.array(ChatSchema), nextCursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page') })
  .describe('Chats, most recent activity first');

export const SyncResponse = z.object({ count: z.number().int().describe('Contacts now in the cache') }).meta({ examples: [{ count: 312 }] });

export const ExistsResponse = z
  .object({
    phone: z.string().describe('The number asked, as digits'),
    exists: z.boolean().describe('Whether the number is on WhatsApp'),
    chatId: z.string().nullable().describe("WhatsApp's canonical id of the number (may differ from the digits asked, e.g. Brazil's ninth digit); null when not on WhatsApp"),
  })
  .meta({ examples: [{ phone: '5511988887777', exists: true, chatId: '5511988887777@c.us' }] });

export const ProfilePictureResponse = z
  .object({ url: z.string().nullable().describe("WhatsApp's URL of the picture (it expires); null when hidden by privacy settings, absent, or the number is not on WhatsApp") })
  .meta({ examples: [{ url: 'https://pps.whatsapp.net/v/t61.24694-24/123_456_n.jpg?oh=abc&oe=6561A2B3' }] });

export const SeenResponse = z
  .object({ chatId: z.string().describe('The chat marked as read (a phone resolved to its canonical id)'), seen: z.literal(true) })
  .meta({ examples: [{ chatId: '5511988887777@c.us', seen: true }] });

export const PRESENCE_STATES = ['typing', 'recording', 'paused'] as const;

export const PresenceBody = z
  .object({ state: z.enum(PRESENCE_STATES).describe('typing or recording (WhatsApp shows it ~25 s), paused clears it') })
  .strict()
  .meta({ examples: [{ state: 'typing' }] });

export const PresenceResponse = z
  .object({ chatId: z.string(), state: z.enum(PRESENCE_STATES) })
  .meta({ examples: [{ chatId: '5511988887777@c.us', state: 'typing' }] });

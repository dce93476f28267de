import { randomHex } from '../../random-hex.js';
import type { EngineChat, EngineContact, EngineMe, InboundMessage, OutboundContent } from '../engine.js';
import { dropOldest } from '../../bounded-map.js';

/** A message the simulated phone remembers, so that acks, edits, reactions and revokes can find it. */
export interface SimulatedMessage {
  waMessageId: string;
  chatId: string;
  fromMe: boolean;
  body: string;
  type: string;
  timestamp: number;
  revoked: boolean;
}

/** Numbers whose last four digits are 0000 are not on WhatsApp (contract). */
export function isSimulatedNumberOnWhatsApp(phone: string): boolean {
  return !phone.endsWith('0000');
}

export function describeContent(content: OutboundContent): string {
  switch (content.type) {
    case 'text':
      return content.text;
    case 'image':
    case 'video':
    case 'document':
      return content.caption ?? '';
    case 'location':
      return content.location.name ?? `${content.location.latitude},${content.location.longitude}`;
    case 'contact':
      return content.contact.name;
    case 'poll':
      return content.poll.name;
    default:
      return '';
  }
}

/** whatsapp-web.js-shaped serialized id: `<fromMe>_<chatId>_<3EB0…>`. */
export function simulatedMessageId(fromMe: boolean, chatId: string): string {
  return `${fromMe ? 'true' : 'false'}_${chatId}_3EB0${randomHex(8).toUpperCase()}`;
}

/** What a simulated contact writes to us. */
export interface SimulatedInbound {
  from: string;
  type: 'text' | 'image' | 'video' | 'audio' | 'document' | 'sticker' | 'location';
  text?: string | undefined;
  media?: { data: string; mimetype: string; filename?: string | undefined } | undefined;
  location?: NonNullable<InboundMessage['location']> | undefined;
  quotedMessageId?: string | undefined;
  /** The name the contact gave themselves (WhatsApp's notifyName), kept in the address book. */
  pushName?: string | undefined;
}

/** The whatsapp-web.js-shaped message a contact's write arrives as. */
export function simulatedInboundMessage(input: SimulatedInbound, me: EngineMe): InboundMessage {
  const chatId = input.from;
  return {
    waMessageId: simulatedMessageId(false, chatId),
    from: chatId,
    to: me.id,
    chatId,
    author: null,
    body: input.text ?? '',
    type: input.type === 'text' ? 'chat' : input.type,
    timestamp: Math.floor(Date.now() / 1000),
    isGroup: chatId.endsWith('@g.us'),
    fromMe: false,
    hasMedia: input.media !== undefined,
    media: input.media ?? null,
    quotedMessageId: input.quotedMessageId ?? null,
    mentions: [],
    location: input.location ?? null,
    isForwarded: false,
    isStatus: false,
    fromPhone: chatId.endsWith('@c.us') ? chatId.slice(0, -'@c.us'.length) : null,
    mediaError: null,
  };
}

/** The address book and message memory of one simulated phone. Bounded: it forgets the oldest messages. */
export class SimulatedPhone {
  private static readonly MAX_MESSAGES = 1_000;
  private readonly messages = new Map<string, SimulatedMessage>();
  private readonly contacts = new Map<string, EngineContact>();

  remember(message: SimulatedMessage): void {
    this.messages.set(message.waMessageId, message);
    dropOldest(this.messages, SimulatedPhone.MAX_MESSAGES);
    this.addContact(message.chatId);
  }

  find(waMessageId: string): SimulatedMessage | undefined {
    return this.messages.get(waMessageId);
  }

  /** Adds a chat to the address book; a pushName given later replaces the one known. */
  addContact(chatId: string, pushName: string | null = null): void {
    const known = this.contacts.get(chatId);
    if (known) {
      if (pushName !== null) known.pushName = pushName;
      return;
    }
    const isGroup = chatId.endsWith('@g.us');
    const phone = chatId.endsWith('@c.us') ? chatId.slice(0, -'@c.us'.length) : null;
    this.contacts.set(chatId, {
      id: chatId,
      phone,
      name: null,
      pushName,
      isBusiness: false,
      isMyContact: false,
      isGroup,
    });
  }

  listContacts(): EngineContact[] {
    return [...this.contacts.values()].map((contact) => ({ ...contact }));
  }

  listChats(): EngineChat[] {
    const last = new Map<string, SimulatedMessage>();
    for (const message of this.messages.values()) last.set(message.chatId, message);
    return [...last.values()]
      .sort((a, b) => b.timestamp - a.timestamp)
      .map((m) => ({
        id: m.chatId,
        name: this.contacts.get(m.chatId)?.pushName ?? m.chatId.split('@')[0] ?? m.chatId,
        isGroup: m.chatId.endsWith('@g.us'),
        unreadCount: 0,
        archived: false,
        pinned: false,
        muted: false,
        lastMessage: { id: m.waMessageId, body: m.body, fromMe: m.fromMe, timestamp: m.timestamp },
      }));
  }
}

import { EngineError, type EngineChat, type EngineContact, type OutboundContent, type PresenceState, type SendOptions, type SendResult } from '../engine.js';
import type { WebjsActionableMessage, WebjsChatActions, WebjsClient } from './webjs-client.js';
import { toWebjsSendArgs } from './webjs-content.js';
import { formatPairingCode } from './webjs-event-mapper.js';

/**
 * How long after sending WhatsApp lets the sender revoke a message for everyone: about 2 days and
 * 12 hours. Past it, whatsapp-web.js's `delete(true)` silently deletes for me only
 * (src/structures/Message.js:622-660: canSenderRevokeMsg false → sendDeleteMsgs).
 */
export const REVOKE_WINDOW_SECONDS = 60 * 60 * 60;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** puppeteer's words for a browser or page that went away: the client must reconnect. */
const CONNECTION_LOST = /Target closed|Session closed|Protocol error|Execution context was destroyed|detached Frame|Navigating frame was detached|Connection closed|browser has disconnected/i;
const NOT_ON_WHATSAPP = /No LID for user|not on WhatsApp|invalid wid|wid error/i;
const QUOTE_FAILED = /Could not get the quoted message/i;
const MEDIA_FAILED = /Invalid media type|Media is not an image|media-fault|ffmpeg|webp|Error processing (image|video|media)/i;

/**
 * Classifies a whatsapp-web.js send failure. Errors come out of `page.evaluate` as
 * "Error: <message>\n    at …" strings or Errors, so they are matched by message.
 */
export function toSendError(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const message = messageOf(error);
  if (CONNECTION_LOST.test(message)) return new EngineError('ENGINE_ERROR', `WhatsApp Web is not reachable: ${message}`, true);
  if (QUOTE_FAILED.test(message)) return new EngineError('QUOTED_MESSAGE_NOT_FOUND', 'The quoted message does not exist in WhatsApp Web');
  if (NOT_ON_WHATSAPP.test(message)) return new EngineError('NUMBER_NOT_ON_WHATSAPP', `The recipient is not on WhatsApp (${message})`);
  if (MEDIA_FAILED.test(message)) return new EngineError('MEDIA_FETCH_FAILED', `WhatsApp Web could not process the media: ${message}`);
  return new EngineError('ENGINE_ERROR', `Sending failed: ${message}`, true);
}

/** The engine operations on a connected whatsapp-web.js client. */
export class WebjsOperations {
  constructor(private readonly getClient: () => WebjsClient | null) {}

  async getNumberId(phone: string): Promise<string | null> {
    const client = this.client();
    const id = await this.call(() => client.getNumberId(toUserPart(phone)));
    return id?._serialized ?? null;
  }

  async send(chatId: string, content: OutboundContent, options: SendOptions): Promise<SendResult> {
    const client = this.client();
    const args = toWebjsSendArgs(content, options);
    let sent;
    try {
      sent = await client.sendMessage(chatId, args.content, args.options);
    } catch (error) {
      throw toSendError(error);
    }
    // null/undefined: whatsapp-web.js found no chat or refused the type (channels, status) without an error.
    // Not retried: nothing says whether WhatsApp Web holds a message.
    if (!sent) throw new EngineError('ENGINE_ERROR', `WhatsApp Web did not send the message to ${chatId}`);
    return { waMessageId: sent.id._serialized, timestamp: sent.timestamp || nowSeconds() };
  }

  async react(waMessageId: string, emoji: string): Promise<void> {
    const message = await this.requireMessage(waMessageId);
    await this.call(() => message.react(emoji));
  }

  async edit(waMessageId: string, text: string): Promise<void> {
    const message = await this.requireMessage(waMessageId);
    if (!message.fromMe) throw new EngineError('EDIT_NOT_ALLOWED', 'Only own messages can be edited');
    // null: WhatsApp refuses (not text or caption, too old, revoked) — src/structures/Message.js:904-941.
    const edited = await this.call(() => message.edit(text, { linkPreview: false }));
    if (!edited) throw new EngineError('EDIT_NOT_ALLOWED', 'WhatsApp does not allow editing this message (not text, too old or revoked)');
  }

  async revoke(waMessageId: string, forEveryone: boolean): Promise<void> {
    const message = await this.requireMessage(waMessageId);
    if (forEveryone) {
      if (!message.fromMe) throw new EngineError('REVOKE_NOT_ALLOWED', 'Only own messages can be revoked for everyone');
      if (nowSeconds() - message.timestamp > REVOKE_WINDOW_SECONDS) {
        throw new EngineError('REVOKE_NOT_ALLOWED', 'The message is older than WhatsApp allows revoking for everyone (about 2 days and 12 hours)');
      }
    }
    await this.call(() => message.delete(forEveryone));
  }

  async markSeen(chatId: string): Promise<void> {
    const client = this.client();
    const seen = await this.call(() => client.sendSeen(chatId));
    if (!seen) throw new EngineError('ENGINE_ERROR', `Chat ${chatId} was not marked as read: WhatsApp Web does not know it`);
  }

  async setPresence(chatId: string, state: PresenceState): Promise<void> {
    const chat = await this.requireChat(chatId);
    switch (state) {
      case 'typing':
        await this.call(() => chat.sendStateTyping());
        return;
      case 'recording':
        await this.call(() => chat.sendStateRecording());
        return;
      case 'paused':
        await this.call(() => chat.clearState());
        return;
    }
  }

  async getContacts(): Promise<EngineContact[]> {
    const client = this.client();
    const contacts = await this.call(() => client.getContacts());
    return contacts.map((contact) => ({
      id: contact.id._serialized,
      // `number` is the id's user part: a phone number only for @c.us ids (an @lid's is not).
      phone: contact.id.server === 'c.us' ? contact.number || contact.id.user : null,
      name: contact.name ?? null,
      pushName: contact.pushname || null,
      isBusiness: contact.isBusiness,
      isMyContact: contact.isMyContact,
      isGroup: contact.isGroup,
    }));
  }

  async getChats(): Promise<EngineChat[]> {
    const client = this.client();
    const chats = await this.call(() => client.getChats());
    return chats.map((chat) => ({
      id: chat.id._serialized,
      name: chat.name,
      isGroup: chat.isGroup,
      unreadCount: chat.unreadCount,
      archived: chat.archived,
      pinned: chat.pinned,
      muted: chat.isMuted,
      lastMessage: chat.lastMessage
        ? { id: chat.lastMessage.id._serialized, body: chat.lastMessage.body, fromMe: chat.lastMessage.fromMe, timestamp: chat.lastMessage.timestamp }
        : null,
    }));
  }

  /** null when the picture is hidden by privacy settings or there is none. */
  async getProfilePictureUrl(contactId: string): Promise<string | null> {
    const client = this.client();
    try {
      return (await client.getProfilePicUrl(contactId)) ?? null;
    } catch (error) {
      if (CONNECTION_LOST.test(messageOf(error))) throw toSendError(error);
      return null;
    }
  }

  /** Asks WhatsApp for a code to link by phone number; formatted ABCD-EFGH. whatsapp-web.js also emits it as `code`. */
  async requestPairingCode(phone: string): Promise<string> {
    const client = this.client();
    const code = await this.call(() => client.requestPairingCode(phone.replace(/\D/g, ''), true));
    return formatPairingCode(code);
  }

  // ---- internals ----------------------------------------------------------------------------

  private client(): WebjsClient {
    const client = this.getClient();
    if (!client) throw new EngineError('ENGINE_ERROR', 'WhatsApp Web is not ready', true);
    return client;
  }

  private async requireMessage(waMessageId: string): Promise<WebjsActionableMessage> {
    const client = this.client();
    let message: WebjsActionableMessage | null;
    try {
      message = await client.getMessageById(waMessageId);
    } catch (error) {
      // A malformed id throws "Invalid serialized message id specified" (src/Client.js:1757-1758).
      if (/Invalid serialized message id/i.test(messageOf(error))) message = null;
      else throw toSendError(error);
    }
    if (!message) throw new EngineError('MESSAGE_NOT_FOUND', `Message ${waMessageId} not found`);
    return message;
  }

  private async requireChat(chatId: string): Promise<WebjsChatActions> {
    const client = this.client();
    const chat = await this.call(() => client.getChatById(chatId));
    if (!chat) throw new EngineError('ENGINE_ERROR', `Chat ${chatId} not found`);
    return chat;
  }

  /** Runs a client call; a failure becomes an EngineError (ENGINE_ERROR, reconnectable unless classified otherwise). */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toSendError(error);
    }
  }
}

/** whatsapp-web.js appends `@c.us` to anything not ending with it (src/Client.js:2225-2227): digits, or a `@c.us` id as is. */
function toUserPart(phone: string): string {
  return phone.endsWith('@c.us') ? phone : phone.replace(/\D/g, '');
}

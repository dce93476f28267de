import type { AckLevel, EngineEvent, InboundMessage } from '../engines/engine.js';
import type { MediaRef } from '../media/media-store.js';
import type { EventBus } from './event-bus.js';

/** Status names of whatsapp-web.js ack levels (the contract keeps the numbers and adds the name). */
export const ACK_STATUS: Record<AckLevel, string> = { [-1]: 'error', 0: 'pending', 1: 'sent', 2: 'delivered', 3: 'read', 4: 'played' };

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/**
 * What became of an inbound message's media: the stored file (`url` = the gateway route serving
 * it) or null, and why it is null although `hasMedia` is true.
 */
export interface InboundMediaOutcome {
  media: MediaRef | null;
  mediaError: string | null;
}

function messageData(m: InboundMessage, stored: InboundMediaOutcome | undefined): Record<string, unknown> {
  const mediaError = stored ? stored.mediaError : m.mediaError;
  return {
    // seed 002's fields first
    from: m.from,
    to: m.to,
    body: m.body,
    messageId: m.waMessageId,
    timestamp: m.timestamp,
    isGroup: m.isGroup,
    chatId: m.chatId,
    ...(m.from.endsWith('@lid') ? { fromPhone: m.fromPhone } : {}),
    type: m.type,
    author: m.author,
    hasMedia: m.hasMedia,
    // Never base64 inside an event: the media store keeps the bytes and the event references them.
    media: stored?.media ?? null,
    ...(mediaError ? { mediaError } : {}),
    quotedMessageId: m.quotedMessageId,
    mentions: m.mentions,
    ...(m.location ? { location: m.location } : {}),
    fromMe: m.fromMe,
  };
}

function messageCreateData(m: InboundMessage): Record<string, unknown> {
  return {
    id: m.waMessageId,
    from: m.from,
    to: m.to,
    body: m.body,
    timestamp: m.timestamp,
    ...(m.author ? { author: m.author } : {}),
    isForwarded: m.isForwarded,
    isStatus: m.isStatus,
    fromMe: m.fromMe,
    chatId: m.chatId,
    type: m.type,
  };
}

/**
 * The contract event (name and `data`, seed 002's fields first) of an engine's message event, or
 * null for events the session lifecycle turns into contract events itself (qr, status…).
 * `media` is what the media store made of an inbound message's media (without it: `media: null`).
 */
export function toContractEvent(event: EngineEvent, seenAt: Date, media?: InboundMediaOutcome): { event: string; data: Record<string, unknown> } | null {
  switch (event.type) {
    case 'message':
      return { event: 'message', data: messageData(event.message, media) };
    case 'message_create':
      return { event: 'message_create', data: messageCreateData(event.message) };
    case 'message_ack':
      return { event: 'message_ack', data: { messageId: event.waMessageId, ack: event.ack, timestamp: seconds(seenAt), status: ACK_STATUS[event.ack], chatId: event.chatId } };
    case 'message_edit':
      return { event: 'message_edit', data: { messageId: event.waMessageId, newBody: event.newBody, previousBody: event.previousBody, editedAt: event.editedAt, chatId: event.chatId } };
    case 'message_revoke_everyone':
      return { event: 'message_revoke_everyone', data: { messageId: event.waMessageId, revokedAt: event.revokedAt, chatId: event.chatId } };
    case 'message_reaction':
      return { event: 'message_reaction', data: { messageId: event.waMessageId, reaction: event.reaction, senderId: event.senderId, timestamp: event.timestamp } };
    case 'vote_update':
      return { event: 'vote_update', data: { messageId: event.waMessageId, voter: event.voter, selectedOptions: event.selectedOptions, timestamp: event.timestamp } };
    case 'call':
      return { event: 'call', data: { callId: event.callId, from: event.from, isVideo: event.isVideo, isGroup: event.isGroup, timestamp: event.timestamp } };
    case 'group_update':
      return {
        event: 'group_update',
        data: { kind: event.kind, chatId: event.chatId, author: event.author, recipients: event.recipients, subtype: event.subtype, body: event.body, timestamp: event.timestamp },
      };
    default:
      return null;
  }
}

/** Publishes the contract event of every engine message event on the bus (one way up). */
export function publishContractEvents(bus: EventBus): () => void {
  return bus.tapEngine((sessionId, engineEvent) => {
    const occurredAt = new Date();
    const mapped = toContractEvent(engineEvent, occurredAt);
    if (mapped) bus.publish({ sessionId, ...mapped, occurredAt });
  });
}

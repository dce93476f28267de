import type { Logger } from '../logger.js';
import type { RecordErrorCode } from '../errors.js';

/**
 * The engine port: the narrow interface every WhatsApp engine implements (whatsapp-web.js, the
 * simulator). One instance drives one session from `start()` to `stop()`; a restart creates a new
 * instance. What the engine learns comes back as {@link EngineEvent}s — requests go down, events
 * come up, and nothing here knows about HTTP, queues or webhooks.
 */

export const ENGINE_NAMES = ['webjs', 'simulator'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** The linked account, once ready. */
export interface EngineMe {
  /** WhatsApp id, e.g. `5511999999999@c.us`. */
  id: string;
  phone: string;
  pushName: string | null;
}

/** whatsapp-web.js ack levels: -1 error, 0 pending, 1 server, 2 device, 3 read, 4 played. */
export type AckLevel = -1 | 0 | 1 | 2 | 3 | 4;

export type MediaInput = { data: string; mimetype: string; filename?: string | undefined };

export type OutboundContent =
  | { type: 'text'; text: string; linkPreview?: boolean | undefined }
  | { type: 'image' | 'video'; media: MediaInput; caption?: string | undefined }
  | { type: 'audio'; media: MediaInput; voice?: boolean | undefined }
  | { type: 'document'; media: MediaInput; filename?: string | undefined; caption?: string | undefined }
  | { type: 'sticker'; media: MediaInput }
  | { type: 'location'; location: { latitude: number; longitude: number; name?: string | undefined; address?: string | undefined; url?: string | undefined } }
  | { type: 'contact'; contact: { name: string; phone: string } }
  | { type: 'poll'; poll: { name: string; options: string[]; multipleAnswers?: boolean | undefined } };

export type OutboundType = OutboundContent['type'];

export interface SendOptions {
  /** WhatsApp id of the quoted message. */
  quotedMessageId?: string | undefined;
  /** WhatsApp ids (`<digits>@c.us`) mentioned in the text. */
  mentions?: string[] | undefined;
}

export interface SendResult {
  waMessageId: string;
  /** Unix seconds, WhatsApp's. */
  timestamp: number;
}

export interface InboundMessage {
  waMessageId: string;
  from: string;
  to: string;
  chatId: string;
  author: string | null;
  body: string;
  type: string;
  timestamp: number;
  isGroup: boolean;
  fromMe: boolean;
  hasMedia: boolean;
  media: MediaInput | null;
  quotedMessageId: string | null;
  mentions: string[];
  location: { latitude: number; longitude: number; name?: string | undefined; address?: string | undefined; url?: string | undefined } | null;
  isForwarded: boolean;
  isStatus: boolean;
  /** The sender's phone (digits), resolved from `<id>@lid` when WhatsApp hides it; null for own messages or when unknown. */
  fromPhone: string | null;
  /** Why `media` is null although `hasMedia` is true (download failed, expired, timed out). */
  mediaError: string | null;
}

export interface EngineContact {
  id: string;
  phone: string | null;
  name: string | null;
  pushName: string | null;
  isBusiness: boolean;
  isMyContact: boolean;
  isGroup: boolean;
}

export interface EngineChat {
  id: string;
  name: string;
  isGroup: boolean;
  unreadCount: number;
  archived: boolean;
  pinned: boolean;
  muted: boolean;
  lastMessage: { id: string; body: string; fromMe: boolean; timestamp: number } | null;
}

export type PresenceState = 'typing' | 'recording' | 'paused';

/** Everything an engine reports. `type` names follow whatsapp-web.js's client events. */
export type EngineEvent =
  | { type: 'qr'; qr: string }
  | { type: 'pairing_code'; code: string }
  | { type: 'loading_screen'; percent: number; message: string }
  | { type: 'authenticated' }
  | { type: 'auth_failure'; message: string }
  | { type: 'ready'; me: EngineMe }
  | { type: 'change_state'; state: string }
  | { type: 'change_battery'; battery: number; plugged: boolean }
  | { type: 'disconnected'; reason: string }
  /** The engine could not run (after start() resolved): handled like a start failure. */
  | { type: 'engine_failure'; code: RecordErrorCode; message: string; reconnectable: boolean }
  | { type: 'message'; message: InboundMessage }
  | { type: 'message_create'; message: InboundMessage }
  | { type: 'message_ack'; waMessageId: string; chatId: string; ack: AckLevel }
  | { type: 'message_edit'; waMessageId: string; chatId: string; newBody: string; previousBody: string; editedAt: number }
  | { type: 'message_revoke_everyone'; waMessageId: string; chatId: string; revokedAt: number }
  | { type: 'message_reaction'; waMessageId: string; reaction: string; senderId: string; timestamp: number }
  | { type: 'vote_update'; waMessageId: string; voter: string; selectedOptions: string[]; timestamp: number }
  | { type: 'call'; callId: string; from: string; isVideo: boolean; isGroup: boolean; timestamp: number }
  | { type: 'group_update'; kind: 'join' | 'leave' | 'admin_changed' | 'update'; chatId: string; author: string | null; recipients: string[]; subtype: string; body: string; timestamp: number };

export type EngineEventType = EngineEvent['type'];
export type EngineEventListener = (event: EngineEvent) => void;

/** Where an engine keeps a small link state that must survive restarts (the simulator's "auth"). */
export interface EngineAuthStore {
  load(): Promise<unknown>;
  save(state: unknown): Promise<void>;
  clear(): Promise<void>;
}

export interface EngineContext {
  sessionId: string;
  logger: Logger;
  auth: EngineAuthStore;
}

export interface Engine {
  readonly name: EngineName;
  /** Begins connecting. Resolves once the engine runs; outcome (qr, ready…) arrives as events. Rejects with {@link EngineError}. */
  start(): Promise<void>;
  /** Closes the engine and everything it started, keeping auth data. Never throws; idempotent. */
  stop(): Promise<void>;
  /** Unlinks the device and drops auth data, then stops. */
  logout(): Promise<void>;
  /** Subscribes to events; returns the unsubscribe function. */
  onEvent(listener: EngineEventListener): () => void;

  requestPairingCode(phone: string): Promise<string>;
  /** The canonical chat id of a phone number, or null when it is not on WhatsApp. */
  getNumberId(phone: string): Promise<string | null>;
  send(chatId: string, content: OutboundContent, options: SendOptions): Promise<SendResult>;
  react(waMessageId: string, emoji: string): Promise<void>;
  edit(waMessageId: string, text: string): Promise<void>;
  revoke(waMessageId: string, forEveryone: boolean): Promise<void>;
  markSeen(chatId: string): Promise<void>;
  setPresence(chatId: string, state: PresenceState): Promise<void>;
  getContacts(): Promise<EngineContact[]>;
  getChats(): Promise<EngineChat[]>;
  getProfilePictureUrl(contactId: string): Promise<string | null>;
  /** Memory of what the engine runs outside this process (webjs: its Chromium), for metrics; absent when nothing runs. */
  resourceUsage?(): Promise<EngineResourceUsage | null>;
}

export interface EngineResourceUsage {
  processes: number;
  /** Proportional set size summed over the engine's processes (shared pages divided among users). */
  pssBytes: number;
  /** RSS summed over the engine's processes (counts shared pages once per process). */
  rssBytes: number;
}

/** An engine failure with a stable code; `reconnectable` tells the session manager whether to retry. */
export class EngineError extends Error {
  constructor(
    readonly code: RecordErrorCode | 'MESSAGE_NOT_FOUND' | 'EDIT_NOT_ALLOWED' | 'REVOKE_NOT_ALLOWED',
    message: string,
    readonly reconnectable = false,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** An ability this engine does not have (→ 422 NOT_SUPPORTED_BY_ENGINE). */
export class NotSupportedByEngine extends Error {
  constructor(
    readonly engine: EngineName,
    readonly feature: string,
  ) {
    super(`Engine '${engine}' does not support ${feature}`);
    this.name = 'NotSupportedByEngine';
  }
}

/** Creates engine instances of one kind and removes their auth data when the session is gone. */
export interface EngineDriver {
  readonly name: EngineName;
  /** May load the engine's libraries on first use (whatsapp-web.js and puppeteer cost ~30 MB idle). */
  create(context: EngineContext): Engine | Promise<Engine>;
  /** Deletes whatever auth data the engine keeps outside the session registry. */
  removeAuthData(sessionId: string): Promise<void>;
}

import { EventEmitter } from 'node:events';
import pkg from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';
import type { EngineEvent, InboundMessage } from '../../src/engines/engine.js';
import type {
  WebjsActionableMessage,
  WebjsCall,
  WebjsChat,
  WebjsChatActions,
  WebjsClient,
  WebjsClientInfo,
  WebjsContact,
  WebjsEventMap,
  WebjsEventName,
  WebjsGroupNotification,
  WebjsMessage,
  WebjsPollVote,
  WebjsSentMessage,
} from '../../src/engines/webjs/webjs-client.js';
import type { WebjsInboundMessage } from '../../src/engines/webjs/webjs-event-mapper.js';

/**
 * A whatsapp-web.js client without a browser: it implements exactly WebjsClient (TypeScript checks
 * it against the library's own definitions), records what the code under test asks of it, and
 * emits client events the way whatsapp-web.js does (`fake.emit('message', message)`, or the typed
 * `fake.emitEvent`).
 */

export const ME = '5511900000001@c.us';
export const CONTACT = '5511900000002@c.us';
export const GROUP = '120363000000000001@g.us';
export const { MessageTypes, MessageMedia, Location, Poll } = pkg;

let counter = 0;
const nextId = (): string => `3EB0${(++counter).toString(16).toUpperCase().padStart(16, '0')}`;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function messageId(fromMe: boolean, remote: string, id: string = nextId()): WAWebJS.MessageId {
  return { fromMe, remote, id, _serialized: `${String(fromMe)}_${remote}_${id}` };
}

export function contactId(serialized: string): WAWebJS.ContactId {
  const at = serialized.indexOf('@');
  return { user: serialized.slice(0, at), server: serialized.slice(at + 1), _serialized: serialized };
}

export interface FakeMessageInit {
  id?: string;
  fromMe?: boolean;
  from?: string;
  to?: string;
  author?: string;
  body?: string;
  type?: WAWebJS.MessageTypes;
  timestamp?: number;
  mentionedIds?: string[];
  isForwarded?: boolean;
  isStatus?: boolean;
  location?: WAWebJS.Location;
  /** Makes hasMedia true; downloadMedia runs this. */
  downloadMedia?: () => Promise<WAWebJS.MessageMedia | null | undefined>;
  /** Makes hasQuotedMsg true; getQuotedMessage runs this. */
  getQuotedMessage?: () => Promise<Pick<WAWebJS.Message, 'id'> | undefined>;
  latestEditSenderTimestampMs?: number;
  protocolMessageKey?: WAWebJS.MessageId;
}

/** A message as whatsapp-web.js hands it to event listeners; counts its downloads. */
export function fakeMessage(init: FakeMessageInit = {}): WebjsMessage & { downloads: () => number } {
  const fromMe = init.fromMe ?? false;
  const from = init.from ?? (fromMe ? ME : CONTACT);
  const to = init.to ?? (fromMe ? CONTACT : ME);
  const download = init.downloadMedia;
  const quoted = init.getQuotedMessage;
  let downloads = 0;
  return {
    id: messageId(fromMe, fromMe ? to : from, init.id),
    from,
    to,
    ...(init.author !== undefined ? { author: init.author } : {}),
    body: init.body ?? '',
    type: init.type ?? MessageTypes.TEXT,
    timestamp: init.timestamp ?? nowSeconds(),
    fromMe,
    hasMedia: download !== undefined,
    hasQuotedMsg: quoted !== undefined,
    mentionedIds: init.mentionedIds ?? [],
    isForwarded: init.isForwarded ?? false,
    isStatus: init.isStatus ?? false,
    ...(init.location !== undefined ? { location: init.location } : {}),
    ...(init.latestEditSenderTimestampMs !== undefined ? { latestEditSenderTimestampMs: init.latestEditSenderTimestampMs } : {}),
    ...(init.protocolMessageKey !== undefined ? { protocolMessageKey: init.protocolMessageKey } : {}),
    downloadMedia: async () => {
      downloads += 1;
      return download ? download() : undefined;
    },
    getQuotedMessage: async () => (quoted ? quoted() : undefined),
    downloads: () => downloads,
  };
}

export interface FakePollVoteInit {
  /** The poll message's id; default: a poll this account sent to CONTACT. */
  poll?: WAWebJS.MessageId;
  voter?: string;
  /** Names of the selected options; none: the voter deselected everything. */
  options?: string[];
  /** WhatsApp's senderTimestampMs; default now. */
  interractedAtTs?: number;
  /** whatsapp-web.js could not load the poll message: no parentMessage id, option names undefined (PollVote.js:47-50, 66). */
  pollNotLoaded?: boolean;
}

/** A poll vote as whatsapp-web.js hands it to vote_update listeners. */
export function fakePollVote(init: FakePollVoteInit = {}): WebjsPollVote {
  const poll = init.poll ?? messageId(true, CONTACT);
  const loaded = init.pollNotLoaded !== true;
  return {
    voter: init.voter ?? CONTACT,
    selectedOptions: (init.options ?? []).map((name) => (loaded ? { name } : { name: undefined })),
    interractedAtTs: init.interractedAtTs ?? Date.now(),
    parentMessage: loaded ? { id: poll } : {},
    parentMsgKey: poll,
  };
}

/** A call as whatsapp-web.js hands it to call listeners: an incoming voice call from CONTACT, without timestamp (src/Client.js:1085-1094). */
export function fakeCall(init: Partial<WebjsCall> = {}): WebjsCall {
  return { id: `CALL${nextId()}`, from: CONTACT, isVideo: false, isGroup: false, fromMe: false, ...init };
}

/** A group notification as whatsapp-web.js hands it to group_* listeners: by default CONTACT added ME to GROUP. */
export function fakeGroupNotification(init: Partial<WebjsGroupNotification> = {}): WebjsGroupNotification {
  return { chatId: GROUP, author: CONTACT, recipientIds: [ME], type: 'add', body: '', timestamp: nowSeconds(), ...init };
}

/** A message found by getMessageById: records reactions, edits and deletes. */
export class FakeActionableMessage implements WebjsActionableMessage {
  readonly reactions: string[] = [];
  readonly edits: { content: WAWebJS.MessageContent; options: WAWebJS.MessageEditOptions | undefined }[] = [];
  readonly deletes: { everyone: boolean | undefined }[] = [];
  /** What edit() resolves: whatsapp-web.js resolves null when WhatsApp refuses the edit. */
  editResult: 'edited' | 'refused' = 'edited';

  constructor(
    readonly id: WAWebJS.MessageId,
    readonly fromMe: boolean,
    readonly timestamp: number,
  ) {}

  react = async (reaction: string): Promise<void> => {
    this.reactions.push(reaction);
  };

  edit = async (content: WAWebJS.MessageContent, options?: WAWebJS.MessageEditOptions): Promise<WebjsSentMessage | null> => {
    this.edits.push({ content, options });
    return this.editResult === 'edited' ? { id: this.id, timestamp: this.timestamp } : null;
  };

  delete = async (everyone?: boolean): Promise<void> => {
    this.deletes.push({ everyone });
  };
}

export type ChatState = 'typing' | 'recording' | 'cleared';

/** A chat found by getChatById: records the chat states sent. */
export class FakeChat implements WebjsChatActions {
  readonly states: ChatState[] = [];
  sendStateTyping = async (): Promise<void> => void this.states.push('typing');
  sendStateRecording = async (): Promise<void> => void this.states.push('recording');
  clearState = async (): Promise<boolean> => {
    this.states.push('cleared');
    return true;
  };
}

export interface SendCall {
  chatId: string;
  content: WAWebJS.MessageContent;
  options: WAWebJS.MessageSendOptions | undefined;
}

type Failable = 'sendMessage' | 'getMessageById' | 'getNumberId' | 'getChatById' | 'getContacts' | 'getChats' | 'getProfilePicUrl' | 'sendSeen' | 'requestPairingCode' | 'getContactLidAndPhone';

export class FakeWebjsClient extends EventEmitter implements WebjsClient {
  info: WebjsClientInfo | undefined = undefined;
  readonly sent: SendCall[] = [];
  readonly seen: string[] = [];
  readonly lidLookups: string[][] = [];
  readonly pairingRequests: { phone: string; showNotification: boolean | undefined }[] = [];
  readonly lifecycle: ('initialize' | 'destroy' | 'logout')[] = [];
  /** Messages getMessageById finds, by serialized id. */
  readonly messages = new Map<string, FakeActionableMessage>();
  readonly chats = new Map<string, FakeChat>();
  /** Phone number → the canonical id getNumberId resolves (absent: not on WhatsApp). */
  readonly numbers = new Map<string, string>();
  /** `<id>@lid` → `<phone>@c.us`, for getContactLidAndPhone. */
  readonly lidToPhone = new Map<string, string>();
  readonly profilePictures = new Map<string, string>();
  contactList: WebjsContact[] = [];
  chatList: WebjsChat[] = [];
  pairingCode = 'ABCD1234';
  /** What sendMessage resolves with: a new sent message, or null/undefined like whatsapp-web.js when it sends nothing. */
  sendOutcome: 'sent' | 'null' | 'undefined' = 'sent';
  private readonly failures = new Map<Failable, unknown>();

  /** The next call of `method` rejects with `error`. */
  failNext(method: Failable, error: unknown): void {
    this.failures.set(method, error);
  }

  emitEvent<E extends WebjsEventName>(event: E, ...args: WebjsEventMap[E]): boolean {
    return this.emit(event, ...args);
  }

  /** Logs the fake in as `wid` (what whatsapp-web.js sets just before `ready`). */
  linkAs(wid: string, pushname = 'Gateway Test'): void {
    this.info = { wid: contactId(wid), pushname };
  }

  async initialize(): Promise<void> {
    this.lifecycle.push('initialize');
  }
  async destroy(): Promise<void> {
    this.lifecycle.push('destroy');
  }
  async logout(): Promise<void> {
    this.lifecycle.push('logout');
  }

  async sendMessage(chatId: string, content: WAWebJS.MessageContent, options?: WAWebJS.MessageSendOptions): Promise<WebjsSentMessage | null | undefined> {
    this.sent.push({ chatId, content, options });
    this.throwIfFailing('sendMessage');
    if (this.sendOutcome === 'null') return null;
    if (this.sendOutcome === 'undefined') return undefined;
    return { id: messageId(true, chatId), timestamp: nowSeconds() };
  }

  async getMessageById(waMessageId: string): Promise<WebjsActionableMessage | null> {
    this.throwIfFailing('getMessageById');
    return this.messages.get(waMessageId) ?? null;
  }

  async getNumberId(number: string): Promise<WAWebJS.ContactId | null> {
    this.throwIfFailing('getNumberId');
    const id = this.numbers.get(number);
    return id === undefined ? null : contactId(id);
  }

  async getChatById(chatId: string): Promise<WebjsChatActions | undefined> {
    this.throwIfFailing('getChatById');
    return this.chats.get(chatId);
  }

  async getContacts(): Promise<WebjsContact[]> {
    this.throwIfFailing('getContacts');
    return this.contactList;
  }

  async getChats(): Promise<WebjsChat[]> {
    this.throwIfFailing('getChats');
    return this.chatList;
  }

  async getProfilePicUrl(contactIdValue: string): Promise<string | undefined> {
    this.throwIfFailing('getProfilePicUrl');
    return this.profilePictures.get(contactIdValue);
  }

  async sendSeen(chatId: string): Promise<boolean> {
    this.seen.push(chatId);
    this.throwIfFailing('sendSeen');
    return this.chats.has(chatId);
  }

  async requestPairingCode(phoneNumber: string, showNotification?: boolean): Promise<string> {
    this.pairingRequests.push({ phone: phoneNumber, showNotification });
    this.throwIfFailing('requestPairingCode');
    return this.pairingCode;
  }

  async getContactLidAndPhone(userIds: string[]): Promise<{ lid?: string | undefined; pn?: string | undefined }[]> {
    this.lidLookups.push(userIds);
    this.throwIfFailing('getContactLidAndPhone');
    // Like whatsapp-web.js: both fields undefined when WhatsApp does not know the user (src/util/Injected/Utils.js:1705-1719).
    return userIds.map((id) => {
      const pn = this.lidToPhone.get(id);
      return pn === undefined ? {} : { lid: id, pn };
    });
  }

  private throwIfFailing(method: Failable): void {
    if (!this.failures.has(method)) return;
    const error = this.failures.get(method);
    this.failures.delete(method);
    throw error;
  }
}

// ---- for tests of attachWebjsEvents ------------------------------------------------------------

const isWebjsInbound = (message: InboundMessage): message is WebjsInboundMessage => 'fromPhone' in message && 'mediaError' in message;

/** Collects emitted events; `next(n)` resolves once n events have arrived in total. */
export class EventCollector {
  readonly events: EngineEvent[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  throwOn: ((event: EngineEvent) => boolean) | null = null;

  readonly emit = (event: EngineEvent): void => {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => (this.events.length >= waiter.count ? (waiter.resolve(), false) : true));
    if (this.throwOn?.(event)) throw new Error(`listener failed on ${event.type}`);
  };

  async next(count: number): Promise<EngineEvent[]> {
    if (this.events.length < count) await new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
    return this.events;
  }

  async message(count = 1): Promise<WebjsInboundMessage> {
    const event = (await this.next(count))[count - 1];
    if (event?.type !== 'message' && event?.type !== 'message_create') throw new Error(`expected a message event, got ${event?.type ?? 'nothing'}`);
    if (!isWebjsInbound(event.message)) throw new Error('the message lacks fromPhone/mediaError');
    return event.message;
  }
}

export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every queued promise callback run (not a timer wait: one macrotask turn). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

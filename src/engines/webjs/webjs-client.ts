import type WAWebJS from 'whatsapp-web.js';

/**
 * The parts of whatsapp-web.js the engine uses, picked from the package's own type definitions:
 * a change in the library breaks compilation here (see the assertions at the end), and tests drive
 * the engine with a fake that implements exactly these types (WhatsApp itself is unreachable from CI).
 *
 * Where the package's declarations promise more than its code delivers, the types here say what
 * the code does (whatsapp-web.js 1.34.7), so that strict checks force the engine to handle it:
 * `getMessageById` resolves null (src/Client.js:1770), `getChatById` undefined (src/Client.js:1697),
 * `getProfilePicUrl` undefined (src/Client.js:2158), `sendMessage` null or undefined
 * (src/Client.js:1409, 1558), `downloadMedia` undefined (src/structures/Message.js:515, 590),
 * `info` is unset until `ready`, `location` is undefined unless the type is location, and
 * `getContactLidAndPhone` leaves `lid`/`pn` undefined when WhatsApp does not know them.
 */

/**
 * The EventEmitter surface. The package declares `on()` as returning `this` (the whole Client),
 * which only a real Client satisfies; nothing here chains calls, so the return is `unknown`.
 */
export interface WebjsEventSource {
  on<E extends WebjsEventName>(event: E, listener: (...args: WebjsEventMap[E]) => void): unknown;
  removeListener<E extends WebjsEventName>(event: E, listener: (...args: WebjsEventMap[E]) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/** A sent or edited message: what the operations read back. */
export type WebjsSentMessage = Pick<WAWebJS.Message, 'id' | 'timestamp'>;

/** What the mapper reads of a message (events message, message_create, message_ack, message_edit, message_revoke_everyone). */
export interface WebjsMessage
  extends Pick<
    WAWebJS.Message,
    | 'id'
    | 'from'
    | 'to'
    | 'author'
    | 'body'
    | 'type'
    | 'timestamp'
    | 'fromMe'
    | 'hasMedia'
    | 'hasQuotedMsg'
    | 'mentionedIds'
    | 'isStatus'
    | 'latestEditSenderTimestampMs'
    | 'protocolMessageKey'
  > {
  location?: WAWebJS.Location | undefined;
  /** Copied from WhatsApp Web's model as is: undefined when it never was forwarded. */
  isForwarded?: boolean | undefined;
  downloadMedia: () => Promise<WAWebJS.MessageMedia | null | undefined>;
  getQuotedMessage: () => Promise<Pick<WAWebJS.Message, 'id'> | undefined>;
}

/** What the operations use of a message found by id. */
export interface WebjsActionableMessage extends Pick<WAWebJS.Message, 'id' | 'fromMe' | 'timestamp' | 'react' | 'delete'> {
  edit: (content: WAWebJS.MessageContent, options?: WAWebJS.MessageEditOptions) => Promise<WebjsSentMessage | null>;
}

export type WebjsReaction = Pick<WAWebJS.Reaction, 'msgId' | 'reaction' | 'senderId' | 'timestamp'>;
/**
 * What the mapper reads of a poll vote (event vote_update), as src/structures/PollVote.js builds it
 * rather than as declared: an option has `name` and `localId` (not the declared `id`), and its name
 * is undefined when whatsapp-web.js could not load the poll message (PollVote.js:47-50); the
 * `parentMessage` is then a Message without data, so without `id` (PollVote.js:66, Message.js:20),
 * while the undeclared `parentMsgKey` still names the poll (PollVote.js:72). `interractedAtTs` is
 * WhatsApp's `senderTimestampMs` (PollVote.js:60), and `voter` is WhatsApp Web's sender id passed on
 * as it came (PollVote.js:29 from src/Client.js:1207), not normalized like a message's `from`.
 */
export interface WebjsPollVote extends Pick<WAWebJS.PollVote, 'voter' | 'interractedAtTs'> {
  selectedOptions: { name?: WAWebJS.SelectedPollOption['name'] | undefined }[];
  parentMessage: Partial<Pick<WAWebJS.Message, 'id'>>;
  parentMsgKey?: WAWebJS.MessageId | undefined;
}
/**
 * What the mapper reads of a call (event call). `timestamp` is declared but never set: Call.js:31
 * reads `offerTime`, which src/Client.js:1085-1094 does not pass. `from` is WhatsApp Web's `peerJid`
 * as it came (Call.js:26), and the event fires for own outgoing calls too (`fromMe`, Call.js:46).
 */
export interface WebjsCall extends Pick<WAWebJS.Call, 'id' | 'from' | 'isVideo' | 'isGroup' | 'fromMe'> {
  timestamp?: number | undefined;
}
/**
 * What the mapper reads of a group notification (events group_join, group_leave,
 * group_admin_changed, group_update). `type` is WhatsApp's gp2 subtype as it came
 * (GroupNotification.js:33), declared as GroupNotificationTypes but also e.g. 'linked_group_join'
 * (src/Client.js:594) and whatever else group_update catches (src/Client.js:637-643); `author` is
 * undefined when WhatsApp names none (GroupNotification.js:55-58).
 */
export interface WebjsGroupNotification extends Pick<WAWebJS.GroupNotification, 'chatId' | 'body' | 'timestamp' | 'recipientIds'> {
  author?: WAWebJS.GroupNotification['author'] | undefined;
  type: string;
}
/** whatsapp-web.js's BatteryInfo (deprecated there with its event, which multi-device accounts no longer get). */
export interface WebjsBatteryInfo {
  battery: number;
  plugged: boolean;
}
export type WebjsContact = Pick<WAWebJS.Contact, 'id' | 'number' | 'name' | 'pushname' | 'isBusiness' | 'isMyContact' | 'isGroup'>;
export interface WebjsChat extends Pick<WAWebJS.Chat, 'id' | 'name' | 'isGroup' | 'unreadCount' | 'archived' | 'pinned' | 'isMuted'> {
  lastMessage?: Pick<WAWebJS.Message, 'id' | 'body' | 'fromMe' | 'timestamp'> | undefined;
}
/** What setPresence uses of a chat. */
export type WebjsChatActions = Pick<WAWebJS.Chat, 'sendStateTyping' | 'sendStateRecording' | 'clearState'>;
export type WebjsClientInfo = Pick<WAWebJS.ClientInfo, 'wid' | 'pushname'>;
export type WebjsClientOptions = WAWebJS.ClientOptions;

export interface WebjsClient
  extends WebjsEventSource,
    Pick<WAWebJS.Client, 'initialize' | 'destroy' | 'logout' | 'getNumberId' | 'sendSeen' | 'requestPairingCode'> {
  /** Set by whatsapp-web.js just before `ready`. */
  info?: WebjsClientInfo | undefined;
  sendMessage(chatId: string, content: WAWebJS.MessageContent, options?: WAWebJS.MessageSendOptions): Promise<WebjsSentMessage | null | undefined>;
  getMessageById(messageId: string): Promise<WebjsActionableMessage | null>;
  getContacts(): Promise<WebjsContact[]>;
  getChats(): Promise<WebjsChat[]>;
  getChatById(chatId: string): Promise<WebjsChatActions | undefined>;
  getProfilePicUrl(contactId: string): Promise<string | undefined>;
  getContactLidAndPhone(userIds: string[]): Promise<{ lid?: string | undefined; pn?: string | undefined }[]>;
}

/** Arguments whatsapp-web.js emits with each client event the engine listens to (src/Client.js emit calls). */
export interface WebjsEventMap {
  qr: [qr: string];
  code: [code: string];
  authenticated: [];
  auth_failure: [message: string];
  ready: [];
  /** Declared `percent: string`; the page passes a number (src/Client.js:386). */
  loading_screen: [percent: number | string, message: string];
  message: [message: WebjsMessage];
  message_create: [message: WebjsMessage];
  message_ack: [message: WebjsMessage, ack: number];
  message_edit: [message: WebjsMessage, newBody: string, prevBody: string];
  message_revoke_everyone: [message: WebjsMessage, revokedMsg?: WebjsMessage | null];
  message_reaction: [reaction: WebjsReaction];
  change_state: [state: string];
  change_battery: [batteryInfo: WebjsBatteryInfo];
  disconnected: [reason: string];
  vote_update: [vote: WebjsPollVote];
  call: [call: WebjsCall];
  group_join: [notification: WebjsGroupNotification];
  group_leave: [notification: WebjsGroupNotification];
  group_admin_changed: [notification: WebjsGroupNotification];
  group_update: [notification: WebjsGroupNotification];
}
export type WebjsEventName = keyof WebjsEventMap;

// A real whatsapp-web.js Client (and its structures) must satisfy these types: a library change that breaks them fails compilation.
type Satisfies<T, U extends T> = U;
export type _ClientSatisfiesWebjsClient = Satisfies<WebjsClient, WAWebJS.Client>;
export type _MessageSatisfiesWebjsMessage = Satisfies<WebjsMessage & WebjsActionableMessage, WAWebJS.Message>;
export type _ChatSatisfiesWebjsChat = Satisfies<WebjsChat & WebjsChatActions, WAWebJS.Chat>;
export type _PollVoteSatisfiesWebjsPollVote = Satisfies<WebjsPollVote, WAWebJS.PollVote>;
export type _CallSatisfiesWebjsCall = Satisfies<WebjsCall, WAWebJS.Call>;
export type _GroupNotificationSatisfiesWebjsGroupNotification = Satisfies<WebjsGroupNotification, WAWebJS.GroupNotification>;

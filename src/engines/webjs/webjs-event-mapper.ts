import type { AckLevel, EngineEvent, InboundMessage, MediaInput } from '../engine.js';
import type { WebjsClient, WebjsEventMap, WebjsEventName, WebjsGroupNotification, WebjsMessage } from './webjs-client.js';

/** Kept as a name for what the mapper emits; the fields now live on InboundMessage. */
export type WebjsInboundMessage = InboundMessage;

export interface AttachOptions {
  /** A mapping or a listener failed; `event` is the whatsapp-web.js event name. Never throws into whatsapp-web.js. */
  onError: (error: unknown, event: string) => void;
  /** Longest wait for one media download before the message goes out without it. Default 60 s. */
  mediaTimeoutMs?: number;
}

const DEFAULT_MEDIA_TIMEOUT_MS = 60_000;
const ACK_LEVELS: readonly number[] = [-1, 0, 1, 2, 3, 4];

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const isAckLevel = (ack: number): ack is AckLevel => ACK_LEVELS.includes(ack);
/** The chat of a message: for own messages the recipient, otherwise the sender (a group for group messages). */
export const chatIdOf = (message: Pick<WebjsMessage, 'fromMe' | 'from' | 'to'>): string => (message.fromMe ? message.to : message.from);
/** A phone number from a `<digits>@c.us` id, else null. */
const phoneOfUserId = (id: string | undefined): string | null => (id !== undefined && /^\d+@c\.us$/.test(id) ? id.slice(0, id.indexOf('@')) : null);

/** WhatsApp's 8-character pairing code as ABCD-EFGH (other shapes are returned as they are). */
export function formatPairingCode(code: string): string {
  const compact = code.replace(/[\s-]/g, '').toUpperCase();
  return compact.length === 8 ? `${compact.slice(0, 4)}-${compact.slice(4)}` : code;
}

/** An id as whatsapp-web.js passes it on: a serialized string, or WhatsApp Web's Wid/MsgKey object; null when neither. */
function serializedId(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'object' && value !== null && '_serialized' in value && typeof value._serialized === 'string') return value._serialized;
  return null;
}

/** Mentions arrive as serialized ids; older WhatsApp Web builds hand over Wid objects. */
function serializedIds(values: readonly unknown[]): string[] {
  return values.flatMap((value) => {
    const id = serializedId(value);
    return id === null ? [] : [id];
  });
}

/** Unix seconds from a WhatsApp time in seconds or milliseconds; now when there is none. */
const unixSeconds = (value: number | undefined): number => {
  if (value === undefined || !Number.isFinite(value) || value <= 0) return nowSeconds();
  return Math.floor(value > 1e11 ? value / 1000 : value);
};

type GroupUpdateKind = Extract<EngineEvent, { type: 'group_update' }>['kind'];

const toGroupUpdate =
  (kind: GroupUpdateKind) =>
  (notification: WebjsGroupNotification): EngineEvent => ({
    type: 'group_update',
    kind,
    chatId: notification.chatId,
    author: notification.author ?? null,
    recipients: serializedIds(notification.recipientIds),
    subtype: notification.type,
    body: notification.body,
    timestamp: unixSeconds(notification.timestamp),
  });

type Handlers = { [E in WebjsEventName]: (...args: WebjsEventMap[E]) => EngineEvent | null | Promise<EngineEvent | null> };

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Registers a listener for every whatsapp-web.js client event the engine port knows and maps it
 * to an EngineEvent. Events are emitted in the order whatsapp-web.js emitted them (one queue per
 * client): the slow parts of a message (media download, quoted message, @lid lookup) start at once
 * and run concurrently, but a message waits for the ones before it. Nothing thrown here reaches
 * whatsapp-web.js. Returns the detach function: it removes exactly these listeners and drops
 * events still being mapped.
 */
export function attachWebjsEvents(client: WebjsClient, emit: (event: EngineEvent) => void, options: AttachOptions): () => void {
  const mediaTimeoutMs = options.mediaTimeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS;
  const lidPhones = new Map<string, Promise<string | null>>();
  // whatsapp-web.js emits message_create and then message with the same object (src/Client.js:655, 664): map it once.
  const mapped = new WeakMap<WebjsMessage, Promise<WebjsInboundMessage>>();
  let detached = false;
  let pending = 0;
  let tail: Promise<void> = Promise.resolve();

  // onError is the caller's: if it throws too, that must neither reach whatsapp-web.js nor break the queue.
  const report = (error: unknown, name: string): void => {
    try {
      options.onError(error, name);
    } catch {
      // nothing left to tell
    }
  };

  const deliver = (name: string, event: EngineEvent | null): void => {
    if (detached || event === null) return;
    try {
      emit(event);
    } catch (error) {
      report(error, name);
    }
  };

  /** Emits in arrival order; synchronous results go out at once when nothing is waiting. */
  const enqueue = (name: string, produce: () => EngineEvent | null | Promise<EngineEvent | null>): void => {
    let result: EngineEvent | null | Promise<EngineEvent | null>;
    try {
      result = produce();
    } catch (error) {
      report(error, name);
      return;
    }
    if (!(result instanceof Promise) && pending === 0) {
      deliver(name, result);
      return;
    }
    // Settled at once so that a rejection never goes unhandled while earlier events are still pending.
    const settled = Promise.resolve(result).then(
      (event) => ({ event }),
      (error: unknown) => ({ event: null, error }),
    );
    pending += 1;
    tail = tail
      .then(() => settled)
      .then((outcome) => {
        if ('error' in outcome) report(outcome.error, name);
        else deliver(name, outcome.event);
      })
      .finally(() => {
        pending -= 1;
      });
  };

  const resolvePhone = (userId: string): Promise<string | null> => {
    const direct = phoneOfUserId(userId);
    if (direct !== null || !userId.endsWith('@lid')) return Promise.resolve(direct);
    let lookup = lidPhones.get(userId);
    if (!lookup) {
      lookup = client.getContactLidAndPhone([userId]).then(([entry]) => phoneOfUserId(entry?.pn));
      lidPhones.set(userId, lookup);
      // Only numbers are kept: an unknown or failed lookup is tried again with the sender's next message.
      const forget = (): void => void lidPhones.delete(userId);
      lookup.then((phone) => (phone === null ? forget() : undefined), forget);
    }
    return lookup;
  };

  const download = async (message: WebjsMessage): Promise<{ media: MediaInput | null; mediaError: string | null }> => {
    if (!message.hasMedia) return { media: null, mediaError: null };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`media download timed out after ${mediaTimeoutMs} ms`)), mediaTimeoutMs);
    });
    try {
      const media = await Promise.race([message.downloadMedia(), timeout]);
      if (!media) return { media: null, mediaError: 'media is no longer available on WhatsApp (expired or deleted)' };
      return { media: { data: media.data, mimetype: media.mimetype, ...(media.filename ? { filename: media.filename } : {}) }, mediaError: null };
    } catch (error) {
      return { media: null, mediaError: errorText(error) };
    } finally {
      clearTimeout(timer);
    }
  };

  const mapMessage = (message: WebjsMessage, name: string): Promise<WebjsInboundMessage> => {
    let result = mapped.get(message);
    if (!result) {
      result = toInbound(message, name);
      mapped.set(message, result);
    }
    return result;
  };

  const toInbound = async (message: WebjsMessage, name: string): Promise<WebjsInboundMessage> => {
    const chatId = chatIdOf(message);
    const isGroup = chatId.endsWith('@g.us');
    const author = message.author ?? null;
    const sender = message.fromMe ? null : isGroup ? author : message.from;
    const [media, quotedMessageId, fromPhone] = await Promise.all([
      download(message),
      message.hasQuotedMsg
        ? message.getQuotedMessage().then(
            (quoted) => quoted?.id._serialized ?? null,
            (error: unknown) => {
              report(error, `${name}:quoted`);
              return null;
            },
          )
        : null,
      sender === null
        ? null
        : resolvePhone(sender).catch((error: unknown) => {
            report(error, `${name}:lid`);
            return null;
          }),
    ]);
    const location = message.location;
    const type: string = message.type;
    return {
      waMessageId: message.id._serialized,
      from: message.from,
      to: message.to,
      chatId,
      author,
      body: message.body,
      type,
      timestamp: message.timestamp,
      isGroup,
      fromMe: message.fromMe,
      hasMedia: message.hasMedia,
      media: media.media,
      mediaError: media.mediaError,
      quotedMessageId,
      mentions: serializedIds(message.mentionedIds),
      // Declared as strings, built from numbers (src/structures/Message.js:186): Number() covers both.
      location:
        type === 'location' && location
          ? { latitude: Number(location.latitude), longitude: Number(location.longitude), ...(location.name ? { name: location.name } : {}) }
          : null,
      isForwarded: message.isForwarded ?? false,
      isStatus: message.isStatus,
      fromPhone,
    };
  };

  const toReady = (): EngineEvent | Promise<EngineEvent> => {
    const info = client.info;
    if (!info) throw new Error("whatsapp-web.js emitted 'ready' without client.info");
    const id = info.wid._serialized;
    const ready = (phone: string): EngineEvent => ({ type: 'ready', me: { id, phone, pushName: info.pushname || null } });
    if (!id.endsWith('@lid')) return ready(info.wid.user);
    // An account known only by its @lid (src/Client.js:339-345): its phone number is looked up.
    return resolvePhone(id)
      .catch(() => null)
      .then((phone) => ready(phone ?? info.wid.user));
  };

  const handlers: Handlers = {
    qr: (qr) => ({ type: 'qr', qr }),
    code: (code) => ({ type: 'pairing_code', code: formatPairingCode(code) }),
    authenticated: () => ({ type: 'authenticated' }),
    auth_failure: (message) => ({ type: 'auth_failure', message }),
    ready: toReady,
    loading_screen: (percent, message) => ({ type: 'loading_screen', percent: Number(percent), message }),
    message: async (message) => ({ type: 'message', message: await mapMessage(message, 'message') }),
    message_create: async (message) => ({ type: 'message_create', message: await mapMessage(message, 'message_create') }),
    message_ack: (message, ack) => {
      if (!isAckLevel(ack)) throw new Error(`unknown ack level ${String(ack)}`);
      return { type: 'message_ack', waMessageId: message.id._serialized, chatId: chatIdOf(message), ack };
    },
    message_edit: (message, newBody, prevBody) => ({
      type: 'message_edit',
      waMessageId: message.id._serialized,
      chatId: chatIdOf(message),
      newBody,
      previousBody: prevBody,
      editedAt: message.latestEditSenderTimestampMs ? Math.floor(message.latestEditSenderTimestampMs / 1000) : nowSeconds(),
    }),
    message_revoke_everyone: (message, revokedMsg) => ({
      type: 'message_revoke_everyone',
      // revokedMsg carries the original id when whatsapp-web.js caught it (src/Client.js:686-692).
      waMessageId: revokedMsg?.id._serialized ?? message.protocolMessageKey?._serialized ?? message.id._serialized,
      chatId: chatIdOf(message),
      revokedAt: nowSeconds(),
    }),
    message_reaction: (reaction) => ({
      type: 'message_reaction',
      waMessageId: reaction.msgId._serialized,
      reaction: reaction.reaction,
      senderId: reaction.senderId,
      // WhatsApp Web keeps reaction times in milliseconds; the port speaks seconds.
      timestamp: reaction.timestamp > 1e11 ? Math.floor(reaction.timestamp / 1000) : reaction.timestamp,
    }),
    change_state: (state) => ({ type: 'change_state', state }),
    change_battery: (info) => ({ type: 'change_battery', battery: info.battery, plugged: info.plugged }),
    disconnected: (reason) => ({ type: 'disconnected', reason }),
    vote_update: (vote) => {
      // The poll's id: its message when whatsapp-web.js loaded it, else the key the vote names (PollVote.js:66-72).
      const waMessageId = serializedId(vote.parentMessage.id) ?? serializedId(vote.parentMsgKey);
      if (waMessageId === null) throw new Error('whatsapp-web.js emitted vote_update without the poll message id');
      const voter = serializedId(vote.voter);
      if (voter === null) throw new Error('whatsapp-web.js emitted vote_update without a voter');
      const selectedOptions = vote.selectedOptions.flatMap((option) => (option.name === undefined ? [] : [option.name]));
      // Names are unknown when the poll message could not be loaded: a partial list would misstate the vote.
      if (selectedOptions.length !== vote.selectedOptions.length) throw new Error('whatsapp-web.js emitted vote_update without the names of the options (poll message not loaded)');
      return { type: 'vote_update', waMessageId, voter, selectedOptions, timestamp: unixSeconds(vote.interractedAtTs) };
    },
    call: (call) => {
      // whatsapp-web.js emits own outgoing calls too (Call.js:46), whose peer is the callee: only calls received are reported.
      if (call.fromMe) return null;
      const from = serializedId(call.from);
      if (from === null) throw new Error('whatsapp-web.js emitted call without a caller');
      // call.timestamp is never set in whatsapp-web.js 1.34.7 (Call.js:31 vs src/Client.js:1085-1094): then it is now.
      return { type: 'call', callId: call.id, from, isVideo: call.isVideo, isGroup: call.isGroup, timestamp: unixSeconds(call.timestamp) };
    },
    group_join: toGroupUpdate('join'),
    group_leave: toGroupUpdate('leave'),
    group_admin_changed: toGroupUpdate('admin_changed'),
    group_update: toGroupUpdate('update'),
  };

  const removers: (() => void)[] = [];
  const register = <E extends WebjsEventName>(name: E, handler: Handlers[E]): void => {
    const listener = (...args: WebjsEventMap[E]): void => enqueue(name, () => handler(...args));
    client.on(name, listener);
    removers.push(() => client.removeListener(name, listener));
  };
  for (const name of Object.keys(handlers) as WebjsEventName[]) register(name, handlers[name]);

  return () => {
    detached = true;
    for (const remove of removers.splice(0)) remove();
  };
}

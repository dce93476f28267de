import type { AckLevel, EngineEvent, InboundMessage } from '../engines/engine.js';
import { toContractEvent, type InboundMediaOutcome } from '../events/contract-events.js';
import type { EventBus, GatewayEvent } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import { mediaRef, mediaStoreErrorCode, type MediaRef, type MediaStore } from '../media/media-store.js';
import type { SendQueue } from '../queue/send-queue.js';
import type { MessageStore } from '../storage/message-store.js';
import type { MessageRecord, StatusUpdate } from './message.js';
import { newRecord } from './message.js';
import { publishMessageStatus } from './message-status-event.js';
import { failQueued } from './send-attempt.js';
import type { SendTracker } from './send-tracker.js';
import { dropOldest } from '../bounded-map.js';
import { SerialQueues } from '../serial-queues.js';

/** How long an ack may wait for the worker to record the id of the send it belongs to. */
const SEND_SETTLE_WAIT_MS = 10_000;
/** Inbound messages stored at their `message_create` and kept for their `message` event, at most (oldest forgotten first). */
const EARLY_RECEIVES_KEPT = 1_000;

export interface MessagePipelineDeps {
  bus: EventBus;
  store: MessageStore;
  queue: SendQueue;
  tracker: SendTracker;
  logger: Logger;
  /** Where inbound media goes before its `message` event is published. */
  media: MediaStore;
}

const STATUS_OF_ACK: Partial<Record<AckLevel, 'sent' | 'delivered' | 'read' | 'played'>> = { 1: 'sent', 2: 'delivered', 3: 'read', 4: 'played' };

/**
 * Engine events → message store → contract events, one session at a time in arrival order (so a
 * session's events keep their order even though the store is asynchronous):
 * - `message_ack` moves the outbound record's status (ack -1 → `failed`, `ACK_ERROR`) and
 *   publishes `message.status` on a change; the `message_ack` event carries `gatewayMessageId`;
 * - `message` (inbound): its media is put in the media store first, then the record is stored as
 *   `received` (with `latency.receivedMs` and the same `media` reference as the event), then the
 *   event is published with `media: { mediaId, mimetype, filename, size, url }`; a media store
 *   failure gives `media: null` and `mediaError` (`MEDIA_STORE_FAILED`, `MEDIA_TOO_LARGE`, `MEDIA_STORE_FULL`);
 * - `message_create`, `message_edit` and `message_revoke_everyone` carry `gatewayMessageId` when
 *   the message went through the gateway; edits and revokes are noted on the record.
 * A session deleted (status event reason `DELETED`) has its media removed and its queued sends
 * dropped and failed `SESSION_DELETED`. A store failure is logged; the contract event is published all the same.
 */
export class MessagePipeline {
  /** Per session, the steps of its engine events (and its deletion), one at a time in arrival order. */
  private readonly steps: SerialQueues;
  /** Inbound messages without media stored at their `message_create`, by session and WhatsApp id, for their `message` event. */
  private readonly earlyReceives = new Map<string, Promise<InboundMediaOutcome>>();
  private readonly offs: (() => void)[] = [];

  constructor(private readonly deps: MessagePipelineDeps) {
    this.steps = new SerialQueues((sessionId, error) => deps.logger.error({ err: error, sessionId }, 'message pipeline step failed'));
    this.offs.push(deps.bus.tapEngine((sessionId, event) => this.steps.push(sessionId, () => this.onEngineEvent(sessionId, event, new Date()))));
    this.offs.push(
      deps.bus.subscribe((event: GatewayEvent) => {
        if (event.event === 'session.status' && event.data.reason === 'DELETED') this.steps.push(event.sessionId, () => this.onSessionDeleted(event.sessionId));
      }),
    );
  }

  /** Resolves when every event received so far has been handled (tests, shutdown). */
  async idle(): Promise<void> {
    await this.steps.idle();
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private async onEngineEvent(sessionId: string, event: EngineEvent, seenAt: Date): Promise<void> {
    let gatewayMessageId: string | null = null;
    let media: InboundMediaOutcome | undefined;
    try {
      if (event.type === 'message' && !event.message.fromMe) media = await this.receiveOnce(sessionId, event.message, seenAt);
      else if (event.type === 'message_create' && !event.message.fromMe && !event.message.hasMedia) await this.receiveEarly(sessionId, event.message, seenAt);
      else gatewayMessageId = await this.apply(sessionId, event, seenAt);
    } catch (error) {
      this.deps.logger.error({ err: error, sessionId, event: event.type }, 'recording an engine event in the message store failed');
    }
    const contract = toContractEvent(event, seenAt, media);
    if (!contract) return;
    const data = gatewayMessageId === null ? contract.data : { ...contract.data, gatewayMessageId };
    this.deps.bus.publish({ sessionId, event: contract.event, data, occurredAt: seenAt });
  }

  /** Records the event; returns our id of the message it concerns, when we have one. */
  private async apply(sessionId: string, event: EngineEvent, seenAt: Date): Promise<string | null> {
    switch (event.type) {
      case 'message_ack':
        return this.onAck(sessionId, event.waMessageId, event.ack, seenAt);
      case 'message_create':
        return event.message.fromMe ? ((await this.ours(sessionId, event.message.waMessageId))?.id ?? null) : null;
      case 'message_edit':
        // Applied only over the text it replaced: a late event never undoes a newer edit.
        return this.note(sessionId, event.waMessageId, (content) =>
          shownText(content) === event.previousBody ? { ...content, [textField(content)]: event.newBody, editedAt: event.editedAt } : null,
        );
      case 'message_revoke_everyone':
        return this.note(sessionId, event.waMessageId, (content) => ({ ...content, revokedAt: event.revokedAt }));
      default:
        return null;
    }
  }

  /**
   * The record of one of our sends (or another stored message), once the worker has recorded its
   * WhatsApp id. A send the tracker remembers is recorded already: its events need not wait for the
   * session's next send, in flight meanwhile (with many sends queued, there nearly always is one).
   */
  private async ours(sessionId: string, waMessageId: string): Promise<MessageRecord | null> {
    const known = this.deps.tracker.recall(sessionId, waMessageId);
    if (known) return known;
    await this.deps.tracker.settled(sessionId, SEND_SETTLE_WAIT_MS);
    return this.deps.tracker.recall(sessionId, waMessageId) ?? this.deps.store.findByWaMessageId(sessionId, waMessageId);
  }

  private async onAck(sessionId: string, waMessageId: string, ack: AckLevel, seenAt: Date): Promise<string | null> {
    const record = await this.ours(sessionId, waMessageId);
    if (record?.direction !== 'outbound') return null;
    const at = seenAt.toISOString();
    const status = STATUS_OF_ACK[ack];
    const update: StatusUpdate | null =
      ack === -1 ? { status: 'failed', at, error: { code: 'ACK_ERROR', message: 'WhatsApp reported an error for this message (ack -1)' } } : status ? { status, at } : null;
    // Statuses only move forward: an ack at or below what the record already shows changes nothing.
    if (update && !(update.status !== 'failed' && isAtOrBeyond(record, update.status))) {
      const outcome = await this.deps.store.updateStatus(record.id, update, record);
      if (outcome.record) this.deps.tracker.remember(outcome.record);
      if (outcome.changed && outcome.record) publishMessageStatus(this.deps.bus, outcome.record);
    }
    return record.id;
  }

  /**
   * An inbound message without media is stored at its `message_create` (which engines emit just
   * before `message`), so that both events are published in the same turn of the event loop and
   * recorded in one append; its `message` event then reuses the outcome. With media, the record
   * waits for the `message` event, which is the one that carries the download.
   */
  private async receiveEarly(sessionId: string, m: InboundMessage, seenAt: Date): Promise<void> {
    const key = earlyKey(sessionId, m);
    let pending = this.earlyReceives.get(key);
    if (!pending) {
      pending = this.receive(sessionId, m, seenAt);
      this.earlyReceives.set(key, pending);
      dropOldest(this.earlyReceives, EARLY_RECEIVES_KEPT);
    }
    await pending;
  }

  /** The `message` event's receive: the one its `message_create` made, or a new one (which finds a repeat). */
  private receiveOnce(sessionId: string, m: InboundMessage, seenAt: Date): Promise<InboundMediaOutcome> {
    const key = earlyKey(sessionId, m);
    const early = this.earlyReceives.get(key);
    if (early && !m.hasMedia) {
      this.earlyReceives.delete(key);
      return early;
    }
    return this.receive(sessionId, m, seenAt);
  }

  /**
   * An inbound message: its media stored, then its record (once: a repeated event reuses what the
   * record says of the media). Never throws; what became of the media, for the `message` event.
   */
  private async receive(sessionId: string, m: InboundMessage, seenAt: Date): Promise<InboundMediaOutcome> {
    if (!m.media) {
      // Nothing to download: the duplicate check and the insert are one step (one round trip).
      const outcome: InboundMediaOutcome = { media: null, mediaError: m.mediaError };
      try {
        await this.storeInbound(sessionId, m, seenAt, outcome, true);
      } catch (error) {
        this.deps.logger.error({ err: error, sessionId, event: 'message' }, 'recording an engine event in the message store failed');
      }
      return outcome;
    }
    let existing: MessageRecord | null = null;
    try {
      existing = await this.deps.store.findByWaMessageId(sessionId, m.waMessageId);
    } catch (error) {
      this.deps.logger.error({ err: error, sessionId }, 'looking up an inbound message in the message store failed');
    }
    if (existing) return mediaOutcomeOf(existing, m);
    const media = await this.storeMedia(sessionId, m);
    try {
      await this.storeInbound(sessionId, m, seenAt, media);
    } catch (error) {
      this.deps.logger.error({ err: error, sessionId, event: 'message' }, 'recording an engine event in the message store failed');
    }
    return media;
  }

  private async storeMedia(sessionId: string, m: InboundMessage): Promise<InboundMediaOutcome> {
    if (!m.media) return { media: null, mediaError: m.mediaError };
    try {
      const stored = await this.deps.media.put(sessionId, { data: Buffer.from(m.media.data, 'base64'), mimetype: m.media.mimetype, filename: m.media.filename });
      return { media: mediaRef(stored), mediaError: null };
    } catch (error) {
      const code = mediaStoreErrorCode(error);
      this.deps.logger.error({ err: error, sessionId, waMessageId: m.waMessageId, code }, 'storing inbound media failed; the message event goes out without it');
      return { media: null, mediaError: code };
    }
  }

  /** `unlessKnown`: skipped when the session has a record of this WhatsApp id already (a repeated event). */
  private async storeInbound(sessionId: string, m: InboundMessage, seenAt: Date, media: InboundMediaOutcome, unlessKnown = false): Promise<void> {
    const receivedMs = m.timestamp > 0 ? Math.max(0, seenAt.getTime() - m.timestamp * 1000) : null;
    const record = newRecord({
      sessionId,
      chatId: m.chatId,
      direction: 'inbound',
      type: m.type,
      status: 'received',
      waMessageId: m.waMessageId,
      content: {
        body: m.body,
        from: m.from,
        ...(m.fromPhone ? { fromPhone: m.fromPhone } : {}),
        author: m.author,
        hasMedia: m.hasMedia,
        media: media.media,
        ...(media.mediaError ? { mediaError: media.mediaError } : {}),
        quotedMessageId: m.quotedMessageId,
        mentions: m.mentions,
        ...(m.location ? { location: m.location } : {}),
        timestamp: m.timestamp,
      },
      createdAt: seenAt.toISOString(),
      latency: { toSentMs: null, toDeliveredMs: null, toReadMs: null, receivedMs },
    });
    if (unlessKnown) await this.deps.store.insertUnlessKnown({ ...record, waMessageId: m.waMessageId });
    else await this.deps.store.insert(record);
  }

  private async note(sessionId: string, waMessageId: string, change: (content: Record<string, unknown>) => Record<string, unknown> | null): Promise<string | null> {
    const record = await this.ours(sessionId, waMessageId);
    if (!record) return null;
    await this.deps.store.modify(record.id, (current) => {
      const content = change(current.content);
      return { record: content ? { ...current, content } : undefined, result: null };
    });
    return record.direction === 'outbound' ? record.id : null;
  }

  private async onSessionDeleted(sessionId: string): Promise<void> {
    this.deps.tracker.forgetSession(sessionId);
    // Among the session's steps: media of messages received before the deletion is already stored.
    await this.deps.media.removeSession(sessionId).catch((error: unknown) => this.deps.logger.error({ err: error, sessionId }, 'removing the media of a deleted session failed'));
    await this.deps.queue.removeSession(sessionId);
    const at = new Date().toISOString();
    for (;;) {
      const page = await this.deps.store.list(sessionId, { direction: 'outbound', status: 'queued', limit: 200 });
      let changed = 0;
      for (const record of page.data) {
        const failed = await this.deps.store.modify(record.id, failQueued({ code: 'SESSION_DELETED', message: `Session '${sessionId}' was deleted` }, at));
        if (failed?.changed) {
          changed += 1;
          publishMessageStatus(this.deps.bus, failed.record);
        }
        await this.deps.store.dropPayload(record.id);
      }
      if (page.nextCursor === null || changed === 0) return;
    }
  }
}

/** What an already stored inbound record says of its media (a repeated `message` event). */
/** Where an early receive waits for its `message` event. */
function earlyKey(sessionId: string, m: InboundMessage): string {
  return `${sessionId}\n${m.waMessageId}`;
}

function mediaOutcomeOf(record: MessageRecord, m: InboundMessage): InboundMediaOutcome {
  const { media, mediaError } = record.content;
  return { media: isMediaRef(media) ? media : null, mediaError: typeof mediaError === 'string' ? mediaError : m.mediaError };
}

function isMediaRef(value: unknown): value is MediaRef {
  return typeof value === 'object' && value !== null && 'mediaId' in value && typeof value.mediaId === 'string' && 'url' in value && typeof value.url === 'string';
}

const RANK = { queued: 0, sent: 1, delivered: 2, read: 3, played: 4 } as const;

/** The record already shows `status` or a later one (or is finished: failed, received). */
function isAtOrBeyond(record: MessageRecord, status: 'sent' | 'delivered' | 'read' | 'played'): boolean {
  const current = record.status;
  return !(current in RANK) || RANK[current as keyof typeof RANK] >= RANK[status];
}

/** The field holding a record's text: `text` or `caption` (outbound), `body` (inbound). */
export function textField(content: Record<string, unknown>): 'text' | 'caption' | 'body' {
  return 'text' in content ? 'text' : 'caption' in content ? 'caption' : 'body';
}

function shownText(content: Record<string, unknown>): unknown {
  return content[textField(content)];
}

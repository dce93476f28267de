import { dropOldest } from '../bounded-map.js';
import type { Config } from '../config.js';
import type { Engine, MediaInput, SendResult } from '../engines/engine.js';
import { EngineError } from '../engines/engine.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import { isMediaFetchError } from '../media/media-errors.js';
import type { FetchedMedia } from '../media/safe-fetch.js';
import type { SendJob, SendJobResult } from '../queue/send-queue.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { MessageStore } from '../storage/message-store.js';
import { abortableWait } from '../abortable-wait.js';
import type { MessageError, MessageRecord } from './message.js';
import { publishMessageStatus } from './message-status-event.js';
import { mentionIds, toOutboundContent, type EngineSendMessage } from './message.schemas.js';
import { attemptEnded, attemptSucceeded, beginAttempt, failQueued, resolveChat } from './send-attempt.js';
import type { SendTracker } from './send-tracker.js';

/** Engine errors after which a retry cannot help. */
const PERMANENT_CODES = new Set(['NUMBER_NOT_ON_WHATSAPP', 'QUOTED_MESSAGE_NOT_FOUND', 'MEDIA_FETCH_FAILED', 'MEDIA_TOO_LARGE', 'MEDIA_URL_FORBIDDEN', 'SESSION_DELETED']);
/** Longest wait for a session to become ready before the job is looked at again (TTL, deletion). */
const NOT_READY_RECHECK_MS = 30_000;
const MAX_RETRY_DELAY_MS = 5 * 60_000;
/** Retries of the write that records a send WhatsApp took (see recordSuccess). */
const SUCCESS_WRITE_FIRST_RETRY_MS = 250;
const SUCCESS_WRITE_MAX_RETRY_MS = 5_000;
/** How long a job whose record is not there is looked at again before it is dropped (see `missing`), and how often. */
export const MISSING_RECORD_WAIT_MS = 2_000;
const MISSING_RECORD_RECHECK_MS = 100;
/** Jobs with a missing record tracked at once at most (the oldest are forgotten, and waited for again). */
const MAX_MISSING_TRACKED = 10_000;
/** An engine call that has not answered by then is given up on: nothing says whether WhatsApp has the message. */
export const ENGINE_SEND_TIMEOUT_MS = 60_000;

export interface SendProcessorDeps {
  config: Pick<Config, 'send'>;
  store: MessageStore;
  sessions: SessionManager;
  bus: EventBus;
  tracker: SendTracker;
  logger: Logger;
  fetchMedia: (url: string, signal: AbortSignal) => Promise<FetchedMedia>;
  /** Random in [0, 1) for the pacing jitter (tests pin it). */
  random?: () => number;
  /** Default {@link MISSING_RECORD_WAIT_MS} (tests shorten it). */
  missingRecordWaitMs?: number;
}

/** What the worker stores beside a record: the validated body, to rebuild the engine call. */
export type SendPayload = EngineSendMessage;

class PermanentFailure extends Error {
  constructor(readonly error: MessageError) {
    super(error.message);
  }
}

const iso = (): string => new Date().toISOString();

/**
 * The send worker's processor: one job = one record, looked up by id. Idempotent: a record that is
 * not `queued`, or that WhatsApp already holds, is left alone, so a redelivered job is a no-op.
 * See `send-attempt.ts` for the crash rule, and the contract's "Retries and order".
 */
export class SendProcessor {
  private readonly random: () => number;
  private readonly missingRecordWaitMs: number;
  /** Jobs whose record was not there, and since when (see `missing`). */
  private readonly missingSince = new Map<string, number>();

  constructor(private readonly deps: SendProcessorDeps) {
    this.random = deps.random ?? Math.random;
    this.missingRecordWaitMs = deps.missingRecordWaitMs ?? MISSING_RECORD_WAIT_MS;
  }

  readonly process = async (job: SendJob, signal: AbortSignal): Promise<SendJobResult> => {
    const { store } = this.deps;
    const stored = await store.getWithPayload(job.messageId);
    const record = stored?.record;
    if (!record) return this.missing(job.messageId);
    if (this.missingSince.size > 0) this.missingSince.delete(job.messageId);
    if (record.status !== 'queued' || record.waMessageId !== null) return this.finish(job.messageId);
    if (Date.now() - Date.parse(record.createdAt) > this.deps.config.send.ttlMs) {
      return this.fail(record, { code: 'SEND_EXPIRED', message: `Not sent within SEND_TTL (${this.deps.config.send.ttlMs} ms)` });
    }
    if (!this.deps.sessions.has(record.sessionId)) return this.fail(record, { code: 'SESSION_DELETED', message: `Session '${record.sessionId}' was deleted` });
    const engine = this.readyEngine(record.sessionId);
    if (!engine) return this.waitForReady(record, signal);

    let payload: SendPayload;
    try {
      payload = this.payloadOf(stored.payload);
      const chatId = await this.resolveRecipient(record, payload, engine);
      const media = await this.fetchMedia(payload, signal);
      const quotedMessageId = await this.quotedId(record, payload);
      return await this.attempt(record, engine, chatId, payload, media, quotedMessageId, signal);
    } catch (error) {
      if (error instanceof PermanentFailure) return this.fail(record, error.error);
      throw error;
    }
  };

  private async attempt(
    record: MessageRecord,
    engine: Engine,
    chatId: string,
    payload: SendPayload,
    media: MediaInput | undefined,
    quotedMessageId: string | undefined,
    signal: AbortSignal,
  ): Promise<SendJobResult> {
    const { store, tracker, config } = this.deps;
    const begun = await store.modify(record.id, beginAttempt(iso()), record);
    if (!begun || begun.outcome === 'not_queued') return this.finish(record.id);
    if (begun.outcome === 'interrupted') {
      return this.fail(begun.record, { code: 'SEND_INTERRUPTED', message: 'The gateway stopped during the engine call: WhatsApp may or may not have the message, so it is not sent again' });
    }
    if (payload.type === 'text' && config.send.typingMs > 0) await this.showTyping(engine, chatId, config.send.typingMs);
    const settle = tracker.begin(record.sessionId);
    let result: SendResult;
    try {
      result = await withTimeout(engine.send(chatId, toOutboundContent(payload, media), { quotedMessageId, mentions: mentionIds(payload) }), ENGINE_SEND_TIMEOUT_MS);
    } catch (error) {
      settle();
      return this.attemptFailed(begun.record, error);
    }
    try {
      const done = await this.recordSuccess(record.id, attemptSucceeded(result.waMessageId, iso()), begun.record, signal);
      if (done) tracker.remember(done.record);
      if (done?.changed) publishMessageStatus(this.deps.bus, done.record);
    } finally {
      settle();
    }
    this.dropPayload(record.id);
    return { outcome: 'done', pauseMs: config.send.minIntervalMs + Math.floor(this.random() * config.send.jitterMs) };
  }

  /**
   * WhatsApp has the message: its id must reach the store, or a redelivered job would find the
   * attempt begun and fail the send SEND_INTERRUPTED. So a failed write (Redis away) is retried,
   * every 250 ms doubling to 5 s, for as long as the queue runs; only a close ends it (the next
   * start then finds the attempt begun — the documented limit).
   */
  private async recordSuccess<T>(id: string, change: (record: MessageRecord) => { record?: MessageRecord | undefined; result: T }, current: MessageRecord, signal: AbortSignal): Promise<T | null> {
    for (let delayMs = SUCCESS_WRITE_FIRST_RETRY_MS; ; delayMs = Math.min(delayMs * 2, SUCCESS_WRITE_MAX_RETRY_MS)) {
      try {
        return await this.deps.store.modify(id, change, current);
      } catch (error) {
        if (signal.aborted) throw error;
        this.deps.logger.warn({ err: error, messageId: id, retryInMs: delayMs }, 'recording a send WhatsApp took failed; retrying until the store answers');
        await abortableWait(delayMs, signal);
      }
    }
  }

  private async attemptFailed(record: MessageRecord, error: unknown): Promise<SendJobResult> {
    const { store, config, logger } = this.deps;
    if (error instanceof SendTimeout) {
      return this.fail(record, { code: 'ENGINE_ERROR', message: `The engine did not answer within ${ENGINE_SEND_TIMEOUT_MS} ms; WhatsApp may or may not have the message, so it is not sent again` });
    }
    const engineError = error instanceof EngineError ? error : new EngineError('ENGINE_ERROR', error instanceof Error ? error.message : String(error), true);
    if (PERMANENT_CODES.has(engineError.code) || !engineError.reconnectable) return this.fail(record, { code: engineError.code, message: engineError.message });
    await store.modify(record.id, attemptEnded(), record);
    if (record.attempts >= config.send.maxAttempts) {
      return this.fail(record, { code: engineError.code, message: `${engineError.message} (gave up after ${record.attempts} attempts, SEND_MAX_ATTEMPTS)` });
    }
    const delayMs = Math.min(MAX_RETRY_DELAY_MS, config.send.retryDelayMs * 2 ** (record.attempts - 1));
    logger.warn({ sessionId: record.sessionId, messageId: record.id, attempts: record.attempts, delayMs, code: engineError.code }, 'send failed; retrying');
    return { outcome: 'retry', delayMs };
  }

  private readyEngine(sessionId: string): Engine | null {
    const { sessions } = this.deps;
    return sessions.statusOf(sessionId) === 'ready' ? sessions.engineOf(sessionId) : null;
  }

  /** Not ready: wait for the session's `ready` (or a recheck), without counting an attempt. */
  private async waitForReady(record: MessageRecord, signal: AbortSignal): Promise<SendJobResult> {
    const left = Date.parse(record.createdAt) + this.deps.config.send.ttlMs - Date.now();
    await abortableWait(Math.max(0, Math.min(NOT_READY_RECHECK_MS, left + 1)), signal, (wake) =>
      this.deps.bus.subscribe((event) => {
        if (event.sessionId === record.sessionId && event.event === 'session.status' && (event.data.detail === 'ready' || event.data.reason === 'DELETED')) wake();
      }),
    );
    return { outcome: 'retry', delayMs: 0 };
  }

  private payloadOf(raw: string | null): SendPayload {
    if (raw === null) throw new PermanentFailure({ code: 'ENGINE_ERROR', message: 'The stored send body is gone (expired or removed)' });
    return JSON.parse(raw) as SendPayload;
  }

  /** A phone number is resolved to WhatsApp's canonical id, which the record then keeps. */
  private async resolveRecipient(record: MessageRecord, payload: SendPayload, engine: Engine): Promise<string> {
    if (payload.to.kind === 'chat') return payload.to.chatId;
    const chatId = await engine.getNumberId(payload.to.phone);
    if (chatId === null) throw new PermanentFailure({ code: 'NUMBER_NOT_ON_WHATSAPP', message: `${payload.to.phone} is not on WhatsApp` });
    if (chatId !== record.chatId) await this.deps.store.modify(record.id, resolveChat(chatId));
    return chatId;
  }

  private async fetchMedia(payload: SendPayload, signal: AbortSignal): Promise<MediaInput | undefined> {
    if (!('media' in payload) || !('url' in payload.media)) return undefined;
    try {
      const fetched = await this.deps.fetchMedia(payload.media.url, signal);
      return { data: fetched.data.toString('base64'), mimetype: fetched.mimetype, filename: fetched.filename ?? undefined };
    } catch (error) {
      if (isMediaFetchError(error)) throw new PermanentFailure({ code: error.code, message: error.message });
      throw new PermanentFailure({ code: 'MEDIA_FETCH_FAILED', message: error instanceof Error ? error.message : String(error) });
    }
  }

  /** `replyTo` as our id is looked up in the session; WhatsApp's id is used as is. */
  private async quotedId(record: MessageRecord, payload: SendPayload): Promise<string | undefined> {
    if (payload.replyTo === undefined || !payload.replyTo.startsWith('msg_')) return payload.replyTo;
    const quoted = await this.deps.store.get(payload.replyTo);
    if (quoted?.sessionId !== record.sessionId || quoted.waMessageId === null) {
      throw new PermanentFailure({ code: 'QUOTED_MESSAGE_NOT_FOUND', message: `Message ${payload.replyTo} is not a sent message of this session` });
    }
    return quoted.waMessageId;
  }

  private async showTyping(engine: Engine, chatId: string, ms: number): Promise<void> {
    try {
      await engine.setPresence(chatId, 'typing');
      await new Promise((resolve) => setTimeout(resolve, ms));
    } catch (error) {
      this.deps.logger.debug({ err: error }, 'typing presence failed; sending anyway');
    }
  }

  private async fail(record: MessageRecord, error: MessageError): Promise<SendJobResult> {
    const failed = await this.deps.store.modify(record.id, failQueued(error, iso()), record);
    if (failed?.changed) publishMessageStatus(this.deps.bus, failed.record);
    return this.finish(record.id);
  }

  /**
   * A job whose record is not there. The accept path adds a job right after its record's insert is
   * sent, not once it is answered (one round trip less), so the job can exist without a record:
   * - for a moment, when the insert had to be sent again (NOSCRIPT: Redis lost its scripts, and the
   *   EVAL that reloads it goes after the job's add), or when the queue's connection is not the
   *   store's (no order between the two then);
   * - for good, when the insert failed (that request was answered with an error: not accepted).
   * So the job is looked at again every 100 ms, holding its lane, and dropped after
   * `missingRecordWaitMs` (2 s). A record gone for good otherwise (expired with MESSAGE_TTL, or
   * evicted from the embedded store) costs its lane the same wait once.
   */
  private missing(messageId: string): SendJobResult {
    const now = Date.now();
    const since = this.missingSince.get(messageId);
    if (since === undefined) {
      this.missingSince.set(messageId, now);
      dropOldest(this.missingSince, MAX_MISSING_TRACKED);
    }
    if (now - (since ?? now) < this.missingRecordWaitMs) return { outcome: 'retry', delayMs: MISSING_RECORD_RECHECK_MS };
    this.missingSince.delete(messageId);
    return this.finish(messageId);
  }

  private finish(messageId: string): SendJobResult {
    this.dropPayload(messageId);
    return { outcome: 'done' };
  }

  /** Not awaited: a payload left behind (Redis hiccup) only waits for its TTL. */
  private dropPayload(messageId: string): void {
    this.deps.store.dropPayload(messageId).catch((error: unknown) => this.deps.logger.warn({ err: error, messageId }, 'dropping a sent message body failed; it expires with MESSAGE_TTL'));
  }
}

class SendTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new SendTimeout()), ms)))]).finally(() => clearTimeout(timer));
}

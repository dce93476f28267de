import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { EventBus } from '../events/event-bus.js';
import { AppError } from '../errors.js';
import { checkUrl, UrlGuardError } from '../media/url-guard.js';
import type { SendQueue } from '../queue/send-queue.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { IdempotencyStore } from '../storage/idempotency-store.js';
import { IDEMPOTENCY_TTL_MS } from '../storage/idempotency-store.js';
import type { MessageStore } from '../storage/message-store.js';
import type { MessageRecord } from './message.js';
import { newMessageId, newRecord } from './message.js';
import { isInteractiveMessage, type SendMessage } from './message.schemas.js';
import { publishMessageStatus } from './message-status-event.js';
import { recordContent } from './record-content.js';
import { failQueued } from './send-attempt.js';

export interface MessageServiceDeps {
  config: Pick<Config, 'media'>;
  store: MessageStore;
  idempotency: IdempotencyStore;
  queue: SendQueue;
  sessions: SessionManager;
  bus: EventBus;
}

export interface Accepted {
  record: MessageRecord;
  /** True when an `Idempotency-Key` repeat returned the original record. */
  replayed: boolean;
}

/** How long a duplicate waits for the original request (same key, in parallel) to store its record. */
const PARALLEL_DUPLICATE_WAIT_MS = 5_000;

/**
 * Accepts sends: validates what the schema cannot (session state, engine abilities, media URL),
 * reserves the idempotency key, stores the record with the body beside it, and queues a job that
 * carries the id only. Answers once the job is durable.
 */
export class MessageService {
  constructor(private readonly deps: MessageServiceDeps) {}

  async accept(sessionId: string, body: SendMessage, idempotencyKey: string | undefined): Promise<Accepted> {
    const { sessions } = this.deps;
    const session = sessions.state(sessionId);
    if (session.status === 'stopped' || session.status === 'failed') {
      throw new AppError('SESSION_NOT_READY', `Session '${sessionId}' is ${session.status}: start it before sending`);
    }
    if (isInteractiveMessage(body)) {
      throw new AppError('NOT_SUPPORTED_BY_ENGINE', `'${body.type}' messages are no longer delivered by WhatsApp to Web clients; engine '${session.engine}' cannot send them`);
    }
    if ('media' in body && 'url' in body.media) await this.checkMediaUrl(body.media.url);

    const id = newMessageId();
    if (idempotencyKey !== undefined) {
      const replay = await this.reserve(sessionId, idempotencyKey, body, id);
      if (replay) return { record: replay, replayed: true };
    }
    const record = newRecord({
      id,
      sessionId,
      chatId: body.to.kind === 'chat' ? body.to.chatId : `${body.to.phone}@c.us`,
      direction: 'outbound',
      type: body.type,
      status: 'queued',
      clientRef: body.clientRef ?? null,
      content: recordContent(body),
    });
    // The job add goes right behind the insert, without waiting for its reply: on Redis both go on
    // the store's connection (the queue's producer) in one socket write, the insert first, so Redis
    // stores the record before the job exists — one round trip per accept instead of two. An insert
    // that fails leaves a job with no record: the worker drops it (see SendProcessor, "missing").
    let adding: Promise<void> | undefined;
    const addJob = (): void => {
      adding = this.deps.queue.add({ sessionId, messageId: id });
      // Awaited below; without this, a rejection while the insert is awaited would be unhandled.
      adding.catch(() => undefined);
    };
    try {
      await this.deps.store.insert(record, JSON.stringify(body), addJob);
    } catch (error) {
      if (idempotencyKey !== undefined) await this.deps.idempotency.release(sessionId, idempotencyKey).catch(() => undefined);
      throw error;
    }
    try {
      // A store that did not call `alongside` (it must; defensive): add now, after the insert.
      if (adding === undefined) addJob();
      await adding;
    } catch (error) {
      // Not queued means not accepted: the record must not stay `queued` with no job behind it.
      await this.deps.store.modify(id, failQueued({ code: 'ENGINE_ERROR', message: 'The send could not be queued; it was not accepted' }, new Date().toISOString())).catch(() => undefined);
      if (idempotencyKey !== undefined) await this.deps.idempotency.release(sessionId, idempotencyKey).catch(() => undefined);
      throw error;
    }
    publishMessageStatus(this.deps.bus, record);
    sessions.touch(sessionId);
    return { record, replayed: false };
  }

  /** Throws SESSION_NOT_FOUND. */
  assertSession(sessionId: string): void {
    this.deps.sessions.get(sessionId);
  }

  /** Our id (`msg_…`) or WhatsApp's, within the session. */
  async find(sessionId: string, messageId: string): Promise<MessageRecord | null> {
    this.assertSession(sessionId);
    if (messageId.startsWith('msg_')) {
      const record = await this.deps.store.get(messageId);
      return record?.sessionId === sessionId ? record : null;
    }
    return this.deps.store.findByWaMessageId(sessionId, messageId);
  }

  async require(sessionId: string, messageId: string): Promise<MessageRecord> {
    const record = await this.find(sessionId, messageId);
    if (!record) throw new AppError('MESSAGE_NOT_FOUND', `Message '${messageId}' does not exist in session '${sessionId}'`);
    return record;
  }

  private async checkMediaUrl(url: string): Promise<void> {
    try {
      await checkUrl(url, { allowedHosts: this.deps.config.media.allowedHosts });
    } catch (error) {
      // An unresolvable host may be a passing DNS failure: the worker's fetch decides (MEDIA_FETCH_FAILED).
      if (error instanceof UrlGuardError && error.kind === 'forbidden') throw new AppError('MEDIA_URL_FORBIDDEN', `Media URL refused: ${error.message}`);
      if (!(error instanceof UrlGuardError)) throw error;
    }
  }

  /** Null when the key is now ours; the original record on a replay; throws on reuse with another body. */
  private async reserve(sessionId: string, key: string, body: SendMessage, id: string): Promise<MessageRecord | null> {
    // The normalised body: `+55 (11) 9…` and `5511 9…` are the same request.
    const recipient = body.to.kind === 'chat' ? { kind: 'chat', chatId: body.to.chatId } : { kind: 'phone', phone: body.to.phone };
    const hash = createHash('sha256').update(JSON.stringify({ ...body, to: recipient })).digest('base64url');
    const deadline = Date.now() + PARALLEL_DUPLICATE_WAIT_MS;
    for (;;) {
      const reservation = await this.deps.idempotency.reserve(sessionId, key, hash, id, IDEMPOTENCY_TTL_MS);
      if (reservation.status === 'reserved') return null;
      if (reservation.status === 'conflict') {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key '${key}' was used with a different body in session '${sessionId}'`);
      }
      // A parallel duplicate may not have stored its record yet: wait for it, or take over if it gave up.
      const original = await this.deps.store.get(reservation.messageId);
      if (original) return original;
      if (Date.now() > deadline) throw new AppError('STORE_UNAVAILABLE', `The original request with Idempotency-Key '${key}' has not stored its message; retry`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

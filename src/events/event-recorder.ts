import type { Logger } from '../logger.js';
import type { EventLog, EventRangePage, EventRangeQuery } from '../storage/event-log.js';
import type { EventBus, GatewayEvent } from './event-bus.js';
import type { EnvelopeListener, EnvelopeSource, EventEnvelope } from './event-envelope.js';

/**
 * Waits between the attempts of a failed append: quick at first, then every 5 s — about 5 minutes
 * in all, so that an event survives a Redis outage (or failover) of that length; then it is lost.
 */
export const APPEND_RETRY_DELAYS_MS: readonly number[] = [50, 250, 1_000, 2_000, 4_000, ...Array.from({ length: 59 }, () => 5_000)];
/** Events of one session waiting for the log (Redis slow or away) beyond which new ones are lost. */
export const MAX_PENDING_PER_SESSION = 10_000;
/** Events a session's worker records before it yields to the event loop once. */
const YIELD_EVERY = 64;
/** Events of one session recorded in one append at most. */
const MAX_BATCH = 64;

/** An {@link EnvelopeSource} that can also serve replays (`POST /webhooks/replay`) and tell a session's last seq. */
export interface ReplayableEnvelopeSource extends EnvelopeSource {
  /** Envelopes of one session or of every session whose `occurredAt` is in [since, until), in pages (see {@link EventLog.readTimeRange}). */
  readTimeRange(query: EventRangeQuery): Promise<EventRangePage>;
  /** The last seq given to the session (0 when none). */
  lastSeq(sessionId: string): Promise<number>;
}

export interface EventRecorderOptions {
  bus: EventBus;
  log: EventLog;
  logger: Logger;
  /** Default {@link APPEND_RETRY_DELAYS_MS}. */
  retryDelaysMs?: readonly number[];
  /** Default {@link MAX_PENDING_PER_SESSION}. */
  maxPendingPerSession?: number;
}

/**
 * Bus → event log → envelope listeners (webhook dispatcher, SSE). Every contract event published on
 * the bus is appended to the log, one session at a time in publish order (a queue and one worker per
 * session, as the message pipeline chains its steps), and each envelope is then handed to the
 * listeners — so listeners see a session's envelopes in `seq` order, each exactly once.
 *
 * An append that fails (Redis away) is retried — 50 ms, 250 ms, 1 s, 2 s, 4 s, then every 5 s, about
 * 5 minutes in all — while the session's later events wait behind it (in memory, bounded below);
 * after the last attempt the event is **lost**: logged at error level
 * with its session and name, counted in {@link lost}, not given to listeners (an envelope has no
 * seq without the log), and the session goes on with its next event. Events published while a
 * session already has {@link MAX_PENDING_PER_SESSION} waiting are lost the same way (bounded memory).
 * Listeners run synchronously and must not throw; a throwing one is logged and the others still run.
 */
export class EventRecorder implements ReplayableEnvelopeSource {
  private readonly listeners = new Set<EnvelopeListener>();
  private readonly pending = new Map<string, GatewayEvent[]>();
  private readonly workers = new Map<string, Promise<void>>();
  /** Wakes retries that are waiting, so that closing does not wait out their delays. */
  private readonly sleepers = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxPending: number;
  private closing = false;
  private lostCount = 0;
  private turnEnd: Promise<void> | null = null;

  constructor(private readonly options: EventRecorderOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? APPEND_RETRY_DELAYS_MS;
    this.maxPending = Math.max(1, options.maxPendingPerSession ?? MAX_PENDING_PER_SESSION);
    this.unsubscribe = options.bus.subscribe((event) => this.enqueue(event));
  }

  /** Events lost so far (not recorded, not delivered). */
  get lost(): number {
    return this.lostCount;
  }

  onEnvelope(listener: EnvelopeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  read(sessionId: string, afterSeq: number, limit: number): Promise<EventEnvelope[]> {
    return this.options.log.read(sessionId, afterSeq, limit);
  }

  readTimeRange(query: EventRangeQuery): Promise<EventRangePage> {
    return this.options.log.readTimeRange(query);
  }

  lastSeq(sessionId: string): Promise<number> {
    return this.options.log.lastSeq(sessionId);
  }

  /** Resolves when every event published so far is recorded (or lost) and handed to the listeners. */
  async idle(): Promise<void> {
    while (this.workers.size > 0) await Promise.all([...this.workers.values()]);
  }

  /**
   * Stops taking events from the bus, makes waiting retries try once more at once (and no more),
   * and waits for the events already taken. Call before the log's storage is closed.
   */
  async close(): Promise<void> {
    this.unsubscribe();
    this.closing = true;
    for (const wake of [...this.sleepers]) wake();
    await this.idle();
  }

  private enqueue(event: GatewayEvent): void {
    let queue = this.pending.get(event.sessionId);
    if (!queue) {
      queue = [];
      this.pending.set(event.sessionId, queue);
    }
    if (queue.length >= this.maxPending) {
      this.lose(event, null, `more than ${this.maxPending} events of the session are waiting for the event log`);
      return;
    }
    queue.push(event);
    if (!this.workers.has(event.sessionId)) this.workers.set(event.sessionId, this.drain(event.sessionId, queue));
  }

  /**
   * Records the session's events until its queue is empty: what waits at a time (at most
   * {@link MAX_BATCH}) in one append — a burst costs one round trip, not one per event — starting
   * once the event-loop turn that published the first one is over. The worker
   * unregisters in the same synchronous step that finds the queue empty, so an event enqueued
   * later starts a new one.
   */
  private async drain(sessionId: string, queue: GatewayEvent[]): Promise<void> {
    // Starts once this turn of the event loop is over (enqueue has registered the worker by then),
    // so that what the turn publishes goes in one append — an inbound message's `message` and
    // `message_create`, the status events of requests that arrived together — at the cost of
    // waiting for the rest of the turn.
    await this.endOfTurn();
    try {
      let handled = 0;
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        const envelopes = await this.append(batch);
        for (const envelope of envelopes) this.notify(envelope);
        // A burst recorded in memory resolves in microtasks only: let sockets (SSE) drain between batches.
        handled += batch.length;
        if (handled >= YIELD_EVERY) {
          handled = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.workers.delete(sessionId);
      this.pending.delete(sessionId);
    }
  }

  /**
   * Resolves once this turn of the event loop is over — one setImmediate shared by every session
   * that starts draining in the turn, so that their appends are made in the same tick and a log
   * that batches per tick (Redis) records them in one step.
   */
  private endOfTurn(): Promise<void> {
    this.turnEnd ??= new Promise((resolve) =>
      setImmediate(() => {
        this.turnEnd = null;
        resolve();
      }),
    );
    return this.turnEnd;
  }

  /** The envelopes of a batch, or none when it is lost (see the class comment). */
  private async append(batch: readonly GatewayEvent[]): Promise<EventEnvelope[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.log.appendMany(batch);
      } catch (error) {
        const delay = this.closing ? undefined : this.retryDelaysMs[attempt - 1];
        if (delay === undefined) return this.appendOneByOne(batch, error, attempt);
        const first = batch[0];
        this.options.logger.warn({ err: error, sessionId: first?.sessionId, event: first?.event, events: batch.length, attempt, retryInMs: delay }, 'recording events in the event log failed; retrying');
        await this.sleep(delay);
      }
    }
  }

  /**
   * A batch that kept failing: each of its events is tried once more on its own, so that one
   * event the log refuses does not take the others of its batch with it (Redis away fails them all).
   */
  private async appendOneByOne(batch: readonly GatewayEvent[], error: unknown, attempts: number): Promise<EventEnvelope[]> {
    const [only] = batch;
    if (batch.length === 1 && only) {
      this.lose(only, error, `recording it in the event log failed ${attempts} time(s)`);
      return [];
    }
    const envelopes: EventEnvelope[] = [];
    for (const event of batch) {
      try {
        envelopes.push(...(await this.options.log.appendMany([event])));
      } catch (last) {
        this.lose(event, last, `recording it in the event log failed ${attempts + 1} time(s)`);
      }
    }
    return envelopes;
  }

  private lose(event: GatewayEvent, error: unknown, why: string): void {
    this.lostCount += 1;
    this.options.logger.error(
      { ...(error === null ? {} : { err: error }), sessionId: event.sessionId, event: event.event, occurredAt: event.occurredAt.toISOString(), lost: this.lostCount },
      `event lost (not recorded, not delivered to webhooks or streams): ${why}`,
    );
  }

  private notify(envelope: EventEnvelope): void {
    for (const listener of this.listeners) {
      try {
        listener(envelope);
      } catch (error) {
        this.options.logger.error({ err: error, sessionId: envelope.sessionId, event: envelope.event, seq: envelope.seq }, 'envelope listener failed');
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

import type { Config } from '../config.js';
import { AppError, sessionNotFound } from '../errors.js';
import type { ReplayableEnvelopeSource } from '../events/event-recorder.js';
import type { Logger } from '../logger.js';
import type { SendQueueCounts } from '../queue/send-queue.js';
import type { DeliveryQuery, DeliveryStore } from '../storage/delivery-store.js';
import { FINAL_STATUSES, deliveryJobId, newDelivery, randomDeliveryId, toDeliveryView, type DeliveryRecord, type DeliveryView } from './delivery.js';
import { DeliveryProcessor, type AttemptObserver } from './delivery-processor.js';
import type { DeliveryLanes } from './direct-first-lanes.js';
import { WebhookFanout } from './webhook-fanout.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhookTargets, laneKeyOf, toDeliveryTarget, type AppTargetStatus, type SessionWebhookAccess } from './webhook-targets.js';

/** Envelopes one replay request may queue; a wider range is cut there (`truncated: true`). */
export const REPLAY_MAX_EVENTS = 10_000;
/** Attempt durations kept for the latency percentiles. */
const LATENCY_SAMPLES = 1_000;

export interface WebhookServiceDeps {
  config: Config;
  store: DeliveryStore;
  /** The lanes (`<sessionId>.<targetId>` keys): made from memory while idle, else queued — BullMQ in Redis mode, in-process otherwise. */
  queue: DeliveryLanes;
  source: ReplayableEnvelopeSource;
  sessions: SessionWebhookAccess;
  logger: Logger;
  /** `user-agent` of every delivery. */
  userAgent: string;
  /** Told after every attempt, after the service's own counting (health and metrics). */
  onAttempt?: AttemptObserver | undefined;
}

export interface ReplayInput {
  sessionId?: string | undefined;
  /** ISO-8601, inclusive (envelope `occurredAt`). */
  since: string;
  /** ISO-8601, exclusive; default now. */
  until?: string | undefined;
}

export interface ReplayResult {
  /** Envelopes found in the range. */
  events: number;
  /** Deliveries queued (an envelope goes to each enabled target whose filter takes it). */
  queued: number;
  /** True when the range held more than {@link REPLAY_MAX_EVENTS} envelopes: only the first were queued. */
  truncated: boolean;
}

export interface WebhookStats {
  delivered: number;
  failedAttempts: number;
  dead: number;
  /** Duration of the recent attempts (ms). */
  latencyMs: { count: number; p50: number | null; p99: number | null };
}

export interface WebhookStatus {
  app: AppTargetStatus | null;
  queue: SendQueueCounts;
  stats: WebhookStats;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

/**
 * Webhook delivery (contract "Events and webhooks"): fan-out of every envelope to its targets, the
 * per-(session, target) lanes that deliver them in seq order with retries and dead letters, and what
 * the routes need — the attempts log, a manual retry, replays from the event log.
 */
export class WebhookService {
  readonly targets: WebhookTargets;
  private readonly sender: WebhookSender;
  private readonly processor: DeliveryProcessor;
  private readonly fanout: WebhookFanout;
  private readonly counters = { delivered: 0, failedAttempts: 0, dead: 0 };
  private readonly latencies: number[] = [];
  private latencyNext = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly deps: WebhookServiceDeps) {
    const { config } = deps;
    const webhook = config.webhook;
    this.targets = new WebhookTargets(webhook, deps.sessions);
    this.sender = new WebhookSender({
      timeoutMs: webhook.timeoutMs,
      allowedHosts: webhook.allowedHosts,
      userAgent: deps.userAgent,
      apiKey: webhook.apiKey === undefined ? undefined : { header: webhook.apiKeyHeader, value: webhook.apiKey },
    });
    this.processor = new DeliveryProcessor({
      store: deps.store,
      targets: this.targets,
      sender: this.sender,
      scheduleMs: webhook.retryScheduleMs,
      logger: deps.logger,
      onAttempt: (record, outcome) => {
        this.sample(outcome.durationMs);
        if (outcome.kind === 'failed') this.counters.failedAttempts += 1;
        if (record.status === 'delivered') this.counters.delivered += 1;
        if (record.status === 'dead') this.counters.dead += 1;
        deps.onAttempt?.(record, outcome);
      },
    });
    this.fanout = new WebhookFanout({
      source: deps.source,
      store: deps.store,
      lanes: deps.queue,
      targets: this.targets,
      firstDelayMs: webhook.retryScheduleMs[0] ?? 0,
      logger: deps.logger,
    });
  }

  /** Starts the lanes (deliveries left by an earlier run included), then the fan-out. Call once the sessions are loaded. */
  async start(): Promise<void> {
    await this.deps.queue.start(this.processor.process);
    this.fanout.start(this.deps.sessions.list().map((s) => s.id));
  }

  /** Resolves when every envelope received so far has its deliveries offered to their lanes (tests). */
  idle(): Promise<void> {
    return this.fanout.idle();
  }

  async list(query: DeliveryQuery): Promise<{ data: DeliveryView[]; nextCursor: string | null }> {
    const page = await this.deps.store.list(query);
    return { data: page.data.map(toDeliveryView), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<DeliveryView> {
    const record = await this.deps.store.get(id);
    if (!record) throw deliveryNotFound(id);
    return toDeliveryView(record);
  }

  /**
   * Sends a delivery again (same envelope, same `webhook-id`): a `delivered` or `dead` one goes back
   * to `pending` at the tail of its lane, with the retry schedule from the start. One still to be
   * made (`pending`, `failed`) is already queued: returned as it is.
   */
  async retry(id: string): Promise<DeliveryView> {
    const now = new Date().toISOString();
    const outcome = await this.deps.store.modify<{ record: DeliveryRecord; before: DeliveryRecord | null }>(id, (record) => {
      if (!FINAL_STATUSES.has(record.status)) return { result: { record, before: null } };
      const next: DeliveryRecord = { ...record, status: 'pending', run: record.run + 1, runAttempts: 0, nextAttemptAt: null, completedAt: null, updatedAt: now };
      return { record: next, result: { record: next, before: record } };
    });
    if (!outcome) throw deliveryNotFound(id);
    const { record, before } = outcome;
    if (before) {
      try {
        await this.deps.queue.add({ sessionId: laneKeyOf(record.sessionId, record.target.id), messageId: deliveryJobId(record) });
      } catch (error) {
        // Not queued: put it back as it was, so that it does not look pending forever.
        await this.deps.store.modify(id, (current) => (current.run === record.run && current.status === 'pending' ? { record: before, result: true } : { result: false })).catch(() => null);
        throw error;
      }
    }
    return toDeliveryView(record);
  }

  /**
   * Sends the envelopes of a time range again, from the event log, to every enabled target whose
   * filter takes them (new deliveries, `origin: "replay"`, same `webhook-id`s), per lane in seq order.
   */
  async replay(input: ReplayInput): Promise<ReplayResult> {
    if (input.sessionId !== undefined && this.deps.sessions.webhooksOf(input.sessionId) === null) throw sessionNotFound(input.sessionId);
    const until = input.until ?? new Date().toISOString();
    if (Date.parse(until) <= Date.parse(input.since)) {
      throw new AppError('VALIDATION_ERROR', 'until must be after since', [{ path: 'body.until', message: 'must be after since' }]);
    }
    const firstDelayMs = this.deps.config.webhook.retryScheduleMs[0] ?? 0;
    let events = 0;
    let queued = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await this.deps.source.readTimeRange({ sessionId: input.sessionId ?? null, since: input.since, until, limit: 1_000, cursor });
      for (const envelope of page.data) {
        if (events >= REPLAY_MAX_EVENTS) return { events, queued, truncated: true };
        events += 1;
        const targets = this.targets.matching(envelope.sessionId, envelope.event);
        if (targets.length === 0) continue;
        const body = JSON.stringify(envelope);
        for (const target of targets) {
          const record = newDelivery({
            id: randomDeliveryId(),
            eventId: envelope.id,
            event: envelope.event,
            seq: envelope.seq,
            sessionId: envelope.sessionId,
            target: toDeliveryTarget(target),
            origin: 'replay',
            now: new Date(),
            firstDelayMs,
          });
          await this.deps.store.insert(record, body);
          await this.deps.queue.add({ sessionId: laneKeyOf(envelope.sessionId, target.id), messageId: deliveryJobId(record) });
          queued += 1;
        }
      }
      if (page.nextCursor === null) return { events, queued, truncated: false };
      cursor = page.nextCursor;
    }
  }

  /** The global target, the queue and recent outcomes (health). */
  async status(): Promise<WebhookStatus> {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      app: this.targets.appStatus(),
      queue: await this.deps.queue.counts(),
      stats: { ...this.counters, latencyMs: { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) } },
    };
  }

  /** Stops the fan-out (what it took is queued first), then the lanes (an attempt in flight is cut and kept), then the HTTP agents. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.fanout.close();
      await this.deps.queue.close();
      await this.sender.close();
    })();
    return this.closing;
  }

  private sample(durationMs: number): void {
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(durationMs);
    else this.latencies[this.latencyNext] = durationMs;
    this.latencyNext = (this.latencyNext + 1) % LATENCY_SAMPLES;
  }
}

export const deliveryNotFound = (id: string): AppError => new AppError('DELIVERY_NOT_FOUND', `Delivery '${id}' does not exist`);

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SendQueueCounts } from '../queue/send-queue.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { SESSION_STATUSES } from '../sessions/session.js';
import { withDeadline } from './deadline.js';

/** How long a scrape waits for a queue's counts (Redis down: the commands may wait for a reconnect). */
const QUEUE_COUNTS_DEADLINE_MS = 2_000;

export interface MetricsSources {
  sessions: SessionManager;
  /** Send queue depth, read at each scrape. */
  sendQueueCounts: () => Promise<SendQueueCounts>;
  /** Webhook queue depth (every lane), read at each scrape. */
  webhookQueueCounts: () => Promise<SendQueueCounts>;
}

/** The registry and the instruments the rest of the gateway records into. */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** Labels `route` (the route pattern, never the raw URL), `method`, `status_code`. */
  readonly httpRequestDuration: Histogram<'route' | 'method' | 'status_code'>;
  /** Every status an outbound record reaches (`queued` = accepted, `sent`, `delivered`, `read`, `played`, `failed`). */
  readonly sends: Counter<'status'>;
  /** Accepted → `sent`. */
  readonly sendLatency: Histogram;
  /** One send job of the worker, by the job's `outcome` (`done`, `retry`, `error`). */
  readonly sendProcessing: Histogram<'outcome'>;
  /** One webhook attempt, whatever its outcome. */
  readonly webhookLatency: Histogram;
  /** Webhook attempts by `outcome`: the delivery's status after it (`delivered`, `failed`, `dead`). */
  readonly webhookAttempts: Counter<'outcome'>;
}

/**
 * The Prometheus registry. Gauges are computed when scraped (collect callbacks), so nothing runs
 * between scrapes; counters and histograms are fed by the HTTP hook (http-metrics.ts), SendStats and
 * WebhookStats. The default process metrics include the event-loop delay
 * (`wagw_nodejs_eventloop_lag_{p50,p90,p99,max,mean,min,stddev}_seconds`, monitorEventLoopDelay
 * reset at each scrape).
 */
export function createMetrics(sources: MetricsSources): GatewayMetrics {
  const { sessions } = sources;
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'wagw_' });

  new Gauge({
    name: 'wagw_sessions',
    help: 'Sessions by status',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = sessions.counts();
      for (const status of SESSION_STATUSES) this.set({ status }, counts[status]);
    },
  });
  engineGauges(registry, sessions);
  queueGauge(registry, 'wagw_send_queue_jobs', 'Send jobs by state: waiting (includes jobs waiting to retry) or active', sources.sendQueueCounts);
  queueGauge(registry, 'wagw_webhook_queue_jobs', 'Webhook delivery jobs by state, over every lane', sources.webhookQueueCounts);

  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'wagw_http_request_duration_seconds',
      help: 'HTTP requests by route pattern, method and status code',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    sends: new Counter({ name: 'wagw_sends_total', help: 'Outbound message status changes (queued = accepted)', labelNames: ['status'], registers }),
    sendLatency: new Histogram({
      name: 'wagw_send_latency_seconds',
      help: 'Outbound messages, accepted to sent (WhatsApp took it): queue wait, pacing, retries and the engine call',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    }),
    sendProcessing: new Histogram({
      name: 'wagw_send_processing_seconds',
      help: 'Send jobs of the worker by outcome (done, retry, error)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    webhookLatency: new Histogram({
      name: 'wagw_webhook_attempt_duration_seconds',
      help: 'Webhook delivery attempts, request to answer (or to the error)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    webhookAttempts: new Counter({ name: 'wagw_webhook_attempts_total', help: "Webhook delivery attempts by outcome (the delivery's status after it)", labelNames: ['outcome'], registers }),
  };
}

/** A queue's depth, read at scrape; a queue that cannot answer (Redis down) leaves the gauge empty instead of failing the scrape. */
function queueGauge(registry: Registry, name: string, help: string, read: () => Promise<SendQueueCounts>): void {
  new Gauge({
    name,
    help,
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await withDeadline(read(), QUEUE_COUNTS_DEADLINE_MS).catch(() => null);
      if (!counts) return;
      this.set({ state: 'waiting' }, counts.waiting);
      this.set({ state: 'active' }, counts.active);
    },
  });
}

function engineGauges(registry: Registry, sessions: SessionManager): void {
  const usage = async (): Promise<{ sessionId: string; engine: string; processes: number; pssBytes: number; rssBytes: number }[]> => {
    const rows = await Promise.all(
      sessions.runningEngines().map(async ([sessionId, engine]) => {
        const used = await engine.resourceUsage?.();
        return used ? { sessionId, engine: engine.name, ...used } : null;
      }),
    );
    return rows.filter((r) => r !== null);
  };

  const perSession = (name: string, help: string, pick: (row: { processes: number; pssBytes: number; rssBytes: number }) => number): Gauge =>
    new Gauge({
      name,
      help,
      labelNames: ['session', 'engine'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await usage()) this.set({ session: row.sessionId, engine: row.engine }, pick(row));
      },
    });
  perSession('wagw_engine_processes', "Processes an engine runs outside the gateway (webjs: the session's Chromium)", (r) => r.processes);
  perSession('wagw_engine_pss_bytes', "PSS of an engine's processes (shared pages divided among them): what a session really costs", (r) => r.pssBytes);
  perSession('wagw_engine_rss_bytes', "RSS summed over an engine's processes (double-counts shared pages)", (r) => r.rssBytes);
}

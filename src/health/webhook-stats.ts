import type { AttemptObserver } from '../webhooks/delivery-processor.js';
import { LatencyWindow, type WindowSummary } from './latency-window.js';
import type { GatewayMetrics } from './metrics.js';
import type { SessionActivity } from './session-activity.js';

export interface WebhookStatsSummary {
  /** Deliveries answered 2xx since the gateway started. */
  delivered: number;
  /** Attempts that failed and will be retried. */
  failedAttempts: number;
  /** Deliveries dead-lettered after their last attempt (or a 410). */
  dead: number;
  /** Duration of the recent attempts, whatever their outcome. */
  latencyMs: WindowSummary;
}

/**
 * Webhook attempt outcomes since this process started, for `/health/performance` and `/metrics`
 * (`wagw_webhook_attempts_total{outcome}`, `wagw_webhook_attempt_duration_seconds`), and each
 * failed attempt as a recent error of its session. {@link observe} is WebhookService's `onAttempt`.
 */
export class WebhookStats {
  private readonly counts = { delivered: 0, failed: 0, dead: 0 };
  private readonly latency = new LatencyWindow();

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly activity: SessionActivity,
  ) {}

  /** The outcome is the delivery's status after the attempt: `delivered`, `failed` (retried later) or `dead`. */
  readonly observe: AttemptObserver = (record, outcome) => {
    const status = record.status === 'delivered' || record.status === 'dead' ? record.status : 'failed';
    this.counts[status] += 1;
    this.latency.add(outcome.durationMs);
    this.metrics.webhookAttempts.inc({ outcome: status });
    this.metrics.webhookLatency.observe(outcome.durationMs / 1000);
    if (outcome.kind === 'failed') this.activity.webhookFailed(record.sessionId, outcome.error, record.id);
  };

  summary(): WebhookStatsSummary {
    return { delivered: this.counts.delivered, failedAttempts: this.counts.failed, dead: this.counts.dead, latencyMs: this.latency.summary() };
  }
}

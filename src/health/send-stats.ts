import type { EventBus } from '../events/event-bus.js';
import type { MessageRecord } from '../messages/message.js';
import type { SendProcessor } from '../queue/send-queue.js';
import { LatencyWindow, type WindowSummary } from './latency-window.js';
import type { GatewayMetrics } from './metrics.js';

export interface SendStatsSummary {
  /** Sends accepted (202) since the gateway started. */
  acceptedMessages: number;
  /** Sends WhatsApp took (status `sent`). */
  processedMessages: number;
  /** Sends that ended `failed`, whatever the code (ACK_ERROR after `sent` included). */
  failedMessages: number;
  /** Mean time of a send job that ended (engine call, media fetch, number lookup, typing), over the recent jobs; null until one ended. */
  averageProcessingTimeMs: number | null;
  processingTimeMs: WindowSummary;
  /** Accepted → `sent`, over the recent sends. */
  sendLatencyMs: WindowSummary;
}

export interface SendStatsDeps {
  bus: EventBus;
  /** The last known record of a send by WhatsApp id (SendTracker.recall): carries `latency.toSentMs`. */
  recall: (sessionId: string, waMessageId: string) => MessageRecord | undefined;
  metrics: GatewayMetrics;
}

/**
 * Outcomes of sends since this process started, for `/health/performance` and `/metrics`: status
 * changes from the `message.status` events, and the time of each send job through {@link wrap}.
 */
export class SendStats {
  private readonly counts = { queued: 0, sent: 0, failed: 0 };
  private readonly processing = new LatencyWindow();
  private readonly toSent = new LatencyWindow();
  private readonly off: () => void;

  constructor(private readonly deps: SendStatsDeps) {
    this.off = deps.bus.subscribe((event) => {
      if (event.event !== 'message.status') return;
      const status = String(event.data.status);
      deps.metrics.sends.inc({ status });
      if (status === 'queued' || status === 'sent' || status === 'failed') this.counts[status] += 1;
      if (status !== 'sent' || typeof event.data.waMessageId !== 'string') return;
      const toSentMs = deps.recall(event.sessionId, event.data.waMessageId)?.latency.toSentMs;
      if (toSentMs === null || toSentMs === undefined) return;
      this.toSent.add(toSentMs);
      deps.metrics.sendLatency.observe(toSentMs / 1000);
    });
  }

  /** The send worker's processor, timed: each job's duration by outcome (`done`, `retry`, `error`). */
  wrap(processor: SendProcessor): SendProcessor {
    return async (job, signal) => {
      const started = performance.now();
      const observe = (outcome: string): void => {
        const ms = performance.now() - started;
        this.deps.metrics.sendProcessing.observe({ outcome }, ms / 1000);
        if (outcome === 'done') this.processing.add(ms);
      };
      try {
        const result = await processor(job, signal);
        observe(result.outcome);
        return result;
      } catch (error) {
        observe('error');
        throw error;
      }
    };
  }

  summary(): SendStatsSummary {
    const processing = this.processing.summary();
    return {
      acceptedMessages: this.counts.queued,
      processedMessages: this.counts.sent,
      failedMessages: this.counts.failed,
      averageProcessingTimeMs: processing.mean,
      processingTimeMs: processing,
      sendLatencyMs: this.toSent.summary(),
    };
  }

  close(): void {
    this.off();
  }
}

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopDelaySummary {
  /** Milliseconds; null until the first sample. */
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
  /** Length of the window these values cover, ms. */
  windowMs: number;
}

/** Sampling interval of the histogram (ms). */
const RESOLUTION_MS = 10;

/**
 * The histogram records the time between two of its timer ticks, so an idle loop shows the
 * interval itself: the delay is what exceeds it.
 */
const delayMs = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);

/**
 * Event-loop delay in windows (node:perf_hooks monitorEventLoopDelay): `roll()` closes the current
 * window — called by each background health check — and its summary is what the health API reports,
 * so a stall shows for one interval instead of being diluted over the process's life. A reset makes
 * the histogram's next tick start a new measurement, so a stall within the first ~10 ms of a window
 * is not seen (at the default 30 s interval, a blind spot of 0.03 %).
 */
export class EventLoopDelay {
  private histogram: IntervalHistogram | null = null;
  private windowStart = performance.now();
  private last: EventLoopDelaySummary | null = null;

  start(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.windowStart = performance.now();
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = null;
  }

  /** Ends the current window and starts the next one. */
  roll(): EventLoopDelaySummary {
    this.last = this.current();
    this.histogram?.reset();
    this.windowStart = performance.now();
    return this.last;
  }

  /** The last complete window, or the current one before the first has ended. */
  summary(): EventLoopDelaySummary {
    return this.last ?? this.current();
  }

  private current(): EventLoopDelaySummary {
    const h = this.histogram;
    const windowMs = Math.round(performance.now() - this.windowStart);
    if (!h || h.count === 0) return { p50: null, p99: null, max: null, mean: null, windowMs };
    return { p50: delayMs(h.percentile(50)), p99: delayMs(h.percentile(99)), max: delayMs(h.max), mean: delayMs(h.mean), windowMs };
  }
}

import { percentile } from '../storage/message-store.js';

export interface WindowSummary {
  /** Samples in the window (at most its size). */
  count: number;
  mean: number | null;
  p50: number | null;
  p99: number | null;
}

/**
 * The last `size` samples (a ring): percentiles and mean of recent values, in constant memory, so
 * that a long-running gateway reports how it does now rather than averaged over its whole life.
 */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly size = 1_000) {}

  add(value: number): void {
    if (this.samples.length < this.size) this.samples.push(value);
    else this.samples[this.next] = value;
    this.next = (this.next + 1) % this.size;
  }

  summary(): WindowSummary {
    const sorted = [...this.samples].sort((a, b) => a - b);
    const mean = sorted.length === 0 ? null : round(sorted.reduce((sum, v) => sum + v, 0) / sorted.length);
    const at = (p: number): number | null => {
      const value = percentile(sorted, p);
      return value === null ? null : round(value);
    };
    return { count: sorted.length, mean, p50: at(50), p99: at(99) };
  }
}

/** Milliseconds to one decimal. */
export const round = (ms: number): number => Math.round(ms * 10) / 10;

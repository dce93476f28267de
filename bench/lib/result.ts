/** What every benchmark hands back to run-all: table rows plus its raw measurements. */
import { max, median, min, round } from './stats.js';

export interface BenchRow {
  /** Short name shown in the table. */
  metric: string;
  unit: string;
  /** The figure the goal applies to (median over runs). */
  value: number;
  /** The bare baseline measured in the same run, same unit. */
  baseline: number;
  baselineLabel: string;
  /** value / baseline. */
  ratio: number;
  /** Goal: value ≤ goal. */
  goal: number | null;
  met: boolean | null;
  /** min–max of value over the runs. */
  spread: [number, number];
  runs: number;
}

export interface BenchResult {
  name: string;
  rows: BenchRow[];
  /** Raw per-run measurements (written to bench/results/latest.json). */
  raw: unknown;
  durationMs: number;
}

export function row(input: Omit<BenchRow, 'ratio' | 'met'>): BenchRow {
  return {
    ...input,
    ratio: input.baseline > 0 ? input.value / input.baseline : Number.NaN,
    met: input.goal === null ? null : input.value <= input.goal,
  };
}

/** x[i] / y[i], run by run (the servers of one run were measured back to back). */
export function perRunRatios(x: readonly number[], y: readonly number[]): number[] {
  return x.map((v, i) => v / (y[i] ?? Number.NaN));
}

export interface ReferenceRowInput {
  metric: string;
  /** What the reference server is called in the label: `durable`, `contract`. */
  name: string;
  /** Unit of the throughputs: `msg/s`, `req/s`. */
  rate: string;
  /** Throughput per run of the reference server, the bare baseline and the gateway, in run order. */
  reference: readonly number[];
  bare: readonly number[];
  gateway: readonly number[];
}

/**
 * The row of a reference server (the durable or the contract minimum): its µs per unit (1 /
 * throughput) against bare's, with its same-run ratios to bare and the gateway's to it. No goal.
 */
export function referenceRow(input: ReferenceRowInput): BenchRow {
  const us = input.reference.map((v) => 1e6 / v);
  const toBare = perRunRatios(input.reference, input.bare);
  return row({
    metric: input.metric,
    unit: 'µs',
    value: round(median(us), 1),
    baseline: round(median(input.bare.map((v) => 1e6 / v)), 1),
    baselineLabel: `bare; ${input.name} ${round(median(input.reference), 0)} ${input.rate} = ${round(median(toBare), 2)}× bare (runs ${toBare.map((r) => round(r, 2)).join(', ')}); gateway = ${round(median(perRunRatios(input.gateway, input.reference)), 2)}× ${input.name}`,
    goal: null,
    spread: [round(min(us), 1), round(max(us), 1)],
    runs: us.length,
  });
}

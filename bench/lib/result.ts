/** What every benchmark hands back to run-all: table rows plus its raw measurements. */

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

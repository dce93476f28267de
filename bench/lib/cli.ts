import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { killAllTracked, REPO_ROOT } from './processes.js';
import type { BenchResult, BenchRow } from './result.js';

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

let signalsInstalled = false;

/** On SIGINT/SIGTERM: kill every child and redis-server this run started, then exit. */
export function installSignalCleanup(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping child processes`);
      killAllTracked();
      process.exit(130);
    });
  }
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

/** The results as a fixed-width text table. */
export function formatTable(results: readonly BenchResult[]): string {
  const header = ['benchmark', 'measured', 'runs (min–max)', 'baseline', 'ratio', 'goal', 'met'];
  const lines: string[][] = [header];
  const cell = (r: BenchRow): string[] => [
    r.metric,
    `${fmt(r.value)} ${r.unit}`,
    `${r.runs} (${fmt(r.spread[0])}–${fmt(r.spread[1])})`,
    `${fmt(r.baseline)} ${r.unit} (${r.baselineLabel})`,
    `${fmt(r.ratio, 1)}×`,
    r.goal === null ? '—' : `≤ ${fmt(r.goal, 0)} ${r.unit}`,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ];
  for (const result of results) for (const r of result.rows) lines.push(cell(r));
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const render = (l: string[]): string => l.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' │ ');
  const sep = widths.map((w) => '─'.repeat(w)).join('─┼─');
  const [first, ...rest] = lines;
  return [render(first ?? header), sep, ...rest.map(render)].join('\n');
}

export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** Writes `data` as JSON to bench/results/<name> (git-ignored) and returns the path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, name);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Runs one benchmark as a script: prints its table, writes bench/results/<name>.json, exits 1 on failure. */
export async function runStandalone(run: () => Promise<BenchResult>): Promise<void> {
  installSignalCleanup();
  try {
    const result = await run();
    console.log(formatTable([result]));
    console.log(`raw results: ${writeResults(`${result.name}.json`, result)}`);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  } finally {
    killAllTracked();
  }
}

/** The number after `--<name>` on the command line, if given (benchmark options when run on their own). */
export function numericFlag(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  return value === undefined ? undefined : Number(value);
}

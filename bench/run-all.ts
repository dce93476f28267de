/**
 * `npm run bench`: the foundation benchmarks in sequence — session memory, restore time, idle
 * RSS — each against a bare baseline measured in the same run, then Chromium memory per webjs
 * session, then the send path (issue #4): accept throughput/latency and sends end to end, each
 * against bare BullMQ. Prints a table and writes the raw results to bench/results/latest.json
 * (git-ignored).
 * `npm run bench -- <name> [<name>…]` runs only those (results in latest-<names>.json). Every
 * child process, redis-server and Chromium is stopped at the end, on failure or Ctrl-C too. No
 * timing is asserted: the exit code is 1 only when a benchmark could not run (2: unknown name).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { formatTable, installSignalCleanup, writeResults } from './lib/cli.js';
import { killAllTracked } from './lib/processes.js';
import type { BenchResult } from './lib/result.js';
import { round } from './lib/stats.js';
import { runChromiumMemory } from './chromium-memory.bench.js';
import { runIdleRss } from './idle-rss.bench.js';
import { runRestoreTime } from './restore-time.bench.js';
import { runSendAccept } from './send-accept.bench.js';
import { runSendE2e } from './send-e2e.bench.js';
import { runSessionMemory } from './session-memory.bench.js';
import { runWebhookLatency } from './webhook-latency.bench.js';

interface Failure {
  name: string;
  error: string;
}

function machine(): Record<string, unknown> {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(safeRead('/proc/cpuinfo'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const os = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(safeRead('/etc/os-release'))?.[1] ?? process.platform;
  let nproc: number | string = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // keep os.cpus()
  }
  const redis = (() => {
    try {
      return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'not found';
    }
  })();
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    nproc,
    cpuModel,
    totalMemoryGiB: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    os,
    kernel: safeRead('/proc/sys/kernel/osrelease').trim(),
    redis,
    // What was measured: the commit plus any uncommitted change to the gateway's sources.
    gitHead: git(['rev-parse', '--short', 'HEAD']),
    uncommittedSrc: git(['status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json']).split('\n').filter((l) => l.length > 0),
  };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const BENCHMARKS: readonly { name: string; run: () => Promise<BenchResult> }[] = [
  { name: 'session-memory', run: () => runSessionMemory() },
  { name: 'restore-time', run: () => runRestoreTime() },
  { name: 'idle-rss', run: () => runIdleRss() },
  { name: 'chromium-memory', run: () => runChromiumMemory() },
  { name: 'send-accept', run: () => runSendAccept() },
  { name: 'send-e2e', run: () => runSendE2e() },
  { name: 'webhook-latency', run: () => runWebhookLatency() },
];

/** The benchmarks named on the command line (all when none is), or null when a name is unknown. */
function selected(names: readonly string[]): (typeof BENCHMARKS)[number][] | null {
  if (names.length === 0) return [...BENCHMARKS];
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; available: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return null;
  }
  return BENCHMARKS.filter((b) => names.includes(b.name));
}

async function main(): Promise<void> {
  installSignalCleanup();
  const names = process.argv.slice(2);
  const benchmarks = selected(names);
  if (benchmarks === null) {
    process.exitCode = 2;
    return;
  }
  const startedAt = new Date();
  const results: BenchResult[] = [];
  const failures: Failure[] = [];
  const load: Record<string, number[]> = { start: loadavg().map((l) => round(l, 2)) };
  const info = machine();
  console.log(`whatsapp-gateway benchmarks — ${String(info.cpuModel)}, ${String(info.nproc)} CPU, node ${process.version}\n`);
  for (const bench of benchmarks) {
    console.log(`▶ ${bench.name}`);
    try {
      const result = await bench.run();
      results.push(result);
      console.log(`  done in ${(result.durationMs / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ name: bench.name, error: message });
      console.error(`  FAILED: ${message}`);
    } finally {
      killAllTracked();
    }
    load[bench.name] = loadavg().map((l) => round(l, 2));
  }

  console.log(`\n${formatTable(results)}\n`);
  for (const f of failures) console.log(`✗ ${f.name} did not run: ${f.error.split('\n')[0] ?? ''}`);
  const file = writeResults(names.length === 0 ? 'latest.json' : `latest-${names.join('+')}.json`, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: info,
    loadAverage: load,
    results,
    failures,
  });
  console.log(`raw results: ${file}`);
  if (failures.length > 0) process.exitCode = 1;
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => killAllTracked());

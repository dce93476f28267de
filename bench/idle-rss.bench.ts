/**
 * Benchmark 3 — RSS of an idle gateway process.
 *
 * Starts the real server (`node --import tsx src/server.ts`, embedded mode, LOG_LEVEL=silent) on
 * 127.0.0.1 and a free port, waits for GET /health/ready 200, hits a few routes, waits a second
 * and reads VmRSS from /proc/<pid>/status. Baseline: a bare Fastify server
 * (bench/fixtures/bare-server.ts, GET /health only) started the same way. Runs alternate; both
 * processes are stopped after every run, on failure too.
 *
 * Second variant (informational, same goal): both compiled to JavaScript and run with plain
 * `node` — what `npm run start:dist` does — to separate the tsx loader's share from the gateway's.
 */
import { freePort } from '../tests/helpers/free-port.js';
import { installSignalCleanup, isMain, runStandalone } from './lib/cli.js';
import { BENCH_API_KEY } from './lib/gateway-env.js';
import { compileForBench, type CompiledBuild } from './lib/compile.js';
import { childPids, procStatusMemory } from './lib/memory.js';
import { startNode, type NodeChild } from './lib/processes.js';
import { row, type BenchResult } from './lib/result.js';
import { MB, max, median, min, round, sleep } from './lib/stats.js';
import { tempDir } from './lib/temp.js';

const GOAL_MB = 100;
const STARTUP_TIMEOUT_MS = 30_000;
const IDLE_WAIT_MS = 1_000;

type Variant = 'tsx' | 'compiled';

interface Target {
  kind: 'gateway' | 'bare';
  variant: Variant;
  script: string;
  readyPath: string;
  /** Requests made once ready: [path, expected status]. */
  requests: readonly (readonly [string, number, Record<string, string>?])[];
}

const auth = { 'x-api-key': BENCH_API_KEY };

const GATEWAY: Target = {
  kind: 'gateway',
  variant: 'tsx',
  script: 'src/server.ts',
  readyPath: '/health/ready',
  requests: [
    ['/health', 200],
    ['/health/live', 200],
    ['/health/ready', 200],
    ['/api/v1/sessions', 200, auth],
    ['/api/v1/sessions/nope', 404, auth],
    ['/api/v1/sessions', 401],
  ],
};

const BARE: Target = {
  kind: 'bare',
  variant: 'tsx',
  script: 'bench/fixtures/bare-server.ts',
  readyPath: '/health',
  requests: [
    ['/health', 200],
    ['/health', 200],
    ['/health', 200],
    ['/health', 200],
    ['/health', 200],
    ['/health', 200],
  ],
};

export interface IdleRssRun {
  kind: Target['kind'];
  variant: Variant;
  pid: number;
  startupMs: number;
  vmRss: number;
  vmHwm: number;
  /** RSS of processes the server started itself (tsx's esbuild service), not included in vmRss. */
  helperRss: number;
  helpers: number;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status;
}

async function waitReady(node: NodeChild, base: string, path: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  const state = { exited: false };
  void node.exited.then(() => {
    state.exited = true;
  });
  while (Date.now() < deadline) {
    if (state.exited) throw new Error(`server exited before it was ready:\n${node.stderr()}`);
    try {
      if ((await get(`${base}${path}`)) === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`server not ready after ${STARTUP_TIMEOUT_MS} ms:\n${node.stderr()}`);
}

async function measure(target: Target): Promise<IdleRssRun> {
  const sessions = await tempDir('wagw-bench-idle-');
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    API_KEY: BENCH_API_KEY,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SESSIONS_PATH: sessions.path,
  };
  const started = performance.now();
  const node = startNode(target.script, [], { env, maxOutput: 20_000, plainNode: target.variant === 'compiled' });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitReady(node, base, target.readyPath);
    const startupMs = performance.now() - started;
    for (const [path, expected, headers] of target.requests) {
      const status = await get(`${base}${path}`, headers);
      if (status !== expected) throw new Error(`${target.kind} GET ${path}: ${status}, expected ${expected}`);
    }
    await sleep(IDLE_WAIT_MS);
    const { vmRss, vmHwm } = await procStatusMemory(node.pid);
    const helpers = await childPids(node.pid);
    let helperRss = 0;
    for (const pid of helpers) {
      try {
        helperRss += (await procStatusMemory(pid)).vmRss;
      } catch {
        // ended meanwhile
      }
    }
    return { kind: target.kind, variant: target.variant, pid: node.pid, startupMs, vmRss, vmHwm, helperRss, helpers: helpers.length };
  } finally {
    await node.stop(5_000);
    await sessions.remove();
  }
}

const LABELS: Record<Variant, { metric: string; baseline: string }> = {
  tsx: { metric: 'idle gateway RSS (node --import tsx)', baseline: 'bare Fastify under tsx' },
  compiled: { metric: 'idle gateway RSS (compiled, plain node)', baseline: 'bare Fastify, plain node' },
};

export async function runIdleRss(options: { runs?: number; compiled?: boolean } = {}): Promise<BenchResult> {
  const started = performance.now();
  const runs = options.runs ?? 3;
  const variants: { variant: Variant; gateway: Target; bare: Target }[] = [{ variant: 'tsx', gateway: GATEWAY, bare: BARE }];
  let build: CompiledBuild | null = null;
  if (options.compiled ?? true) {
    console.log('  idle-rss: compiling the gateway (tsc -p tsconfig.build.json) into a temp dir…');
    build = await compileForBench();
    variants.push({
      variant: 'compiled',
      gateway: { ...GATEWAY, variant: 'compiled', script: build.gateway },
      bare: { ...BARE, variant: 'compiled', script: build.bare },
    });
  }
  const view = (r: IdleRssRun): Record<string, unknown> => ({
    ...r,
    vmRssMB: round(r.vmRss / MB, 1),
    vmHwmMB: round(r.vmHwm / MB, 1),
    helperRssMB: round(r.helperRss / MB, 1),
    startupMs: Math.round(r.startupMs),
  });
  const rows = [];
  const raw: Record<string, unknown> = { compileMs: build ? Math.round(build.ms) : null, idleWaitMs: IDLE_WAIT_MS };
  try {
    for (const v of variants) {
      const gateway: IdleRssRun[] = [];
      const bare: IdleRssRun[] = [];
      for (let i = 0; i < runs; i++) {
        console.log(`  idle-rss (${v.variant}): run ${i + 1}/${runs} bare Fastify, gateway…`);
        bare.push(await measure(v.bare));
        gateway.push(await measure(v.gateway));
      }
      const g = gateway.map((r) => r.vmRss / MB);
      const b = bare.map((r) => r.vmRss / MB);
      rows.push(
        row({
          metric: LABELS[v.variant].metric,
          unit: 'MB',
          value: median(g),
          baseline: median(b),
          baselineLabel: LABELS[v.variant].baseline,
          goal: GOAL_MB,
          spread: [min(g), max(g)],
          runs,
        }),
      );
      raw[v.variant] = { gateway: gateway.map(view), bare: bare.map(view) };
    }
  } finally {
    await build?.remove();
  }
  return { name: 'idle-rss', rows, raw, durationMs: performance.now() - started };
}

if (isMain(import.meta.url)) {
  installSignalCleanup();
  await runStandalone(() => runIdleRss());
}

/**
 * Benchmark 4 — Chromium memory per webjs session, launch flags, launch time.
 *
 * 1. Memory: a worker starts WebjsEngine sessions one after the other (1 → 4), once with the
 *    plain recipe (PLAIN_CHROME_ARGS, DEFAULT_CHROME_ARGS before 03bc930) and once with what src
 *    ships now (DEFAULT_CHROME_ARGS), each through loadConfig/webjsOptionsFrom (the engine and
 *    puppeteer add their own flags as in production) and a stand-in client whose initialize()
 *    never settles, so each browser stays on puppeteer's about:blank tab (WhatsApp Web is not
 *    reachable here). After each start it waits until memory settles (2 s minimum, then reads
 *    500 ms apart until two consecutive pairs differ by < 2 %, 20 s maximum) and sums PSS — and RSS and USS, for comparison — over every process of
 *    every session's process tree (/proc/<pid>/smaps_rollup). PSS divides each shared page among
 *    the processes that map it, so the sum over all sessions is what they cost together; the
 *    marginal cost of a session is total(N) − total(N − 1).
 * 2. Flag variants: the same with 1 → 3 sessions, the plain recipe plus one variant each; runs
 *    alternate between variants. A run during which another Chromium on the machine was seen
 *    (it shares the binary's pages and lowers our PSS) is measured once more. Then every variant once with the REAL whatsapp-web.js client:
 *    it must connect, open its page and fail on https://web.whatsapp.com with
 *    net::ERR_NAME_NOT_RESOLVED (engine_failure WHATSAPP_UNREACHABLE), the page must run
 *    JavaScript, and stop() must leave zero processes.
 * 3. Launch time with the real client, plain vs shipped flags, interleaved: start() → it
 *    resolves, and start() → the first engine event (here always engine_failure
 *    WHATSAPP_UNREACHABLE once DNS fails), median of several runs after one warm-up each.
 *
 * Every worker runs with its Chromium profiles under one temp dir; after each worker, and when this
 * process exits (Ctrl-C included), every Chromium under that dir is killed with its process group.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_CHROME_ARGS, RECIPE_CHROME_ARGS } from '../src/config.js';
import { isExecutable } from '../src/engines/webjs/browser-profile.js';
import { guardDir, listProcesses, SETTLE, sweep } from './lib/chromium.js';
import { installSignalCleanup, isMain, runStandalone } from './lib/cli.js';
import { gatewayEnv } from './lib/gateway-env.js';
import { runWorker } from './lib/processes.js';
import { row, type BenchResult, type BenchRow } from './lib/result.js';
import { MB, max, median, min, round, sleep } from './lib/stats.js';
import { tempDir } from './lib/temp.js';

const WORKER = 'bench/workers/chromium-memory.worker.ts';
const CHROMIUM = '/usr/bin/chromium';
const RAMP_TIMEOUT_MS = 150_000;
const VERIFY_TIMEOUT_MS = 90_000;
const LAUNCH_TIMEOUT_PER_SESSION_MS = 60_000;
/** How long to wait for another Chromium on the machine (not ours) to go away before a measurement. */
const QUIET_WAIT_MS = 60_000;

/** Earlier reference with the plain flags, and WAHA's published figure (docs/benchmarks.md). */
const REFERENCE = { firstMB: 390, additionalMB: 165, wahaPerSessionMB: 400 } as const;

/**
 * The machine's Chromium recipe: what DEFAULT_CHROME_ARGS was until commit 03bc930 added the flags
 * this benchmark found (docs/benchmarks.md §4). Every flag variant is measured on top of it.
 */
export const PLAIN_CHROME_ARGS = RECIPE_CHROME_ARGS.join(' ');

export interface Variant {
  id: string;
  /** The CHROME_ARGS value it runs with. */
  args: string;
  /** What it adds to PLAIN_CHROME_ARGS (for the tables). */
  added: string;
  /** Sessions of its memory ramp. */
  sessions: number;
  note: string;
}

const OMNIBOX = 'WebUIOmniboxPopup,WebUIOmniboxAimPopup';
const SPARE = 'SpareRendererForSitePerProcess';

const onPlain = (id: string, extra: string, note: string): Variant => ({ id, args: `${PLAIN_CHROME_ARGS} ${extra}`, added: extra, sessions: 3, note });
const plainFlags = PLAIN_CHROME_ARGS.split(' ');

export const VARIANTS: readonly Variant[] = [
  { id: 'plain', args: PLAIN_CHROME_ARGS, added: '', sessions: 4, note: 'the machine recipe (DEFAULT_CHROME_ARGS before 03bc930), plus what WebjsEngine and puppeteer add' },
  {
    id: 'shipped',
    args: DEFAULT_CHROME_ARGS,
    added: DEFAULT_CHROME_ARGS.split(/\s+/)
      .filter((f) => f.length > 0 && !plainFlags.includes(f))
      .join(' '),
    sessions: 4,
    note: 'DEFAULT_CHROME_ARGS as src ships it now',
  },
  onPlain('renderer-limit-1', '--renderer-process-limit=1', 'at most one renderer process (soft limit)'),
  onPlain(
    'no-site-isolation-features',
    '--disable-features=SitePerProcess,IsolateOrigins,Translate,OptimizationHints,MediaRouter,BackForwardCache',
    'site isolation off, plus features puppeteer mostly disables already',
  ),
  onPlain('no-site-isolation-trials', '--disable-site-isolation-trials', 'site isolation field trials off'),
  onPlain('js-heap-512', '--js-flags=--max-old-space-size=512', 'caps every V8 old space at 512 MB'),
  onPlain('disable-extensions', '--disable-extensions', 'puppeteer passes it already'),
  onPlain('mute-audio', '--mute-audio', 'puppeteer passes it already (headless)'),
  onPlain('no-zygote', '--no-zygote', 'children are exec()ed, not forked from a zygote'),
  onPlain('single-process', '--single-process', 'everything in the browser process (unsupported)'),
  onPlain('in-process-gpu', '--in-process-gpu', 'the GPU (viz) process runs as a thread of the browser'),
  onPlain('no-omnibox-webui', `--disable-features=${OMNIBOX}`, 'no WebUI omnibox popup renderer (chrome://omnibox-popup.top-chrome)'),
  onPlain('no-spare-renderer', `--disable-features=${SPARE}`, 'no spare renderer kept warm for the next navigation'),
  onPlain('lean', `--disable-features=${OMNIBOX},${SPARE}`, 'no-omnibox-webui + no-spare-renderer'),
  onPlain('no-software-rasterizer', '--disable-software-rasterizer', 'no SwiftShader in the GPU process (no WebGL; 2D canvas unaffected)'),
];

/** Always measured, whatever --variants selects: the base of every comparison, and what src ships. */
const ALWAYS = ['plain', 'shipped'];

// ---- worker results -----------------------------------------------------------------------------

const Smaps = z.object({ rss: z.number(), pss: z.number(), pssAnon: z.number(), pssFile: z.number(), pssShmem: z.number(), uss: z.number(), swap: z.number() });
const Tree = z.object({
  leader: z.number(),
  processes: z.array(Smaps.extend({ pid: z.number(), type: z.string() })),
  totals: Smaps.extend({ count: z.number() }),
});
type Tree = z.infer<typeof Tree>;
const Point = z.object({
  sessions: z.number(),
  trees: z.array(Tree),
  stable: z.boolean(),
  settleMs: z.number(),
  reads: z.number(),
  lastChange: z.number().nullable(),
  foreignChromiumProcesses: z.number(),
  findBrowserProcessesCounts: z.array(z.number()),
});
type Point = z.infer<typeof Point>;
const Leftovers = z.object({
  byProfileFlag: z.number(),
  treeNow: z.number(),
  underDirNow: z.number(),
  treeNowDetail: z.array(z.string()),
  byProfileFlagLater: z.number(),
  treeLater: z.number(),
  underDirLater: z.number(),
});
type Leftovers = z.infer<typeof Leftovers>;
const Ramp = z.object({
  mode: z.literal('ramp'),
  chromeArgs: z.string(),
  effectiveArgv: z.array(z.string()),
  exe: z.string().nullable(),
  startMs: z.array(z.number()),
  points: z.array(Point),
  events: z.array(z.record(z.string(), z.unknown())),
  stopMs: z.number(),
  leftovers: Leftovers,
  swept: z.array(z.number()),
});
type Ramp = z.infer<typeof Ramp>;
const LaunchRun = z.object({
  startMs: z.number(),
  firstEventMs: z.number(),
  firstEvent: z.record(z.string(), z.unknown()),
  reachedWhatsApp: z.boolean(),
  stopMs: z.number(),
  leftovers: Leftovers,
});
type LaunchRun = z.infer<typeof LaunchRun>;
const Reading = z.object({ stable: z.boolean(), settleMs: z.number(), foreignChromiumProcesses: z.number(), tree: Tree.optional() });
const Evaluated = z.object({ userAgent: z.string(), href: z.string(), sum: z.number(), canvasJpegBytes: z.number(), webgl: z.boolean() });
const Verify = LaunchRun.extend({
  mode: z.literal('verify'),
  chromeArgs: z.string(),
  page: z.object({ tabs: z.number().optional(), evaluated: z.unknown().optional(), evaluateError: z.string().optional(), error: z.string().optional() }),
  memory: z.object({ withBlankTab: Reading.optional(), withoutBlankTab: Reading.optional(), closedBlankTabs: z.number().optional() }),
});
type Verify = z.infer<typeof Verify>;
const Launch = z.object({
  mode: z.literal('launch'),
  runs: z.number(),
  results: z.record(z.string(), z.object({ warmup: LaunchRun, runs: z.array(LaunchRun) })),
});

// ---- running workers ----------------------------------------------------------------------------

interface Context {
  root: string;
  n: number;
}

/** Waits (bounded) until no Chromium other than ours runs: it would share the binary's pages and lower our PSS. */
async function waitForQuiet(root: string): Promise<{ waitedMs: number; foreign: number }> {
  const started = Date.now();
  for (;;) {
    const foreign = (await listProcesses()).filter((p) => /\/chromium\/chrom/.test(p.argv[0] ?? '') && !p.cmdline.includes(root)).length;
    if (foreign === 0 || Date.now() - started >= QUIET_WAIT_MS) return { waitedMs: Date.now() - started, foreign };
    await sleep(1_000);
  }
}

async function inWorker<T>(ctx: Context, schema: z.ZodType<T>, args: (dir: string) => string[], timeoutMs: number): Promise<T> {
  const dir = join(ctx.root, `w${++ctx.n}`);
  try {
    const raw = await runWorker(WORKER, args(dir), { env: gatewayEnv({ sessionsPath: dir }), timeoutMs });
    return schema.parse(raw);
  } finally {
    // Whatever the worker left (killed on timeout, crashed): kill it with its process group.
    const swept = await sweep(dir);
    if (swept.length > 0) console.log(`  chromium-memory: killed ${swept.length} leftover Chromium processes of ${dir}`);
  }
}

// ---- summaries ----------------------------------------------------------------------------------

const mb = (bytes: number): number => round(bytes / MB, 1);
const sum = (trees: readonly Tree[], pick: (t: Tree['totals']) => number): number => trees.reduce((a, t) => a + pick(t.totals), 0);

interface RampView {
  /** Per session count N (index N − 1): totals over all sessions, MB. */
  pss: number[];
  rss: number[];
  uss: number[];
  processes: number[];
  /** PSS of each session at each N, MB. */
  perSession: number[][];
  stable: boolean[];
  settleMs: number[];
  foreign: number[];
  /** src's findBrowserProcesses found the same processes as the tree read. */
  srcAgrees: boolean[];
  startMs: number[];
  stopMs: number;
  leftovers: Leftovers;
  events: number;
}

function viewOf(ramp: Ramp): RampView {
  const at = (p: Point): Tree[] => p.trees;
  return {
    pss: ramp.points.map((p) => mb(sum(at(p), (t) => t.pss))),
    rss: ramp.points.map((p) => mb(sum(at(p), (t) => t.rss))),
    uss: ramp.points.map((p) => mb(sum(at(p), (t) => t.uss))),
    processes: ramp.points.map((p) => sum(at(p), (t) => t.count)),
    perSession: ramp.points.map((p) => p.trees.map((t) => mb(t.totals.pss))),
    stable: ramp.points.map((p) => p.stable),
    settleMs: ramp.points.map((p) => p.settleMs),
    foreign: ramp.points.map((p) => p.foreignChromiumProcesses),
    srcAgrees: ramp.points.map((p) => p.trees.every((t, i) => p.findBrowserProcessesCounts[i] === t.totals.count)),
    startMs: ramp.startMs.map((ms) => Math.round(ms)),
    stopMs: Math.round(ramp.stopMs),
    leftovers: ramp.leftovers,
    events: ramp.events.length,
  };
}

/** Nothing left 500 ms after stop() resolved, by any of the three searches. */
const noLeftovers = (l: Leftovers): boolean => l.byProfileFlagLater === 0 && l.treeLater === 0 && l.underDirLater === 0;
/** Nothing left even at the moment stop() resolved. */
const noLeftoversAtOnce = (l: Leftovers): boolean => l.byProfileFlag === 0 && l.treeNow === 0 && l.underDirNow === 0 && noLeftovers(l);

/** Median over runs of the PSS breakdown of the first session by process type, MB. */
function breakdown(ramps: readonly Ramp[]): Record<string, { count: number; pss: number; rss: number; uss: number }> {
  const types = new Map<string, { count: number[]; pss: number[]; rss: number[]; uss: number[] }>();
  for (const ramp of ramps) {
    const tree = ramp.points[0]?.trees[0];
    if (!tree) continue;
    const perRun = new Map<string, { count: number; pss: number; rss: number; uss: number }>();
    for (const p of tree.processes) {
      const e = perRun.get(p.type) ?? { count: 0, pss: 0, rss: 0, uss: 0 };
      perRun.set(p.type, { count: e.count + 1, pss: e.pss + p.pss, rss: e.rss + p.rss, uss: e.uss + p.uss });
    }
    for (const [type, e] of perRun) {
      const acc = types.get(type) ?? { count: [], pss: [], rss: [], uss: [] };
      acc.count.push(e.count);
      acc.pss.push(e.pss);
      acc.rss.push(e.rss);
      acc.uss.push(e.uss);
      types.set(type, acc);
    }
  }
  const out: Record<string, { count: number; pss: number; rss: number; uss: number }> = {};
  for (const [type, acc] of types) out[type] = { count: median(acc.count), pss: mb(median(acc.pss)), rss: mb(median(acc.rss)), uss: mb(median(acc.uss)) };
  return out;
}

interface VariantSummary {
  id: string;
  args: string;
  added: string;
  runs: number;
  /** Median over runs of the total PSS at N sessions (index N − 1), MB; also min and max. */
  pss: number[];
  pssMin: number[];
  pssMax: number[];
  rss: number[];
  uss: number[];
  processesPerSession: number;
  /** Median over runs of (PSS(N) − PSS(1)) / (N − 1), MB. */
  additional: number;
  additionalSpread: [number, number];
  stable: boolean;
  foreignSeen: boolean;
  srcAgrees: boolean;
  stopLeavesNothing: boolean;
  stopLeavesNothingAtOnce: boolean;
  errors: string[];
}

function summarize(variant: Variant, ramps: readonly Ramp[], errors: string[]): VariantSummary {
  const views = ramps.map(viewOf);
  const n = variant.sessions;
  const col = (pick: (v: RampView) => number[], i: number): number[] => views.map(pick).map((a) => a[i] ?? Number.NaN).filter(Number.isFinite);
  const idx = Array.from({ length: n }, (_, i) => i);
  const additional = views.map((v) => ((v.pss[n - 1] ?? Number.NaN) - (v.pss[0] ?? Number.NaN)) / (n - 1)).filter(Number.isFinite);
  return {
    id: variant.id,
    args: variant.args,
    added: variant.added,
    runs: views.length,
    pss: idx.map((i) => round(median(col((v) => v.pss, i)), 1)),
    pssMin: idx.map((i) => min(col((v) => v.pss, i))),
    pssMax: idx.map((i) => max(col((v) => v.pss, i))),
    rss: idx.map((i) => round(median(col((v) => v.rss, i)), 1)),
    uss: idx.map((i) => round(median(col((v) => v.uss, i)), 1)),
    processesPerSession: median(views.map((v) => (v.processes[0] ?? Number.NaN))),
    additional: round(median(additional), 1),
    additionalSpread: [round(min(additional), 1), round(max(additional), 1)],
    stable: views.every((v) => v.stable.every(Boolean)),
    foreignSeen: views.some((v) => v.foreign.some((f) => f > 0)),
    srcAgrees: views.every((v) => v.srcAgrees.every(Boolean)),
    stopLeavesNothing: views.every((v) => noLeftovers(v.leftovers)),
    stopLeavesNothingAtOnce: views.every((v) => noLeftoversAtOnce(v.leftovers)),
    errors,
  };
}

interface VerifySummary {
  id: string;
  ok: boolean;
  reachedWhatsApp: boolean;
  firstEvent: Record<string, unknown>;
  pageRunsJs: boolean;
  /** A 2D canvas drew and encoded a JPEG (what whatsapp-web.js does to resize pictures). */
  canvasWorks: boolean;
  webgl: boolean;
  stopLeavesNothing: boolean;
  /** Processes of the tree still there at the moment stop() resolved (gone 500 ms later when stopLeavesNothing). */
  atStop: string[];
  startMs: number;
  firstEventMs: number;
  /** Tree PSS with whatsapp-web.js's page (on the error page) and puppeteer's about:blank tab, then without the blank tab, MB. */
  pssWithBlankTab: number | null;
  pssWithoutBlankTab: number | null;
  error?: string;
}

function summarizeVerify(id: string, v: Verify): VerifySummary {
  const evaluated = v.page.evaluated;
  const page = Evaluated.safeParse(evaluated);
  const pageRunsJs = page.success && page.data.sum === 499_999_500_000;
  const canvasWorks = page.success && page.data.canvasJpegBytes > 100;
  const pssOf = (r: z.infer<typeof Reading> | undefined): number | null => (r?.tree ? mb(r.tree.totals.pss) : null);
  return {
    id,
    ok: v.reachedWhatsApp && pageRunsJs && canvasWorks && noLeftovers(v.leftovers),
    reachedWhatsApp: v.reachedWhatsApp,
    firstEvent: v.firstEvent,
    pageRunsJs,
    canvasWorks,
    webgl: page.success && page.data.webgl,
    stopLeavesNothing: noLeftovers(v.leftovers),
    atStop: v.leftovers.treeNowDetail,
    startMs: Math.round(v.startMs),
    firstEventMs: Math.round(v.firstEventMs),
    pssWithBlankTab: pssOf(v.memory.withBlankTab),
    pssWithoutBlankTab: pssOf(v.memory.withoutBlankTab),
  };
}

// ---- printing -----------------------------------------------------------------------------------

function table(header: string[], lines: string[][]): string {
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => (l[i] ?? '').length)));
  const render = (l: string[]): string => l.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' │ ');
  return [render(header), widths.map((w) => '─'.repeat(w)).join('─┼─'), ...lines.map(render)].join('\n');
}

/** What a variant that did not reach WhatsApp's DNS failure got instead. */
function failureOf(v: VerifySummary): string {
  const code = v.firstEvent.code;
  return typeof code === 'string' ? code : (v.error ?? 'no event');
}

/** 'yes' when no process was left 500 ms after stop() in the ramp and the real-client run; 'yes*' when one was still exiting at once. */
function stopCell(v: VerifySummary, s: VariantSummary): string {
  if (!v.stopLeavesNothing || !s.stopLeavesNothing) return 'NO';
  return v.atStop.length === 0 && s.stopLeavesNothingAtOnce ? 'yes' : 'yes*';
}

const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;

// ---- the benchmark ------------------------------------------------------------------------------

export interface ChromiumMemoryOptions {
  /** Memory runs per variant (alternating between variants). */
  runs?: number;
  /** Timed launches per flag set (after one warm-up). */
  launchRuns?: number;
  /** Only these variant ids (plain and shipped always run). */
  variants?: readonly string[];
}

export async function runChromiumMemory(options: ChromiumMemoryOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  if (!(await isExecutable(CHROMIUM))) throw new Error(`no executable Chromium at ${CHROMIUM}`);
  const runs = options.runs ?? 3;
  const launchRuns = options.launchRuns ?? 5;
  const wanted = options.variants;
  const variants = VARIANTS.filter((v) => ALWAYS.includes(v.id) || wanted === undefined || wanted.includes(v.id));
  const plain = variants.find((v) => v.id === 'plain');
  const shipped = variants.find((v) => v.id === 'shipped');
  if (!plain || !shipped) throw new Error('no plain or shipped variant');

  const temp = await tempDir('wagw-bench-chromium-');
  const unguard = guardDir(temp.path);
  const ctx: Context = { root: temp.path, n: 0 };
  const ramps = new Map<string, Ramp[]>(variants.map((v) => [v.id, []]));
  const rampErrors = new Map<string, string[]>(variants.map((v) => [v.id, []]));
  const quiet: { before: string; waitedMs: number; foreign: number }[] = [];
  /** Ramps measured while another Chromium ran (measured again; kept in the raw results only). */
  const discarded: { variant: string; run: number; view: RampView }[] = [];
  try {
    // 1 + 2: memory, runs alternating between variants.
    for (let r = 1; r <= runs; r++) {
      for (const variant of variants) {
        const q = await waitForQuiet(temp.path);
        quiet.push({ before: `${variant.id}#${r}`, ...q });
        console.log(`  chromium-memory: run ${r}/${runs} ${variant.id} (1→${variant.sessions} sessions)${q.foreign > 0 ? ` — ${q.foreign} other Chromium processes running` : ''}…`);
        try {
          let ramp = await inWorker(ctx, Ramp, (dir) => ['ramp', dir, String(variant.sessions), variant.args], RAMP_TIMEOUT_MS);
          if (ramp.points.some((p) => p.foreignChromiumProcesses > 0)) {
            // Another Chromium started meanwhile and shared the binary's pages: measure once more.
            discarded.push({ variant: variant.id, run: r, view: viewOf(ramp) });
            const again = await waitForQuiet(temp.path);
            quiet.push({ before: `${variant.id}#${r} (again)`, ...again });
            console.log(`  chromium-memory: another Chromium ran during ${variant.id} #${r}; measuring it again…`);
            ramp = await inWorker(ctx, Ramp, (dir) => ['ramp', dir, String(variant.sessions), variant.args], RAMP_TIMEOUT_MS);
          }
          ramps.get(variant.id)?.push(ramp);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          rampErrors.get(variant.id)?.push(message.slice(0, 2_000));
          console.log(`  chromium-memory: ${variant.id} failed: ${message.split('\n')[0] ?? ''}`);
        }
      }
    }
    const summaries = variants.map((v) => summarize(v, ramps.get(v.id) ?? [], rampErrors.get(v.id) ?? []));
    const base = summaries.find((s) => s.id === 'plain');
    const now = summaries.find((s) => s.id === 'shipped');
    if (!base || base.runs === 0 || !now || now.runs === 0) {
      throw new Error(`the plain or shipped flags could not be measured: ${[...(rampErrors.get('plain') ?? []), ...(rampErrors.get('shipped') ?? [])].join('\n')}`);
    }

    // 2: every variant once with the real whatsapp-web.js client.
    const verified: VerifySummary[] = [];
    const verifyRaw: Record<string, unknown> = {};
    for (const variant of variants) {
      console.log(`  chromium-memory: real whatsapp-web.js client with ${variant.id}…`);
      try {
        const v = await inWorker(ctx, Verify, (dir) => ['verify', dir, variant.args], VERIFY_TIMEOUT_MS);
        verifyRaw[variant.id] = v;
        verified.push(summarizeVerify(variant.id, v));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        verifyRaw[variant.id] = { error: message.slice(0, 2_000) };
        verified.push({
          id: variant.id,
          ok: false,
          reachedWhatsApp: false,
          firstEvent: {},
          pageRunsJs: false,
          canvasWorks: false,
          webgl: false,
          stopLeavesNothing: false,
          atStop: [],
          startMs: Number.NaN,
          firstEventMs: Number.NaN,
          pssWithBlankTab: null,
          pssWithoutBlankTab: null,
          error: message.split('\n')[0] ?? message,
        });
      }
    }

    // 3: launch time, plain vs shipped, interleaved.
    console.log(`  chromium-memory: launch time, ${launchRuns} runs each of plain and shipped…`);
    const launchVariants = [plain, shipped].map((v) => ({ id: v.id, args: v.args }));
    const launch = await inWorker(
      ctx,
      Launch,
      (dir) => ['launch', dir, String(launchRuns), JSON.stringify(launchVariants)],
      LAUNCH_TIMEOUT_PER_SESSION_MS * (launchRuns + 1) * launchVariants.length,
    );
    const launchOf = (id: string): { start: number[]; first: number[]; stop: number[]; allReached: boolean; allClean: boolean; warmup: LaunchRun | null } => {
      const r = launch.results[id];
      const list = r?.runs ?? [];
      return {
        start: list.map((x) => x.startMs),
        first: list.map((x) => x.firstEventMs),
        stop: list.map((x) => x.stopMs),
        allReached: list.every((x) => x.reachedWhatsApp) && (r?.warmup.reachedWhatsApp ?? false),
        allClean: list.every((x) => noLeftovers(x.leftovers)) && (r ? noLeftovers(r.warmup.leftovers) : false),
        warmup: r?.warmup ?? null,
      };
    };
    const launchPlain = launchOf(plain.id);
    const launchShipped = launchOf(shipped.id);
    const stalledStart = (ramps.get('plain') ?? []).flatMap((r) => r.startMs);

    // ---- tables ----
    const viewsOf = (id: string): RampView[] => (ramps.get(id) ?? []).map(viewOf);
    const rampTable = (summary: VariantSummary): string => {
      const views = viewsOf(summary.id);
      const lines = summary.pss.map((pss, i) => {
        const n = i + 1;
        const marginal = median(views.map((v) => (v.pss[i] ?? Number.NaN) - (v.pss[i - 1] ?? Number.NaN)));
        return [
          String(n),
          `${pss.toFixed(1)} (${(summary.pssMin[i] ?? Number.NaN).toFixed(1)}–${(summary.pssMax[i] ?? Number.NaN).toFixed(1)})`,
          (pss / n).toFixed(1),
          i === 0 ? '—' : signed(marginal),
          (summary.rss[i] ?? Number.NaN).toFixed(1),
          (summary.uss[i] ?? Number.NaN).toFixed(1),
        ];
      });
      return table(['sessions', 'PSS total (min–max)', 'PSS/session', 'marginal PSS', 'RSS sum', 'USS sum'], lines);
    };
    for (const [summary, label] of [
      [base, `plain recipe: ${plain.args}`],
      [now, `shipped DEFAULT_CHROME_ARGS: ${shipped.args}`],
    ] as const) {
      console.log(`\n  Chromium memory, ${label}; blank page (MB, median of ${summary.runs} runs)\n`);
      console.log(rampTable(summary));
    }
    const verifiedOf = (id: string): VerifySummary | undefined => verified.find((v) => v.id === id);
    const variantLines = summaries.map((s) => {
      const v = verifiedOf(s.id);
      const isBase = s.id === plain.id;
      return [
        s.id,
        (s.pss[0] ?? Number.NaN).toFixed(1),
        isBase ? '—' : signed((s.pss[0] ?? Number.NaN) - (base.pss[0] ?? Number.NaN)),
        (s.pss[2] ?? Number.NaN).toFixed(1),
        isBase ? '—' : signed((s.pss[2] ?? Number.NaN) - (base.pss[2] ?? Number.NaN)),
        ((((s.pss[2] ?? Number.NaN) - (s.pss[0] ?? Number.NaN)) / 2)).toFixed(1),
        String(s.processesPerSession),
        v ? (v.reachedWhatsApp ? 'yes' : `NO ${failureOf(v)}`) : '—',
        v ? (v.pageRunsJs && v.canvasWorks ? 'yes' : 'NO') : '—',
        v ? (v.webgl ? 'yes' : 'no') : '—',
        v ? stopCell(v, s) : '—',
        s.errors.length > 0 ? `${s.errors.length} failed` : '',
      ];
    });
    console.log(`\n  Flag variants (MB, median of ${runs} runs; each on top of the plain recipe, shipped = DEFAULT_CHROME_ARGS)\n`);
    console.log(
      table(['variant', 'PSS 1', 'Δ1', 'PSS 3', 'Δ3', 'per extra', 'procs', 'wwebjs → WA DNS', 'page JS+canvas', 'WebGL', 'stop → 0 procs', ''], variantLines),
    );
    console.log('  (* = a SIGKILLed process of the group was still exiting when stop() resolved; gone 500 ms later)');
    const launchLine = (id: string, l: ReturnType<typeof launchOf>): string[] => [
      id,
      median(l.start).toFixed(0),
      median(l.first).toFixed(0),
      median(l.stop).toFixed(0),
      l.allReached ? 'WHATSAPP_UNREACHABLE (DNS)' : 'NOT always',
      l.allClean ? 'yes' : 'NO',
    ];
    console.log(`\n  Launch (ms, median of ${launchRuns}; real whatsapp-web.js client)\n`);
    console.log(
      table(['flags', 'start() resolves', 'start() → 1st event', 'stop()', 'first event', 'stop → 0 procs'], [launchLine(plain.id, launchPlain), launchLine(shipped.id, launchShipped)]),
    );
    console.log(`\n  Shipped DEFAULT_CHROME_ARGS adds to the plain recipe: ${shipped.added === '' ? '(nothing)' : shipped.added}\n`);

    // ---- rows for run-all's table ----
    const spread = (values: readonly number[]): [number, number] => [min(values), max(values)];
    const lastN = plain.sessions;
    const firstOf = (views: readonly RampView[]): number[] => views.map((v) => v.pss[0] ?? Number.NaN);
    const additionalOf = (views: readonly RampView[], pick: (v: RampView) => number[] = (v) => v.pss): number[] =>
      views.map((v) => ((pick(v)[lastN - 1] ?? Number.NaN) - (pick(v)[0] ?? Number.NaN)) / (lastN - 1));
    const perSessionOf = (views: readonly RampView[]): number[] => views.map((v) => (v.pss[lastN - 1] ?? Number.NaN) / lastN);
    const plainViews = viewsOf(plain.id);
    const shippedViews = viewsOf(shipped.id);
    const pf = firstOf(plainViews);
    const pa = additionalOf(plainViews);
    const sf = firstOf(shippedViews);
    const sa = additionalOf(shippedViews);
    const rssFirst = plainViews.map((v) => v.rss[0] ?? Number.NaN);
    const rssAdditional = additionalOf(plainViews, (v) => v.rss);
    const mbRow = (metric: string, values: number[], baseline: number, baselineLabel: string): BenchRow =>
      row({ metric, unit: 'MB', value: median(values), baseline, baselineLabel, goal: null, spread: spread(values), runs: values.length });
    const msRow = (metric: string, values: number[], baseline: number, baselineLabel: string): BenchRow =>
      row({ metric, unit: 'ms', value: median(values), baseline, baselineLabel, goal: null, spread: spread(values), runs: values.length });
    const rows: BenchRow[] = [
      mbRow('Chromium PSS, first session (blank page), plain recipe', pf, REFERENCE.firstMB, 'earlier reference, plain flags'),
      mbRow(`Chromium PSS, each additional session ((${lastN}−1)/${lastN - 1}), plain`, pa, REFERENCE.additionalMB, 'earlier reference, plain flags'),
      mbRow('Chromium PSS, first session, shipped DEFAULT_CHROME_ARGS', sf, median(pf), 'plain recipe, same runs'),
      mbRow(`Chromium PSS, each additional session ((${lastN}−1)/${lastN - 1}), shipped`, sa, median(pa), 'plain recipe, same runs'),
      mbRow(`Chromium PSS per session at ${lastN} sessions, plain`, perSessionOf(plainViews), REFERENCE.wahaPerSessionMB, 'WAHA, published per WEBJS session'),
      mbRow(`Chromium PSS per session at ${lastN} sessions, shipped`, perSessionOf(shippedViews), REFERENCE.wahaPerSessionMB, 'WAHA, published per WEBJS session'),
      mbRow('Chromium RSS sum, first session, plain (double-counts shared pages)', rssFirst, median(pf), 'PSS of the same trees'),
      mbRow('Chromium RSS sum, each additional session, plain', rssAdditional, median(pa), 'PSS of the same trees'),
    ];
    for (const s of summaries) {
      if (ALWAYS.includes(s.id) || s.runs === 0) continue;
      const views = viewsOf(s.id);
      for (const n of [1, 3]) {
        const values = views.map((v) => v.pss[n - 1] ?? Number.NaN).filter(Number.isFinite);
        rows.push(mbRow(`Chromium PSS, ${n} session${n > 1 ? 's' : ''}, ${s.id}`, values, base.pss[n - 1] ?? Number.NaN, 'plain recipe, same runs'));
      }
    }
    rows.push(
      msRow('engine.start() resolves, real client, plain', launchPlain.start, median(stalledStart), 'start(), stand-in client (plain ramps)'),
      msRow('engine.start() → first event (WHATSAPP_UNREACHABLE), plain', launchPlain.first, median(launchPlain.start), 'start() resolving'),
      msRow('engine.start() resolves, real client, shipped', launchShipped.start, median(launchPlain.start), 'plain recipe'),
      msRow('engine.start() → first event (WHATSAPP_UNREACHABLE), shipped', launchShipped.first, median(launchPlain.first), 'plain recipe'),
    );

    return {
      name: 'chromium-memory',
      rows,
      raw: {
        chromium: CHROMIUM,
        reference: REFERENCE,
        plainChromeArgs: plain.args,
        shippedChromeArgs: shipped.args,
        shippedAdds: shipped.added,
        effectiveArgv: { plain: ramps.get(plain.id)?.[0]?.effectiveArgv ?? [], shipped: ramps.get(shipped.id)?.[0]?.effectiveArgv ?? [] },
        settle: SETTLE,
        quiet,
        discarded,
        breakdownFirstSession: { plain: breakdown(ramps.get(plain.id) ?? []), shipped: breakdown(ramps.get(shipped.id) ?? []) },
        summaries,
        verified,
        launch: {
          runs: launchRuns,
          plain: { ...launchPlain, medianStartMs: median(launchPlain.start), medianFirstEventMs: median(launchPlain.first) },
          shipped: { ...launchShipped, medianStartMs: median(launchShipped.start), medianFirstEventMs: median(launchShipped.first) },
          stalledClientStartMs: stalledStart,
        },
        ramps: Object.fromEntries([...ramps].map(([id, list]) => [id, list.map(viewOf)])),
        verifyRaw,
      },
      durationMs: performance.now() - started,
    };
  } finally {
    await sweep(temp.path);
    unguard();
    await temp.remove();
  }
}

function cliOptions(argv: readonly string[]): ChromiumMemoryOptions {
  const options: ChromiumMemoryOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split('=', 2);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag ?? ''}: missing value`);
    if (flag === '--runs') options.runs = Number(value);
    else if (flag === '--launch-runs') options.launchRuns = Number(value);
    else if (flag === '--variants') options.variants = value.split(',');
    else throw new Error(`unknown option ${flag ?? ''} (--runs N, --launch-runs N, --variants a,b)`);
  }
  return options;
}

if (isMain(import.meta.url)) {
  installSignalCleanup();
  const options = cliOptions(process.argv.slice(2));
  await runStandalone(() => runChromiumMemory(options));
}

/**
 * Child process of the chromium-memory benchmark (run with `node --import tsx`). Every Chromium it
 * starts runs with its profile under <dir>; whatever still runs there when it exits is killed.
 *
 *   chromium-memory.worker.ts ramp   <dir> <sessions> <chrome-args>
 *   chromium-memory.worker.ts verify <dir> <chrome-args>
 *   chromium-memory.worker.ts launch <dir> <runs> <variants-json: [{"id","args"}]>
 *
 * - `ramp`: starts WebjsEngine sessions one after the other with a stand-in client whose
 *   initialize() never settles (the browser stays on puppeteer's about:blank tab), and after each
 *   one waits for memory to settle and reads every session's process tree (smaps_rollup). Then
 *   stops them all and checks that nothing is left.
 * - `verify`: one session with the REAL whatsapp-web.js client: it must connect to the browser,
 *   open its page and fail loading https://web.whatsapp.com with net::ERR_NAME_NOT_RESOLVED
 *   (engine_failure WHATSAPP_UNREACHABLE). Then checks that the page runs JavaScript, measures the
 *   tree with whatsapp-web.js's tab open (and again after closing the leftover about:blank tab),
 *   and that stop() leaves zero processes.
 * - `launch`: times engine.start() and start → first engine event with the real client, `runs`
 *   times per variant, variants interleaved, after one untimed warm-up launch per variant.
 *
 * <chrome-args> is a CHROME_ARGS value: the engine gets exactly what the gateway would get from it
 * (loadConfig → webjsOptionsFrom), and adds its own flags as in production.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import wwebjs from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';
import { loadConfig } from '../../src/config.js';
import type { EngineEvent } from '../../src/engines/engine.js';
import { profileDirOf } from '../../src/engines/webjs/browser-profile.js';
import { findBrowserProcesses, findProcesses } from '../../src/engines/webjs/process-tree.js';
import { WebjsEngine, realWebjsSeams, type WebjsSeams } from '../../src/engines/webjs/webjs-engine.js';
import { webjsOptionsFrom, type WebjsEngineOptions } from '../../src/engines/webjs/webjs-options.js';
import { FakeWebjsClient } from '../../tests/helpers/fake-webjs-client.js';
import { chromiumProcessType, exeOf, foreignProcessesOf, guardDir, listProcesses, settle, sweep, treeOf, treesMemory, type TreeMemory } from '../lib/chromium.js';
import { reportResult } from '../lib/processes.js';
import { sleep, withTimeout } from '../lib/stats.js';

const silent = pino({ level: 'silent' });
const FIRST_EVENT_TIMEOUT_MS = 60_000;

/** whatsapp-web.js stand-in whose initialize() never settles: a page that keeps loading (as in tests/integration). */
class StalledClient extends FakeWebjsClient {
  override initialize(): Promise<void> {
    return new Promise<void>(() => undefined);
  }
}

function optionsFor(dir: string, chromeArgs: string): WebjsEngineOptions {
  const config = loadConfig({ API_KEY: 'bench', SESSIONS_PATH: dir, CHROME_ARGS: chromeArgs, LOG_LEVEL: 'silent' });
  return { ...webjsOptionsFrom(config), authPath: join(dir, 'auth'), destroyTimeoutMs: 5_000, launchTimeoutMs: 30_000 };
}

function engineFor(sessionId: string, options: WebjsEngineOptions, seams: WebjsSeams): WebjsEngine {
  return new WebjsEngine({ sessionId, logger: silent, auth: { load: async () => null, save: async () => undefined, clear: async () => undefined } }, options, seams);
}

const stalledSeams: WebjsSeams = { launchBrowser: realWebjsSeams.launchBrowser, createClient: () => new StalledClient() };

/** Real whatsapp-web.js clients, remembered so that the page they opened can be inspected. */
function realSeams(): { seams: WebjsSeams; clients: WAWebJS.Client[] } {
  const clients: WAWebJS.Client[] = [];
  return {
    clients,
    seams: {
      launchBrowser: realWebjsSeams.launchBrowser,
      createClient: (o) => {
        const client = new wwebjs.Client(o);
        clients.push(client);
        return client;
      },
    },
  };
}

const compactEvent = (event: EngineEvent): Record<string, unknown> =>
  event.type === 'engine_failure' ? { type: event.type, code: event.code, message: event.message.slice(0, 300) } : { type: event.type };

interface Leftovers {
  /** findBrowserProcesses(profileDir) for every session, right after stop() resolved (the src helper). */
  byProfileFlag: number;
  /** Every process of the sessions' process trees (group or descendants of the leaders), right after stop(). */
  treeNow: number;
  /** Chromium processes whose command line mentions <dir> (findProcesses substring match), right after stop(). */
  underDirNow: number;
  /** Type and state of each process of the trees still there right after stop(). */
  treeNowDetail: string[];
  /** The same three 500 ms later. */
  byProfileFlagLater: number;
  treeLater: number;
  underDirLater: number;
}

async function leftoversAfterStop(dir: string, profiles: readonly string[], leaders: readonly number[]): Promise<Leftovers> {
  const count = async (): Promise<[number, number, number, string[]]> => {
    const byProfile = (await Promise.all(profiles.map((p) => findBrowserProcesses(p)))).reduce((a, l) => a + l.length, 0);
    const all = await listProcesses();
    const pids = new Set(leaders.flatMap((l) => treeOf(l, all).map((p) => p.pid)));
    const detail = all.filter((p) => pids.has(p.pid)).map((p) => `${chromiumProcessType(p.cmdline)}:${p.state}`);
    const under = (await findProcesses(dir)).filter((p) => (p.cmdline.split(' ', 1)[0] ?? '').includes('chrom')).length;
    return [byProfile, pids.size, under, detail];
  };
  const [byProfileFlag, treeNow, underDirNow, treeNowDetail] = await count();
  await sleep(500);
  const [byProfileFlagLater, treeLater, underDirLater] = await count();
  return { byProfileFlag, treeNow, underDirNow, treeNowDetail, byProfileFlagLater, treeLater, underDirLater };
}

const totalsOf = (trees: readonly TreeMemory[]): { value: number; count: number } => ({
  value: trees.reduce((a, t) => a + t.totals.pss, 0),
  count: trees.reduce((a, t) => a + t.totals.count, 0),
});

async function readSettled(leaders: readonly number[], exe: string | null): Promise<Record<string, unknown> & { trees: TreeMemory[] }> {
  const settled = await settle(
    () => treesMemory(leaders),
    (m) => totalsOf(m.trees),
  );
  const ours = new Set(settled.value.trees.flatMap((t) => t.processes.map((p) => p.pid)));
  const foreign = exe === null ? 0 : await foreignProcessesOf(exe, ours, settled.value.all);
  return {
    trees: settled.value.trees,
    stable: settled.stable,
    settleMs: Math.round(settled.settleMs),
    reads: settled.reads,
    lastChange: settled.lastChange,
    foreignChromiumProcesses: foreign,
  };
}

async function ramp(dir: string, sessions: number, chromeArgs: string): Promise<unknown> {
  const options = optionsFor(dir, chromeArgs);
  const engines: WebjsEngine[] = [];
  const leaders: number[] = [];
  const events: Record<string, unknown>[] = [];
  const points: unknown[] = [];
  const startMs: number[] = [];
  let exe: string | null = null;
  let leaderArgv: string[] = [];
  let teardown: { stopMs: number; leftovers: Leftovers; swept: number[] } | undefined;
  try {
    for (let k = 1; k <= sessions; k++) {
      const id = `m${k}`;
      const engine = engineFor(id, options, stalledSeams);
      engine.onEvent((event) => events.push({ session: id, at: Math.round(performance.now()), ...compactEvent(event) }));
      engines.push(engine);
      const t0 = performance.now();
      await engine.start();
      startMs.push(performance.now() - t0);
      const pid = engine.browserPid;
      if (pid === null) throw new Error(`session ${id}: no browser pid after start()`);
      leaders.push(pid);
      if (k === 1) {
        exe = await exeOf(pid);
        leaderArgv = (await listProcesses()).find((p) => p.pid === pid)?.argv ?? [];
      }
      const reading = await readSettled(leaders, exe);
      points.push({
        sessions: k,
        ...reading,
        findBrowserProcessesCounts: await Promise.all(leaders.map(async (_, i) => (await findBrowserProcesses(profileDirOf(options.authPath, `m${i + 1}`))).length)),
      });
    }
  } finally {
    const t0 = performance.now();
    await Promise.all(engines.map((e) => e.stop()));
    const stopMs = performance.now() - t0;
    const leftovers = await leftoversAfterStop(
      dir,
      engines.map((_, i) => profileDirOf(options.authPath, `m${i + 1}`)),
      leaders,
    );
    teardown = { stopMs, leftovers, swept: await sweep(dir) };
  }
  return { mode: 'ramp', chromeArgs, effectiveArgv: leaderArgv, exe, startMs, points, events, ...teardown };
}

interface LaunchRun {
  startMs: number;
  firstEventMs: number;
  firstEvent: Record<string, unknown>;
  reachedWhatsApp: boolean;
  stopMs: number;
  leftovers: Leftovers;
}

/** One session with the real client: start, first event, stop, leftovers. `inspect` runs between the first event and stop(). */
async function realSession(dir: string, options: WebjsEngineOptions, id: string, inspect?: (client: WAWebJS.Client | undefined, leader: number) => Promise<void>): Promise<LaunchRun> {
  const { seams, clients } = realSeams();
  const engine = engineFor(id, options, seams);
  const first = new Promise<{ event: EngineEvent; at: number }>((resolve) => {
    const off = engine.onEvent((event) => {
      off();
      resolve({ event, at: performance.now() });
    });
  });
  try {
    const t0 = performance.now();
    await engine.start();
    const startMs = performance.now() - t0;
    const leader = engine.browserPid;
    const { event, at } = await withTimeout(first, FIRST_EVENT_TIMEOUT_MS, `session ${id}: first engine event`);
    const firstEventMs = at - t0;
    const reachedWhatsApp = event.type === 'engine_failure' && event.code === 'WHATSAPP_UNREACHABLE' && /ERR_NAME_NOT_RESOLVED/.test(event.message);
    if (inspect && leader !== null) await inspect(clients[0], leader);
    const s0 = performance.now();
    await engine.stop();
    const stopMs = performance.now() - s0;
    const leftovers = await leftoversAfterStop(dir, [profileDirOf(options.authPath, id)], leader === null ? [] : [leader]);
    return { startMs, firstEventMs, firstEvent: compactEvent(event), reachedWhatsApp, stopMs, leftovers };
  } finally {
    await engine.stop();
    await sweep(dir);
  }
}

async function verify(dir: string, chromeArgs: string): Promise<unknown> {
  const options = optionsFor(dir, chromeArgs);
  const page: Record<string, unknown> = {};
  const memory: Record<string, unknown> = {};
  const run = await realSession(dir, options, 'v1', async (client, leader) => {
    const exe = await exeOf(leader);
    const browser = client?.pupBrowser;
    const pupPage = client?.pupPage;
    if (!browser || !pupPage) {
      page.error = 'whatsapp-web.js has no browser or page';
      return;
    }
    // (page.url() still says about:blank after the failed navigation: the evaluation below reads location.href.)
    page.tabs = (await browser.pages()).length;
    const withBlank = await readSettled([leader], exe);
    memory.withBlankTab = { ...withBlank, trees: undefined, tree: withBlank.trees[0] };
    // The engine's launch leaves puppeteer's about:blank tab open next to whatsapp-web.js's own.
    const blank = (await browser.pages()).filter((p) => p !== pupPage && p.url() === 'about:blank');
    for (const p of blank) await p.close();
    memory.closedBlankTabs = blank.length;
    const without = await readSettled([leader], exe);
    memory.withoutBlankTab = { ...without, trees: undefined, tree: without.trees[0] };
    // After the readings: the allocation below grows the renderer's heap.
    try {
      page.evaluated = await withTimeout(
        // A string: this project has no DOM typings. A little real work: ~1M objects allocated and read back.
        pupPage.evaluate(`(() => {
          const items = [];
          for (let i = 0; i < 1e6; i++) items.push({ i });
          // What whatsapp-web.js does to resize pictures (WWebJS.cropAndResizeImage): a 2D canvas to a JPEG data URL.
          const canvas = document.createElement('canvas');
          canvas.width = 96;
          canvas.height = 96;
          const ctx = canvas.getContext('2d');
          ctx.fillStyle = '#25d366';
          ctx.fillRect(0, 0, 96, 96);
          const jpeg = canvas.toDataURL('image/jpeg', 0.75);
          const webgl = document.createElement('canvas').getContext('webgl') !== null;
          return { userAgent: navigator.userAgent, href: location.href, sum: items.reduce((a, b) => a + b.i, 0), canvasJpegBytes: jpeg.length, webgl };
        })()`),
        10_000,
        'page.evaluate',
      );
    } catch (error) {
      page.evaluateError = error instanceof Error ? error.message : String(error);
    }
  });
  return { mode: 'verify', chromeArgs, ...run, page, memory };
}

async function launch(dir: string, runs: number, variants: readonly { id: string; args: string }[]): Promise<unknown> {
  const results: Record<string, { warmup: LaunchRun; runs: LaunchRun[] }> = {};
  let n = 0;
  for (const v of variants) results[v.id] = { warmup: await realSession(dir, optionsFor(dir, v.args), `w${++n}`), runs: [] };
  for (let r = 0; r < runs; r++) {
    for (const v of variants) {
      const run = await realSession(dir, optionsFor(dir, v.args), `l${++n}`);
      results[v.id]?.runs.push(run);
    }
  }
  return { mode: 'launch', runs, variants, results };
}

function parseVariants(raw: string | undefined): { id: string; args: string }[] {
  const parsed: unknown = JSON.parse(raw ?? '[]');
  if (!Array.isArray(parsed)) throw new Error('variants: expected a JSON array');
  return parsed.map((v: unknown) => {
    if (typeof v !== 'object' || v === null || !('id' in v) || !('args' in v) || typeof v.id !== 'string' || typeof v.args !== 'string') {
      throw new Error('variants: expected [{"id": string, "args": string}]');
    }
    return { id: v.id, args: v.args };
  });
}

async function main(): Promise<void> {
  const [mode, dir] = process.argv.slice(2);
  if (dir === undefined || !dir.startsWith('/')) throw new Error('usage: chromium-memory.worker.ts <ramp|verify|launch> <absolute dir> …');
  guardDir(dir);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => process.exit(130)); // the exit hook kills the browsers
  }
  let result: unknown;
  if (mode === 'ramp') result = await ramp(dir, Number(process.argv[4]), process.argv[5] ?? '');
  else if (mode === 'verify') result = await verify(dir, process.argv[4] ?? '');
  else if (mode === 'launch') result = await launch(dir, Number(process.argv[4]), parseVariants(process.argv[5]));
  else throw new Error(`unknown mode ${String(mode)}`);
  reportResult(result);
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });

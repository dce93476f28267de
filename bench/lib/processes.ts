import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/lib/ → ../..). Children run from here so that `--import tsx` resolves. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Marker a worker prints before its JSON result, on a line of its own. */
export const RESULT_MARKER = '@@BENCH_RESULT@@';

interface Tracked {
  child: ChildProcess;
  /** True when the child leads its own process group (spawned detached): the whole group is killed. */
  group: boolean;
}

const live = new Set<Tracked>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: whatever is still running when this process exits (normally, by an exception or
  // by a signal handled in run-all) is killed, so that nothing outlives the benchmark.
  process.on('exit', () => {
    for (const tracked of live) hardKill(tracked);
  });
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signal(tracked: Tracked, sig: NodeJS.Signals): void {
  const pid = tracked.child.pid;
  if (pid === undefined || !isRunning(tracked.child)) return;
  try {
    if (tracked.group) process.kill(-pid, sig);
    else tracked.child.kill(sig);
  } catch {
    // already gone
  }
}

function hardKill(tracked: Tracked): void {
  signal(tracked, 'SIGKILL');
}

/** Registers a child started elsewhere (redis-server) so that it is killed if this process exits early. */
export function track(child: ChildProcess, options: { group?: boolean } = {}): () => void {
  installExitHook();
  const tracked: Tracked = { child, group: options.group ?? false };
  live.add(tracked);
  const forget = (): void => {
    live.delete(tracked);
  };
  child.once('exit', forget);
  return forget;
}

/** Kills every tracked child now (SIGKILL); used by run-all's signal handlers. */
export function killAllTracked(): void {
  for (const tracked of live) hardKill(tracked);
}

export interface NodeChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the child wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child (and its process group) is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartNodeOptions {
  /** Node flags before the script (e.g. --expose-gc). `--import tsx` is always added. */
  nodeFlags?: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Keep at most this many characters of each output stream. */
  maxOutput?: number;
  /** Run the script with plain node (compiled JavaScript): no `--import tsx`. */
  plainNode?: boolean;
}

/**
 * Starts `node [--import tsx] <script> ...args` from the repository root as the leader of its own
 * process group (so that helpers it may start die with it), tracked for cleanup.
 */
export function startNode(script: string, args: readonly string[], options: StartNodeOptions): NodeChild {
  installExitHook();
  const flags = [...(options.nodeFlags ?? []), ...(options.plainNode === true ? [] : ['--import', 'tsx'])];
  const child = spawn(process.execPath, [...flags, script, ...args], {
    cwd: REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${script}`);
  const tracked: Tracked = { child, group: true };
  live.add(tracked);
  const max = options.maxOutput ?? 1_000_000;
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-max);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-max);
  });
  child.once('exit', () => {
    // The leader is gone; make sure nothing else of its group lingers (and holds its pipes open).
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // no process left in the group
    }
    live.delete(tracked);
  });
  // 'close' (not 'exit'): only then has all of the child's output been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code: number | null, sig: NodeJS.Signals | null) => resolve({ code, signal: sig }));
  });
  const stop = async (graceMs = 3_000): Promise<void> => {
    if (!isRunning(child)) {
      await exited;
      return;
    }
    signal(tracked, 'SIGTERM');
    const timer = setTimeout(() => signal(tracked, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { child, pid, stdout: () => out, stderr: () => err, exited, stop };
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a node script to completion, killing it (and its process group) after `timeoutMs`. */
export async function runNodeScript(script: string, args: readonly string[], options: StartNodeOptions & { timeoutMs: number }): Promise<CommandResult> {
  const node = startNode(script, args, options);
  const state = { timedOut: false };
  const timer = setTimeout(() => {
    state.timedOut = true;
    void node.stop(1_000);
  }, options.timeoutMs);
  try {
    const { code, signal: sig } = await node.exited;
    if (state.timedOut) throw new Error(`${script} ${args.join(' ')}: timed out after ${options.timeoutMs} ms\n${tail(node.stderr())}`);
    return { code, signal: sig, stdout: node.stdout(), stderr: node.stderr() };
  } finally {
    clearTimeout(timer);
    await node.stop(1_000);
  }
}

/**
 * Runs a worker script to completion (bounded by `timeoutMs`) and returns the JSON it printed
 * after {@link RESULT_MARKER}. The child is killed on timeout or failure.
 */
export async function runWorker(script: string, args: readonly string[], options: StartNodeOptions & { timeoutMs: number }): Promise<unknown> {
  const { code, signal: sig, stdout, stderr } = await runNodeScript(script, args, options);
  if (code !== 0) throw new Error(`${script} ${args.join(' ')}: exited with ${code ?? sig ?? 'unknown'}\n${tail(stderr)}`);
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error(`${script} ${args.join(' ')}: printed no result\n${tail(stdout)}\n${tail(stderr)}`);
  return JSON.parse(line.slice(RESULT_MARKER.length)) as unknown;
}

/** Called by a worker: prints its result for {@link runWorker}. */
export function reportResult(result: unknown): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

export function tail(text: string, chars = 2_000): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

/**
 * Redis for the send benchmarks: a real `redis-server` of the run's own (random 127.0.0.1 port, own
 * temp directory, no persistence), tracked so that it dies with the benchmark; `INFO` readings
 * (commandstats, CPU); and a MONITOR recorder that counts every command a window of work sends,
 * by command, by client connection, and inside each Lua script.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from '../../tests/helpers/free-port.js';
import { track } from './processes.js';
import { sleep } from './stats.js';
import { tempDir } from './temp.js';

export interface BenchRedis {
  url: string;
  port: number;
  pid: number;
  /** Kills redis-server and removes its directory. */
  stop(): Promise<void>;
}


const STARTUP_TIMEOUT_MS = 10_000;

/**
 * Starts `redis-server` on a free loopback port with its own data directory, no RDB snapshots and
 * no AOF (the same settings as the tests' Redis), and resolves once it accepts connections.
 */
export async function startRedis(): Promise<BenchRedis> {
  const dir = await tempDir('wagw-bench-redis-');
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    const ready = await new Promise<boolean>((resolve) => {
      let output = '';
      const timer = setTimeout(() => resolve(false), STARTUP_TIMEOUT_MS);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        resolve(value);
      };
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) done(true);
        if (output.includes('Address already in use')) done(false);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => done(false));
      child.once('error', () => done(false));
    });
    const pid = child.pid;
    if (ready && pid !== undefined) {
      child.stdout.resume();
      child.stderr.resume();
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGKILL');
            await exited;
          }
          await dir.remove();
        },
      };
    }
    child.kill('SIGKILL');
  }
  await dir.remove();
  throw new Error('redis-server did not start (is it installed? apt-get install -y redis-server)');
}

/** A plain command connection for the benchmark's own readings. Close it with `quit()`. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'bench:observer' });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

/** One `INFO <section>` as key → value. */
export async function info(redis: Redis, section: string): Promise<Record<string, string>> {
  const text = await redis.info(section);
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

/** `INFO commandstats`: calls per command (commands called by Lua scripts are counted too). */
export async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(await info(redis, 'commandstats'))) {
    const calls = /calls=(\d+)/.exec(value)?.[1];
    if (key.startsWith('cmdstat_') && calls !== undefined) out[key.slice('cmdstat_'.length)] = Number(calls);
  }
  return out;
}

/** CPU seconds redis-server has used (main thread and the rest, user + system). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const cpu = await info(redis, 'cpu');
  return Number(cpu.used_cpu_user ?? 0) + Number(cpu.used_cpu_sys ?? 0);
}

/** after − before, per key, zeros left out. */
export function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

/** The commands a benchmark's own observer and MONITOR connections send, left out of commandstats deltas. */
const OBSERVER_COMMANDS = new Set(['info', 'client|list', 'monitor', 'client|setname', 'quit']);

/** A commandstats delta without the observer's own commands. */
export function withoutObserver(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([command]) => !OBSERVER_COMMANDS.has(command)));
}

/** Each count divided by `n`, rounded to 2 decimals, largest first. */
export function perUnit(counts: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([key, value]) => [key, Math.round((value / n) * 100) / 100]),
  );
}

const sumOf = (counts: Record<string, number>): number => Object.values(counts).reduce((s, v) => s + v, 0);

/** sha1 of every BullMQ Lua script → its name (ioredis sends them as EVALSHA <sha1 of the script>). */
function bullmqScriptNames(): Map<string, string> {
  const names = new Map<string, string>();
  try {
    const require = createRequire(import.meta.url);
    const scripts = require('bullmq/dist/cjs/scripts/index.js') as Record<string, { name?: unknown; content?: unknown }>;
    for (const script of Object.values(scripts)) {
      if (typeof script.name === 'string' && typeof script.content === 'string') {
        names.set(createHash('sha1').update(script.content).digest('hex'), `bullmq:${script.name}`);
      }
    }
  } catch {
    // unlabelled then: the scripts still show with their inner commands
  }
  return names;
}

/** A name for a script from its text: the gateway's own scripts are recognised by their first statement. */
function evalLabel(text: string): string {
  const unescaped = text.replace(/\\n/g, '\n');
  if (unescaped.includes("redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX'")) return 'eval:message-store INSERT';
  if (unescaped.includes("local current = redis.call('GET', KEYS[1])") && unescaped.includes('if current ~= ARGV[1]')) return 'eval:message-store CAS';
  if (unescaped.includes('local key, prefix = KEYS[1], ARGV[1]')) return 'eval:message-store SCAN';
  const first = unescaped
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !l.startsWith('--'));
  return `eval:${(first ?? '?').slice(0, 40)}`;
}

export interface ScriptCount {
  calls: number;
  /** Commands the script ran, summed over its calls. */
  inner: Record<string, number>;
  /** What its first call ran, in order (names a script known only by its sha). */
  firstCall: string[];
}

export interface MonitorCounts {
  windowMs: number;
  /** Commands as clients sent them (one per round trip unless pipelined), by command name. */
  topLevel: Record<string, number>;
  topLevelTotal: number;
  /** The same, per client connection name (`<p>` stands for the prefix), then per command. */
  byClient: Record<string, Record<string, number>>;
  /** Every EVAL/EVALSHA by script, with what it ran inside. */
  scripts: Record<string, ScriptCount>;
  /** Commands run inside scripts, by command name. */
  inScripts: Record<string, number>;
  inScriptsTotal: number;
}

export interface MonitorRecorder {
  /**
   * Stops recording and counts what was seen. With `prefix`, only the connections whose name
   * contains it are counted (another server sharing the Redis is left out), and it is shown as `<p>`.
   */
  stop(prefix?: string): Promise<MonitorCounts>;
}

interface MonitorEvent {
  command: string;
  arg1: string;
  source: string;
}

/**
 * Starts a MONITOR connection. MONITOR makes Redis slower, so it is only used in short counting
 * windows, never while throughput or latency is measured. The benchmark's own connections (the
 * observer, MONITOR itself) are left out of the counts.
 */
export async function startMonitor(url: string): Promise<MonitorRecorder> {
  const base = await connectRedis(url);
  const events: MonitorEvent[] = [];
  const monitor = await rawMonitor(url, (event) => events.push(event));
  const ownAddr = new Set<string>();
  const started = performance.now();
  // MONITOR's own setup commands arrive first: let them pass before the window counts.
  await sleep(50);
  events.length = 0;
  return {
    stop: async (prefix?: string): Promise<MonitorCounts> => {
      const windowMs = performance.now() - started;
      // Let the last lines of the window arrive.
      await sleep(100);
      const seen = events.splice(0);
      const list = await base.client('LIST');
      const names = new Map<string, string>();
      for (const line of String(list).split('\n')) {
        const addr = /\baddr=(\S+)/.exec(line)?.[1];
        const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
        const cmd = /\bcmd=(\S+)/.exec(line)?.[1] ?? '';
        if (addr === undefined) continue;
        if (name === 'bench:observer' || cmd === 'monitor') ownAddr.add(addr);
        names.set(addr, name === '' ? '(unnamed)' : name);
      }
      monitor.destroy();
      await base.quit().catch(() => undefined);
      base.disconnect();
      const shaNames = bullmqScriptNames();
      const only = prefix ?? '';
      const filtered = only.length > 0;
      const rename = (name: string): string => {
        const out = filtered ? name.split(only).join('<p>') : name;
        // All lanes alike: BullMQ names a Worker's blocking connection `<prefix>:<base64 of the queue name>`.
        return out.replace(/:bull:[A-Za-z0-9+/]+=*$/, ':bull:<lane>');
      };
      const counts: MonitorCounts = { windowMs, topLevel: {}, topLevelTotal: 0, byClient: {}, scripts: {}, inScripts: {}, inScriptsTotal: 0 };
      const inc = (map: Record<string, number>, key: string): void => {
        map[key] = (map[key] ?? 0) + 1;
      };
      let script: ScriptCount | null = null;
      let firstCall: string[] | null = null;
      for (const event of seen) {
        if (event.source === 'lua') {
          if (!script) continue;
          inc(counts.inScripts, event.command);
          inc(script.inner, event.command);
          if (firstCall && firstCall.length < 12) firstCall.push(event.command);
          continue;
        }
        const name = names.get(event.source) ?? '(closed connection)';
        if (ownAddr.has(event.source) || (filtered && !name.includes(only))) {
          script = null;
          firstCall = null;
          continue;
        }
        inc(counts.topLevel, event.command);
        const client = rename(name);
        counts.byClient[client] ??= {};
        inc(counts.byClient[client], event.command);
        if (event.command === 'evalsha' || event.command === 'eval') {
          const label = event.command === 'evalsha' ? (shaNames.get(event.arg1) ?? `evalsha:${event.arg1.slice(0, 8)}`) : evalLabel(event.arg1);
          script = counts.scripts[label] ??= { calls: 0, inner: {}, firstCall: [] };
          script.calls += 1;
          firstCall = script.calls === 1 ? script.firstCall : null;
        } else {
          script = null;
          firstCall = null;
        }
      }
      counts.topLevelTotal = sumOf(counts.topLevel);
      counts.inScriptsTotal = sumOf(counts.inScripts);
      return counts;
    },
  };
}

/**
 * MONITOR on a plain socket. ioredis' `monitor()` switches to monitor mode only after the reply to
 * MONITOR was handled, so a busy Redis whose first monitored line arrives in the same chunk made
 * it throw "Command queue state error". Lines look like `+<time> [<db> <addr>|lua] "CMD" "arg"…`.
 */
async function rawMonitor(url: string, onEvent: (event: MonitorEvent) => void): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let buffered = '';
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let end = buffered.indexOf('\r\n');
    while (end >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\r\n');
      const head = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line);
      if (!head) continue;
      const args = [...line.slice(head[0].length).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
      onEvent({ command: (args[0] ?? '?').toLowerCase(), arg1: (args[1] ?? '').slice(0, 400), source: head[1] === 'lua' ? 'lua' : (head[1] ?? '?') });
    }
  });
  socket.write('CLIENT SETNAME bench:observer\r\nMONITOR\r\n');
  return socket;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findProcesses, killProcessGroup } from '../../../src/engines/webjs/process-tree.js';
import { freePort } from '../../helpers/free-port.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { TEST_API_KEY } from '../../helpers/test-app.js';
import { GatewayClient } from './client.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const COUNT_SENDS = pathToFileURL(join(ROOT, 'tests/chaos/helpers/count-sends.ts')).href;

/** Which program a gateway process runs. */
export const ENTRY = {
  /** The real entry point, with its own SIGTERM handling and the default queue settings (30 s locks). */
  server: 'src/server.ts',
  /** The real app with 1 s BullMQ locks, so that a restart recovers a SIGKILLed process's jobs at once. */
  shortLocks: 'tests/chaos/helpers/short-lock-gateway.ts',
} as const;
export type Entry = (typeof ENTRY)[keyof typeof ENTRY];

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process had exited. */
  at: number;
}

/** A gateway child process on 127.0.0.1. */
export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly client: GatewayClient;
  readonly exited: Promise<Exit>;
  /** The last 16 KB of its stdout + stderr, for failure messages. */
  output(): string;
  alive(): boolean;
}

const OUTPUT_KEEP = 16_384;
const START_TIMEOUT_MS = 45_000;

/**
 * Everything one chaos scenario starts — a temp dir, redis-server, gateway processes, loopback
 * servers — and `cleanup()`, which ends all of it (by pid / process group, never by name) and
 * removes the temp dir, also after a failure.
 */
export class ChaosRig {
  readonly sendsFile: string;
  readonly sessionsPath: string;
  private readonly gateways: GatewayProcess[] = [];
  private readonly redisServers: RedisServer[] = [];
  private readonly servers: Server[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(readonly dir: string) {
    this.sendsFile = join(dir, 'sends.log');
    this.sessionsPath = join(dir, 'sessions');
  }

  static async create(name: string): Promise<ChaosRig> {
    const rig = new ChaosRig(await mkdtemp(join(tmpdir(), `wagw-chaos-${name}-`)));
    await writeFile(rig.sendsFile, '');
    return rig;
  }

  /** A real redis-server on 127.0.0.1 with `appendonly yes`, its data in the rig's dir (so a restart on the same port finds it). */
  async startRedis(port?: number): Promise<RedisServer> {
    const dir = join(this.dir, 'redis');
    await mkdir(dir, { recursive: true });
    const server = await startRedisServer({ dir, appendOnly: true, ...(port === undefined ? {} : { port }) });
    this.redisServers.push(server);
    return server;
  }

  /** The env every gateway of the suite gets (on top of PATH and HOME only: nothing leaks in from the runner). */
  baseEnv(redisUrl: string, prefix: string): Record<string, string> {
    return {
      API_KEY: TEST_API_KEY,
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      SESSIONS_PATH: this.sessionsPath,
      SENDS_FILE: this.sendsFile,
      LOG_LEVEL: 'warn',
      DEFAULT_ENGINE: 'simulator',
      SEND_MIN_INTERVAL_MS: '0',
      SEND_JITTER_MS: '0',
      RATE_LIMIT_MAX: '1000000',
      // The machine is shared and has 2 cores: a busy event loop must not turn sends into 503 OVERLOADED.
      UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: '0',
    };
  }

  /** Spawns a gateway (`node --import tsx --import count-sends.ts <entry>`) and resolves once `/health/ready` answers 200. */
  async startGateway(entry: Entry, env: Record<string, string>): Promise<GatewayProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', COUNT_SENDS, entry], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEEP);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise<Exit>((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal, at: Date.now() })));
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not spawn ${entry}`);
    const gateway: GatewayProcess = {
      child,
      pid,
      client: new GatewayClient(`http://127.0.0.1:${port}`),
      exited,
      output: () => output,
      alive: () => child.exitCode === null && child.signalCode === null,
    };
    this.gateways.push(gateway);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!gateway.alive()) throw new Error(`gateway exited during start (${String(child.exitCode ?? child.signalCode)}): ${output}`);
      const probe = await gateway.client.probe('/health/ready');
      if (probe.status === 200) return gateway;
      if (Date.now() > deadline) throw new Error(`gateway not ready within ${START_TIMEOUT_MS} ms: ${output}`);
      await pause(50);
    }
  }

  /** A TCP server on 127.0.0.1 that accepts connections and never answers (a proxy that hangs Chromium's page load). */
  async blackhole(): Promise<number> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    this.servers.push(server);
    this.cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Chromium processes whose command line names this rig's dir (profiles live under SESSIONS_PATH), with their process groups. */
  async chromiumProcesses(): Promise<number[]> {
    return (await findProcesses(this.dir)).map((p) => p.pid);
  }

  async cleanup(): Promise<void> {
    for (const gateway of this.gateways) {
      if (gateway.alive()) {
        gateway.child.kill('SIGKILL');
        await gateway.exited;
      }
    }
    // Chromium runs detached (its own process group): end the groups still naming our dir.
    for (const p of await findProcesses(this.dir)) killProcessGroup(p.pgid);
    for (const fn of this.cleanups) await fn().catch(() => undefined);
    for (const server of this.servers) await new Promise<void>((done) => server.close(() => done()));
    for (const redis of this.redisServers) await redis.stop();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

export const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Polls `probe` every `everyMs` until it returns a value (not undefined); throws `what` after `timeoutMs`. */
export async function until<V>(probe: () => Promise<V | undefined>, timeoutMs: number, what: string, everyMs = 50): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(everyMs);
  }
}

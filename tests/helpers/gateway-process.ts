import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { AwaitableLog } from './awaitable-log.js';
import { freePort } from './free-port.js';
import { eventually } from './messaging.js';
import type { LogLine } from './log-capture.js';
import { TEST_API_KEY } from './test-app.js';

/** The JSON log lines a child gateway wrote on stdout, awaitable. */
export class ChildLog extends AwaitableLog<LogLine> {
  private partial = '';

  constructor(stream: NodeJS.ReadableStream) {
    super();
    stream.on('data', (chunk: Buffer) => {
      const text = this.partial + chunk.toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.record(JSON.parse(line) as LogLine);
        } catch {
          // not a log line
        }
      }
    });
  }

  protected summary(): string {
    return this.events.map((l) => l.msg).join(' | ');
  }

  /** The first line matching `match` (a message part, or a predicate), waiting for it. */
  async line(match: string | ((line: LogLine) => boolean), timeoutMs = 10_000): Promise<LogLine> {
    const test = typeof match === 'string' ? (l: LogLine) => l.msg.includes(match) : match;
    return this.until(() => this.events.find(test), timeoutMs, typeof match === 'string' ? `a log line with "${match}"` : 'a matching log line');
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when it exited. */
  at: number;
}

export interface GatewayProcess {
  child: ChildProcess;
  base: string;
  log: ChildLog;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  stderr(): string;
  /** Sends `signal`; Date.now() just before. */
  signal(signal: NodeJS.Signals): number;
}

/**
 * Spawns the real gateway (`node --import tsx src/server.ts`) on a free port with `env` (API_KEY is
 * the tests' key, logs at info as JSON on stdout) and resolves once it listens. REDIS_URL is only
 * what `env` says: the parent's environment never picks the mode.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const inherited = { ...process.env };
  delete inherited.REDIS_URL;
  delete inherited.REDIS_PREFIX;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...inherited, API_KEY: TEST_API_KEY, LOG_LEVEL: 'info', HOST: '127.0.0.1', UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: '0', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const log = new ChildLog(child.stdout);
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const listening = log.line('Server listening at', 60_000);
  const early = exited.then((exit) => Promise.reject(new Error(`gateway exited (${exit.code ?? exit.signal}) before listening: ${stderr}`)));
  await Promise.race([listening, early]);
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    log,
    exited,
    stderr: () => stderr,
    signal: (signal) => {
      const at = Date.now();
      child.kill(signal);
      return at;
    },
  };
}

export const API_HEADERS = { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' } as const;

/** One API call over real HTTP; the status and the parsed body (`{}` when empty). */
export async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}${path}`, { method, headers: API_HEADERS, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>, headers: res.headers };
}

/** Creates a simulator session and scans it, over HTTP. */
export async function readySession(base: string, id: string): Promise<void> {
  expect((await call(base, 'POST', '/api/v1/sessions', { id, engine: 'simulator' })).status).toBe(201);
  await eventually(async () => ((await call(base, 'GET', `/api/v1/sessions/${id}`)).body.status === 'qr' ? true : null));
  const scanned = await call(base, 'POST', `/api/v1/sessions/${id}/simulator/scan`, {});
  expect(scanned.status).toBe(200);
  expect(scanned.body).toMatchObject({ status: 'ready' });
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/messaging.js';
import { TEST_API_KEY } from '../helpers/test-app.js';

const SESSIONS = ['k1', 'k2', 'k3'];
const PER_SESSION = 60;
const headers = { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' };

/** One gateway process (tests/helpers/crash-gateway.ts) on the shared Redis prefix and sessions dir. */
async function startGateway(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/helpers/crash-gateway.ts'], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, json: await res.json() };
}

async function allMessages(base: string, sessionId: string): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = (await call(base, 'GET', `/api/v1/sessions/${sessionId}/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`)).json as { data: MessageRecord[]; nextCursor: string | null };
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

describe('a gateway process killed with SIGKILL mid-batch (Redis)', () => {
  const children: ChildProcess[] = [];
  let dir = '';
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ends every accepted send sent exactly once or failed, none twice', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wagw-crash-'));
    const sendsFile = join(dir, 'sends.log');
    await writeFile(sendsFile, '');
    const env = {
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: `crash${randomBytes(4).toString('hex')}`,
      SESSIONS_PATH: join(dir, 'sessions'),
      API_KEY: TEST_API_KEY,
      LOG_LEVEL: 'silent',
      DEFAULT_ENGINE: 'simulator',
      SEND_MIN_INTERVAL_MS: '0',
      SEND_JITTER_MS: '0',
      SIMULATOR_ACK_DELAYS_MS: '5,10,15',
      SENDS_FILE: sendsFile,
      SIM_SEND_LATENCY_MS: '15',
      RATE_LIMIT_MAX: '100000',
    };
    const first = await startGateway(env);
    children.push(first.child);
    for (const id of SESSIONS) {
      expect((await call(first.base, 'POST', '/api/v1/sessions', { id })).status).toBe(201);
      await eventually(async () => (((await call(first.base, 'GET', `/api/v1/sessions/${id}`)).json as { status: string }).status === 'qr' ? true : null));
      expect((await call(first.base, 'POST', `/api/v1/sessions/${id}/simulator/scan`, {})).status).toBe(200);
    }
    const accepted: string[] = [];
    await Promise.all(
      SESSIONS.map(async (id) => {
        for (let i = 0; i < PER_SESSION; i++) {
          const res = await call(first.base, 'POST', `/api/v1/sessions/${id}/messages`, { to: '5511999991234', type: 'text', text: `${id}-${i}` });
          expect(res.status).toBe(202);
          accepted.push((res.json as { id: string }).id);
        }
      }),
    );
    // Kill it once some, not all, have left.
    await eventually(async () => ((await readFile(sendsFile, 'utf8')).split('\n').length > 30 ? true : null), 20_000);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const sentBeforeKill = (await readFile(sendsFile, 'utf8')).trim().split('\n').length;
    expect(sentBeforeKill).toBeLessThan(SESSIONS.length * PER_SESSION);

    const second = await startGateway({ ...env, SIM_SEND_LATENCY_MS: '0' });
    children.push(second.child);
    let last: MessageRecord[] = [];
    const records = await eventually(async () => {
      last = (await Promise.all(SESSIONS.map((id) => allMessages(second.base, id)))).flat();
      return last.length === accepted.length && last.every((r) => r.status !== 'queued') ? last : null;
    }, 30_000).catch(async (error: unknown) => {
      const sessions = await Promise.all(SESSIONS.map((id) => call(second.base, 'GET', `/api/v1/sessions/${id}`)));
      const queued = last.filter((r) => r.status === 'queued');
      throw new Error(`${String(error)}; ${last.length} records, ${queued.length} queued (first: ${JSON.stringify(queued[0])}); sessions ${JSON.stringify(sessions.map((x) => x.json))}`);
    });

    const lines = (await readFile(sendsFile, 'utf8')).trim().split('\n');
    const sendsOf = new Map<string, number>();
    for (const line of lines) {
      const text = line.split(' ')[1] ?? '';
      sendsOf.set(text, (sendsOf.get(text) ?? 0) + 1);
    }
    const duplicated = [...sendsOf.entries()].filter(([, n]) => n > 1);
    expect(duplicated).toEqual([]);
    const byStatus: Record<string, number> = {};
    for (const record of records) {
      byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;
      const sent = sendsOf.get(String(record.content.text)) ?? 0;
      if (record.status === 'failed') {
        expect(record.error?.code, JSON.stringify(record)).toBe('SEND_INTERRUPTED');
        expect(sent).toBeLessThanOrEqual(1);
      } else {
        expect(['sent', 'delivered', 'read']).toContain(record.status);
        expect(sent, record.id).toBe(1);
      }
    }
    expect(new Set(records.map((r) => r.id))).toEqual(new Set(accepted));
    process.stdout.write(`crash test: accepted ${accepted.length}, engine sends ${lines.length} (${sentBeforeKill} before the kill), statuses ${JSON.stringify(byStatus)}, duplicated 0\n`);
  }, 120_000);
});

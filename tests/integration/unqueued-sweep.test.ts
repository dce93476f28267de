import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/messages/message.js';
import { accepted, getMessage } from '../helpers/messaging.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('sends stored without a job (a request cut between the two writes)', () => {
  const apps: TestApp[] = [];
  let dir = '';
  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('are failed at the next start, while queued sends with a job stay queued and go on', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wagw-sweep-'));
    const options = { mode: 'redis' as const, sessionsPath: dir, redisPrefix: `sw${randomBytes(4).toString('hex')}` };
    const first = await startTestApp(options);
    apps.push(first);
    // A session waiting for its QR scan: its sends wait, queued, with their jobs.
    expect((await first.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'sales', engine: 'simulator' } })).statusCode).toBe(201);
    const waiting = await accepted(first, 'sales', { to: '5511999991234', type: 'text', text: 'with a job' });
    // What a request killed after storing its record and before queueing its job leaves behind.
    const orphan = newRecord({ sessionId: 'sales', chatId: '5511999991234@c.us', direction: 'outbound', type: 'text', status: 'queued', content: { text: 'no job' } });
    await first.app.gateway.storage.messages.insert(orphan, JSON.stringify({ to: '5511999991234', type: 'text', text: 'no job' }));
    await first.close();
    apps.pop();

    const second = await startTestApp(options);
    apps.push(second);
    expect(await getMessage(second, 'sales', orphan.id)).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'ENGINE_ERROR' } });
    expect(await getMessage(second, 'sales', waiting.id)).toMatchObject({ status: 'queued', error: null });
    expect(await second.app.gateway.queue.holds({ sessionId: 'sales', messageId: waiting.id })).toBe(true);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { GatewayEventLog } from '../helpers/gateway-event-log.js';
import { MessageStatusLog, accepted, readySession, simulatorOf } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

interface LogPage {
  data: EventEnvelope[];
  nextAfterSeq: number;
  lastSeq: number;
  hasMore: boolean;
}

async function page(t: TestApp, sessionId: string, query = ''): Promise<LogPage> {
  const res = await t.app.inject({ url: `/api/v1/sessions/${sessionId}/events${query}`, headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<LogPage>();
}

describe.each(STORAGE_MODES)('event log route (%s)', (mode) => {
  let t: TestApp | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('lists every contract event of the session in publish order with seq 1, 2, 3…, in pages', async () => {
    t = await startTestApp({ mode });
    const app = t;
    const bus = new GatewayEventLog(app.app.gateway.bus);
    const statuses = new MessageStatusLog(app.app.gateway.bus);
    await readySession(app, 'sales');
    await readySession(app, 'support', '5511988886666');
    const record = await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: 'Olá!' });
    await statuses.status(record.id, 'read');
    simulatorOf(app, 'sales').receive({ from: '5511977776666@c.us', type: 'text', text: 'oi' });
    await bus.nth('sales', 'message', 1);
    await app.app.gateway.pipeline.idle();
    await app.app.gateway.events.idle();

    const published = bus.of('sales');
    const all = await page(app, 'sales', '?limit=1000');
    expect(all.data.map((e) => e.seq)).toEqual(published.map((_, i) => i + 1));
    expect(all.data.map((e) => e.event)).toEqual(published.map((e) => e.event));
    expect(all.data.map((e) => e.data)).toEqual(published.map((e) => JSON.parse(JSON.stringify(e.data)) as unknown));
    expect(all.data.map((e) => e.occurredAt)).toEqual(published.map((e) => e.occurredAt.toISOString()));
    expect(all).toMatchObject({ nextAfterSeq: published.length, lastSeq: published.length, hasMore: false });
    expect(all.data.every((e) => e.sessionId === 'sales' && /^evt_[0-9a-f]{24}$/.test(e.id))).toBe(true);
    expect(new Set(all.data.map((e) => e.id)).size).toBe(all.data.length);
    expect(all.data.map((e) => e.event)).toEqual(expect.arrayContaining(['session.status', 'qr_code', 'message.status', 'message_create', 'message_ack', 'message']));
    expect((await page(app, 'support')).data.map((e) => e.seq)).toEqual(bus.of('support').map((_, i) => i + 1));

    // Default page, then pages of 3 following nextAfterSeq.
    expect((await page(app, 'sales')).data).toEqual(all.data.slice(0, 100));
    const paged: EventEnvelope[] = [];
    let after = 0;
    for (;;) {
      const next = await page(app, 'sales', `?afterSeq=${after}&limit=3`);
      paged.push(...next.data);
      expect(next.lastSeq).toBe(published.length);
      if (!next.hasMore) break;
      expect(next.data).toHaveLength(3);
      after = next.nextAfterSeq;
    }
    expect(paged).toEqual(all.data);
    expect(await page(app, 'sales', `?afterSeq=${published.length}`)).toEqual({ data: [], nextAfterSeq: published.length, lastSeq: published.length, hasMore: false });
    expect(await page(app, 'sales', '?afterSeq=100000')).toEqual({ data: [], nextAfterSeq: 100000, lastSeq: published.length, hasMore: false });
  });

  it('answers 404 for an unknown session and 400 for bad query values', async () => {
    t = await startTestApp({ mode });
    const app = t;
    await readySession(app, 'sales');
    const unknown = await app.app.inject({ url: '/api/v1/sessions/nobody/events', headers: AUTH });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    for (const bad of ['?limit=0', '?limit=1001', '?limit=abc', '?afterSeq=-1', '?afterSeq=1.5', '?extra=1']) {
      const res = await app.app.inject({ url: `/api/v1/sessions/sales/events${bad}`, headers: AUTH });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json(), bad).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
    expect((await app.app.inject({ url: '/api/v1/sessions/sales/events' })).statusCode).toBe(401);
  });

  if (mode === 'redis') {
    it('continues seq after a restart on the same Redis prefix, keeping the earlier events', async () => {
      const redisPrefix = `t${randomBytes(6).toString('hex')}`;
      const sessionsPath = await mkdtemp(join(tmpdir(), 'wagw-events-'));
      cleanups.push(() => rm(sessionsPath, { recursive: true, force: true }));
      const first = await startTestApp({ mode, redisPrefix, sessionsPath });
      t = first;
      const firstBus = new GatewayEventLog(first.app.gateway.bus);
      await readySession(first, 'sales');
      await first.app.gateway.events.idle();
      const before = await page(first, 'sales', '?limit=1000');
      expect(before.lastSeq).toBeGreaterThan(3);
      await first.close();
      t = undefined;
      // Everything the first instance published is in the log (what came after the read above too).
      const beforeRestart = firstBus.of('sales').map((e) => e.event);

      const second = await startTestApp({ mode, redisPrefix, sessionsPath });
      t = second;
      // The restored session connects again (its link was kept): new events continue the sequence.
      await second.app.gateway.sessions.waitForStatus('sales', ['ready'], 5_000);
      await second.app.gateway.events.idle();
      const after = await page(second, 'sales', '?limit=1000');
      expect(after.data.slice(0, before.data.length)).toEqual(before.data);
      expect(after.data.map((e) => e.seq)).toEqual(after.data.map((_, i) => i + 1));
      expect(after.data.slice(0, beforeRestart.length).map((e) => e.event)).toEqual(beforeRestart);
      const restarted = after.data.slice(beforeRestart.length);
      expect(restarted.map((e) => [e.event, e.data.detail])).toContainEqual(['session.status', 'ready']);
      expect(after.lastSeq).toBe(after.data.length);
    });
  }
});

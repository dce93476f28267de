import { afterEach, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { MessageStatusLog, accepted, readySession, simulatorOf } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

interface Page {
  data: MessageRecord[];
  nextCursor: string | null;
}

describe.each(STORAGE_MODES)('message history and stats (%s)', (mode) => {
  let t: TestApp | undefined;
  let log: MessageStatusLog | undefined;
  afterEach(async () => {
    log?.close();
    await t?.close();
    t = undefined;
  });
  const history = async (app: TestApp, query: string): Promise<Page> => {
    const res = await app.app.inject({ url: `/api/v1/sessions/sales/messages${query}`, headers: AUTH });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Page>();
  };

  it('stores inbound messages as received with their receive latency, and lists both directions with filters and cursors', async () => {
    t = await startTestApp({ mode });
    const app = t;
    log = new MessageStatusLog(app.app.gateway.bus);
    await readySession(app, 'sales');
    const engine = simulatorOf(app, 'sales');
    const out = [];
    for (let i = 0; i < 3; i++) out.push(await accepted(app, 'sales', { to: '5511999991234', type: 'text', text: `out ${i}` }));
    await log.allReach(out.map((r) => r.id), ['read']);
    const failed = await accepted(app, 'sales', { to: '5511999990000', type: 'text', text: 'nobody' });
    await log.status(failed.id, 'failed');
    const waIds = [engine.receive({ from: '5511977776666@c.us', type: 'text', text: 'oi' }), engine.receive({ from: '5511977776666@c.us', type: 'location', location: { latitude: 1, longitude: 2 } })];
    await log.nth('sales', 'message', 2);
    await app.app.gateway.pipeline.idle();

    const inbound = await history(app, '?direction=inbound');
    // Newest first by createdAt, then id (two messages of the same millisecond tie on createdAt).
    expect(new Set(inbound.data.map((r) => r.waMessageId))).toEqual(new Set(waIds));
    const newestFirst = [...inbound.data].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
    expect(inbound.data.map((r) => r.id)).toEqual(newestFirst.map((r) => r.id));
    const oi = inbound.data.find((r) => r.waMessageId === waIds[0]);
    expect(oi).toMatchObject({ direction: 'inbound', status: 'received', chatId: '5511977776666@c.us', type: 'chat', content: { body: 'oi', from: '5511977776666@c.us' } });
    expect(oi?.latency.receivedMs).toBeGreaterThanOrEqual(0);

    const all: MessageRecord[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Page = await history(app, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      all.push(...page.data);
      cursor = page.nextCursor;
    }
    expect(all).toHaveLength(6);
    expect(new Set(all.map((r) => r.id)).size).toBe(6);
    expect((await history(app, '?status=read')).data.map((r) => r.id).sort()).toEqual(out.map((r) => r.id).sort());
    expect((await history(app, '?status=failed')).data.map((r) => r.id)).toEqual([failed.id]);
    expect((await history(app, '?chatId=5511977776666@c.us')).data).toHaveLength(2);
    expect((await history(app, '?type=location')).data.map((r) => r.waMessageId)).toEqual([waIds[1]]);
    expect((await history(app, `?until=${encodeURIComponent(out[0]?.createdAt ?? '')}`)).data).toEqual([]);
    expect((await history(app, `?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).data).toEqual([]);
    expect((await history(app, '?latencyOverMs=3600000')).data).toEqual([]);

    for (const bad of ['?limit=0', '?limit=201', '?direction=sideways', '?status=lost', '?since=yesterday', '?cursor=bm9wZQ', '?latencyOverMs=-1', '?extra=1']) {
      const res = await app.app.inject({ url: `/api/v1/sessions/sales/messages${bad}`, headers: AUTH });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
    expect((await app.app.inject({ url: '/api/v1/sessions/nobody/messages', headers: AUTH })).statusCode).toBe(404);

    const stats = await app.app.inject({ url: '/api/v1/sessions/sales/messages/stats', headers: AUTH });
    expect(stats.statusCode).toBe(200);
    expect(stats.json()).toMatchObject({
      total: 6,
      byStatus: { read: 3, failed: 1, received: 2, queued: 0 },
      byDirection: { outbound: 4, inbound: 2 },
      latency: { toSentMs: { count: 3 }, toReadMs: { count: 3 }, receivedMs: { count: 2 } },
      under5s: { count: 3, of: 3, share: 1 },
    });
    const none = await app.app.inject({ url: `/api/v1/sessions/sales/messages/stats?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, headers: AUTH });
    expect(none.json()).toMatchObject({ total: 0, under5s: { share: null } });
    expect((await app.app.inject({ url: '/api/v1/sessions/sales/messages/stats?since=soon', headers: AUTH })).statusCode).toBe(400);
  });
});

import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BuildOptions } from '../../src/app.js';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { LogCapture } from '../helpers/log-capture.js';
import { readySession, simulatorOf } from '../helpers/messaging.js';
import { openSse, type SseStream } from '../helpers/sse-client.js';
import { AUTH, STORAGE_MODES, TEST_API_KEY, startTestApp, type StorageMode, type TestApp } from '../helpers/test-app.js';

const CONTACT = '5511977776666@c.us';

interface Running {
  t: TestApp;
  base: string;
}

async function logOf(t: TestApp, sessionId: string): Promise<EventEnvelope[]> {
  await t.app.gateway.pipeline.idle();
  await t.app.gateway.events.idle();
  const res = await t.app.inject({ url: `/api/v1/sessions/${sessionId}/events?limit=1000`, headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ data: EventEnvelope[] }>().data;
}

describe.each(STORAGE_MODES)('event stream, SSE (%s)', (mode: StorageMode) => {
  let running: Running | undefined;
  const streams: SseStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await running?.t.close();
    running = undefined;
  });

  async function start(build: BuildOptions = {}): Promise<Running> {
    const t = await startTestApp({ mode }, build);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    running = { t, base: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}` };
    return running;
  }

  async function stream(base: string, path: string, headers: Record<string, string> = { 'x-api-key': TEST_API_KEY }): Promise<SseStream> {
    const opened = await openSse(`${base}${path}`, headers);
    expect(opened.status, opened.body).toBe(200);
    if (!opened.stream) throw new Error('no stream');
    streams.push(opened.stream);
    await opened.stream.comment('connected');
    return opened.stream;
  }

  it('streams every envelope as recorded, with event names and ids <sessionId>:<seq>', async () => {
    const { t, base } = await start();
    const all = await stream(base, '/api/v1/events');
    expect(all.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(all.res.headers['cache-control']).toBe('no-cache, no-transform');
    expect(all.res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await readySession(t, 'sales');
    await readySession(t, 'support', '5511988886666');
    simulatorOf(t, 'sales').receive({ from: CONTACT, type: 'text', text: 'oi' });
    const logged = [...(await logOf(t, 'sales')), ...(await logOf(t, 'support'))];
    const received = await all.count(logged.length);
    expect(received).toHaveLength(logged.length);
    for (const { id, event, envelope } of received) {
      expect(id).toBe(`${envelope.sessionId}:${envelope.seq}`);
      expect(event).toBe(envelope.event);
    }
    const bySession = (sessionId: string): EventEnvelope[] => received.filter((r) => r.envelope.sessionId === sessionId).map((r) => r.envelope);
    expect(bySession('sales')).toEqual(logged.filter((e) => e.sessionId === 'sales'));
    expect(bySession('support')).toEqual(logged.filter((e) => e.sessionId === 'support'));
  });

  it('filters by session and by event names', async () => {
    const { t, base } = await start();
    await readySession(t, 'sales');
    await readySession(t, 'support', '5511988886666');
    const filtered = await stream(base, '/api/v1/events?sessionId=sales&events=message,message_create');
    const statuses = await stream(base, '/api/v1/events?events=session.status,*');
    simulatorOf(t, 'support').receive({ from: CONTACT, type: 'text', text: 'not for this stream' });
    simulatorOf(t, 'sales').receive({ from: CONTACT, type: 'text', text: 'for this stream' });
    const received = await filtered.count(2);
    expect(received.map((r) => [r.envelope.sessionId, r.event, r.envelope.data.body])).toEqual([
      ['sales', 'message_create', 'for this stream'],
      ['sales', 'message', 'for this stream'],
    ]);
    // "*" among the names: everything, both sessions.
    const everything = await statuses.count(4);
    expect(new Set(everything.map((r) => r.envelope.sessionId))).toEqual(new Set(['sales', 'support']));
    // The seq is the session's: a filtered stream sees gaps.
    const log = await logOf(t, 'sales');
    expect(received.map((r) => r.envelope.seq)).toEqual(log.filter((e) => e.event.startsWith('message')).map((e) => e.seq));
  });

  it('resumes from Last-Event-ID out of the log, then goes live with no gap and no repeat', async () => {
    const { t, base } = await start();
    await readySession(t, 'sales');
    const sales = simulatorOf(t, 'sales');
    for (let i = 0; i < 5; i++) sales.receive({ from: CONTACT, type: 'text', text: `before ${i}` });
    const before = await logOf(t, 'sales');
    expect(before.length).toBeGreaterThan(10);

    // Events keep coming while the stream replays: each must arrive exactly once.
    let live = 0;
    const burst = new Promise<void>((resolve) => {
      const tick = (): void => {
        sales.receive({ from: CONTACT, type: 'text', text: `during ${live}` });
        live += 1;
        if (live < 100) setImmediate(tick);
        else resolve();
      };
      tick();
    });
    const resumed = await stream(base, '/api/v1/events?sessionId=sales', { ...AUTH, 'last-event-id': 'sales:3' });
    await burst;
    const log = await logOf(t, 'sales');
    const received = await resumed.count(log.length - 3);
    expect(received.map((r) => r.envelope)).toEqual(log.slice(3));

    // A bare seq on a stream of one session, with an event filter: the replay is filtered too.
    const messages = await stream(base, '/api/v1/events?sessionId=sales&events=message', { ...AUTH, 'last-event-id': String(before.length) });
    sales.receive({ from: CONTACT, type: 'text', text: 'after' });
    const expected = (await logOf(t, 'sales')).filter((e) => e.seq > before.length && e.event === 'message');
    expect((await messages.count(expected.length)).map((r) => r.envelope)).toEqual(expected);
    expect(expected[expected.length - 1]?.data.body).toBe('after');

    // A seq beyond the session's last one means the sequence started again (embedded restart): everything kept is replayed.
    const restarted = await stream(base, '/api/v1/events?sessionId=sales', { ...AUTH, 'last-event-id': 'sales:99999' });
    const full = await logOf(t, 'sales');
    expect((await restarted.count(full.length)).map((r) => r.envelope)).toEqual(full);
  });

  it('resumes each session listed in Last-Event-ID on a stream of every session; the others are live only', async () => {
    const { t, base } = await start();
    await readySession(t, 'sales');
    await readySession(t, 'support', '5511988886666');
    await readySession(t, 'other', '5511988885555');
    const [sales, support] = [await logOf(t, 'sales'), await logOf(t, 'support')];
    const resumed = await stream(base, '/api/v1/events', { ...AUTH, 'last-event-id': 'sales:2, support:4' });
    const replayed = await resumed.count(sales.length - 2 + support.length - 4);
    expect(replayed.map((r) => r.envelope)).toEqual([...sales.slice(2), ...support.slice(4)]);
    simulatorOf(t, 'other').receive({ from: CONTACT, type: 'text', text: 'live' });
    const next = await resumed.count(replayed.length + 2);
    expect(next.slice(replayed.length).map((r) => [r.envelope.sessionId, r.event])).toEqual([
      ['other', 'message_create'],
      ['other', 'message'],
    ]);
  });

  it('sends a heartbeat comment at the configured interval', async () => {
    const { base } = await start({ eventStream: { heartbeatMs: 30 } });
    const quiet = await stream(base, '/api/v1/events');
    await quiet.comment('heartbeat');
  });

  it('answers errors in the contract shape before streaming: auth, unknown session, bad filters and Last-Event-ID', async () => {
    const { t, base } = await start();
    await readySession(t, 'sales');
    const cases: [string, Record<string, string>, number, string][] = [
      ['/api/v1/events', {}, 401, 'UNAUTHORIZED'],
      ['/api/v1/events', { 'x-api-key': 'wrong' }, 401, 'UNAUTHORIZED'],
      ['/api/v1/events?sessionId=nobody', AUTH, 404, 'SESSION_NOT_FOUND'],
      ['/api/v1/events?sessionId=not%20valid', AUTH, 400, 'VALIDATION_ERROR'],
      ['/api/v1/events?events=bogus', AUTH, 400, 'VALIDATION_ERROR'],
      ['/api/v1/events?events=,', AUTH, 400, 'VALIDATION_ERROR'],
      ['/api/v1/events?extra=1', AUTH, 400, 'VALIDATION_ERROR'],
      ['/api/v1/events', { ...AUTH, 'last-event-id': 'sales:abc' }, 400, 'VALIDATION_ERROR'],
      ['/api/v1/events', { ...AUTH, 'last-event-id': '42' }, 400, 'VALIDATION_ERROR'],
      ['/api/v1/events', { ...AUTH, 'last-event-id': Array.from({ length: 101 }, (_, i) => `s${i}:1`).join(',') }, 400, 'VALIDATION_ERROR'],
    ];
    for (const [path, headers, status, code] of cases) {
      const res = await openSse(`${base}${path}`, headers);
      expect(res.status, `${path} ${JSON.stringify(headers).slice(0, 80)}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.body ?? '{}'), path).toMatchObject({ statusCode: status, code });
    }
    // Every accepted way to pass the key opens the stream.
    for (const headers of [{ 'x-api-key': TEST_API_KEY }, { 'x-28web-gateway-key': TEST_API_KEY }, { authorization: `Bearer ${TEST_API_KEY}` }]) {
      await stream(base, '/api/v1/events?sessionId=sales', headers);
    }
  });

  if (mode === 'memory') {
    it('drops a client that does not read once its socket buffer passes the limit; the others go on', async () => {
      const logs = new LogCapture('warn');
      const limit = 256 * 1024;
      const { t, base } = await start({ logger: logs.logger, eventStream: { maxBufferedBytes: limit } });
      const slow = await stream(base, '/api/v1/events');
      const reader = await stream(base, '/api/v1/events');
      slow.pause();
      const body = 'x'.repeat(32 * 1024);
      // 12.8 MB, one event per turn of the event loop (the reader keeps up): enough to fill the
      // kernel's socket buffers of the slow client, then its writable buffer past the limit.
      const count = 400;
      for (let i = 0; i < count; i++) {
        t.app.gateway.bus.publish({ sessionId: 'bulk', event: 'message', data: { i, body }, occurredAt: new Date() });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await t.app.gateway.events.idle();
      expect((await logs.line('event stream client dropped')).msg).toContain(`more than ${limit} bytes`);
      expect(logs.lines('event stream client dropped')).toHaveLength(1);
      slow.resume();
      await slow.closed();
      expect(slow.envelopes().length).toBeLessThan(count);
      expect((await reader.count(count, 10_000)).map((r) => r.envelope.data.i)).toEqual(Array.from({ length: count }, (_, i) => i));
    });

    it('refuses streams beyond maxClients with 503 OVERLOADED, and new streams while shutting down', async () => {
      const { t, base } = await start({ eventStream: { maxClients: 1 } });
      const first = await stream(base, '/api/v1/events');
      const refused = await openSse(`${base}/api/v1/events`, AUTH);
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body ?? '{}')).toMatchObject({ code: 'OVERLOADED' });
      first.close();
      await first.closed();
      t.app.gateway.shuttingDown = true;
      const closing = await openSse(`${base}/api/v1/events`, AUTH);
      expect(closing.status).toBe(503);
      expect(JSON.parse(closing.body ?? '{}')).toMatchObject({ code: 'SHUTTING_DOWN' });
    });
  }

  it('ends every stream when the app closes, and closing does not wait for the clients', async () => {
    const { t, base } = await start();
    await readySession(t, 'sales');
    const one = await stream(base, '/api/v1/events');
    const two = await stream(base, '/api/v1/events?sessionId=sales');
    const started = Date.now();
    await t.close();
    running = undefined;
    expect(Date.now() - started).toBeLessThan(5_000);
    await one.closed();
    await two.closed();
  });
});

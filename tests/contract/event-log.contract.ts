import { describe, expect, it } from 'vitest';
import type { GatewayEvent } from '../../src/events/event-bus.js';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import type { EventLog, EventRangeQuery } from '../../src/storage/event-log.js';
import { InvalidEventCursorError } from '../../src/storage/event-log.js';

/** An hour ago, on a whole second. */
export const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

export function gatewayEvent(overrides: Partial<GatewayEvent> = {}): GatewayEvent {
  return {
    sessionId: 'sales',
    event: 'message',
    data: { from: '5511977776666@c.us', body: 'oi', mentions: [], media: null, nested: { list: [1, { a: [] }], text: 'ação ✓ "quoted" \n line' } },
    occurredAt: new Date(T0),
    ...overrides,
  };
}

export interface EventLogHarness {
  /** A fresh, empty log. */
  open(): Promise<EventLog>;
  /** Durable drivers: a new instance over the same data as `log` (a restart); `log` stays open. */
  reopen?(log: EventLog): Promise<EventLog>;
}

async function allOf(log: EventLog, query: Omit<EventRangeQuery, 'cursor' | 'limit'>, limit: number): Promise<EventEnvelope[]> {
  const out: EventEnvelope[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1_000; pages++) {
    const page = await log.readTimeRange({ ...query, limit, cursor });
    expect(page.data.length).toBeLessThanOrEqual(limit);
    out.push(...page.data);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
  throw new Error('too many pages');
}

const seqs = (envelopes: readonly EventEnvelope[]): number[] => envelopes.map((e) => e.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The expectations every EventLog driver meets (memory, Redis). */
export function describeEventLogContract(name: string, harness: EventLogHarness): void {
  describe(`EventLog contract: ${name}`, () => {
    const withLog = (fn: (log: EventLog) => Promise<void>) => async () => {
      const log = await harness.open();
      try {
        await fn(log);
      } finally {
        await log.close();
      }
    };

    it('gives each session its own seq from 1, in the envelope shape, and keeps the data exactly', withLog(async (log) => {
      expect(await log.lastSeq('sales')).toBe(0);
      const first = await log.append(gatewayEvent({ occurredAt: new Date(T0 + 123) }));
      expect(Object.keys(first)).toEqual(['id', 'seq', 'sessionId', 'event', 'timestamp', 'occurredAt', 'data']);
      expect(first).toEqual({
        id: expect.stringMatching(/^evt_[0-9a-f]{24}$/) as unknown,
        seq: 1,
        sessionId: 'sales',
        event: 'message',
        timestamp: Math.floor((T0 + 123) / 1000),
        occurredAt: new Date(T0 + 123).toISOString(),
        data: gatewayEvent().data,
      });
      const second = await log.append(gatewayEvent({ event: 'message_ack', data: { ack: 3 } }));
      const other = await log.append(gatewayEvent({ sessionId: 'support', event: 'session.status' }));
      expect([second.seq, other.seq]).toEqual([2, 1]);
      expect(second.id).not.toBe(first.id);
      expect(await log.lastSeq('sales')).toBe(2);
      expect(await log.lastSeq('support')).toBe(1);
      expect(await log.read('sales', 0, 10)).toEqual([first, second]);
      expect(await log.read('support', 0, 10)).toEqual([other]);
      expect(await log.read('nobody', 0, 10)).toEqual([]);
    }));

    it('returns copies', withLog(async (log) => {
      const appended = await log.append(gatewayEvent());
      appended.data.body = 'changed';
      const [read] = await log.read('sales', 0, 1);
      expect(read?.data.body).toBe('oi');
      if (read) read.data.body = 'changed again';
      expect((await log.read('sales', 0, 1))[0]?.data.body).toBe('oi');
    }));

    it('reads after a seq, oldest first, at most limit (clamped to 1–1000)', withLog(async (log) => {
      for (let i = 0; i < 1_050; i += 50) await Promise.all(range(1, 50).map(() => log.append(gatewayEvent())));
      expect(seqs(await log.read('sales', 0, 3))).toEqual([1, 2, 3]);
      expect(seqs(await log.read('sales', 1_047, 10))).toEqual([1_048, 1_049, 1_050]);
      expect(await log.read('sales', 1_050, 10)).toEqual([]);
      expect(await log.read('sales', 5_000, 10)).toEqual([]);
      expect(seqs(await log.read('sales', 10, 0))).toEqual([11]);
      expect(seqs(await log.read('sales', -5, 1))).toEqual([1]);
      const max = await log.read('sales', 0, 5_000);
      expect(seqs(max)).toEqual(range(1, 1_000));
    }));

    it('keeps seq strictly +1 with no gaps or duplicates under concurrent appends', withLog(async (log) => {
      const appended = await Promise.all(range(1, 300).flatMap((i) => [log.append(gatewayEvent({ data: { i } })), log.append(gatewayEvent({ sessionId: 'support', data: { i } }))]));
      const sales = appended.filter((e) => e.sessionId === 'sales');
      expect(seqs(sales).sort((a, b) => a - b)).toEqual(range(1, 300));
      expect(new Set(appended.map((e) => e.id)).size).toBe(600);
      const read = await log.read('sales', 0, 1_000);
      expect(seqs(read)).toEqual(range(1, 300));
      // Each envelope is stored under the seq append returned for it.
      const bySeq = new Map(sales.map((e) => [e.seq, e]));
      for (const envelope of read) expect(envelope).toEqual(bySeq.get(envelope.seq));
      expect(seqs(await log.read('support', 0, 1_000))).toEqual(range(1, 300));
      expect(await log.lastSeq('sales')).toBe(300);
    }));


    it('appends a batch of one session under consecutive seqs, interleaved safely with single appends', withLog(async (log) => {
      expect(await log.appendMany([])).toEqual([]);
      await log.append(gatewayEvent({ data: { i: 0 } }));
      const batches = await Promise.all(
        range(1, 20).map((b) => (b % 2 === 0 ? log.appendMany(range(1, 5).map((i) => gatewayEvent({ data: { b, i } }))) : log.append(gatewayEvent({ data: { b } })).then((e) => [e]))),
      );
      for (const batch of batches) {
        // A batch's seqs are consecutive and its events keep their order.
        expect(seqs(batch)).toEqual(range(batch[0]?.seq ?? 0, (batch[0]?.seq ?? 0) + batch.length - 1));
        if (batch.length > 1) expect(batch.map((e) => e.data.i)).toEqual(range(1, 5));
      }
      const all = batches.flat();
      expect(seqs(all).sort((a, b) => a - b)).toEqual(range(2, 61));
      expect(new Set(all.map((e) => e.id)).size).toBe(60);
      const read = await log.read('sales', 0, 1_000);
      expect(seqs(read)).toEqual(range(1, 61));
      const bySeq = new Map(all.map((e) => [e.seq, e]));
      for (const envelope of read.slice(1)) expect(envelope).toEqual(bySeq.get(envelope.seq));
      await expect(log.appendMany([gatewayEvent(), gatewayEvent({ sessionId: 'support' })])).rejects.toThrow(RangeError);
      expect(await log.lastSeq('support')).toBe(0);
    }));
    it('reads a time range of one session or of every session, by session then seq, in pages', withLog(async (log) => {
      const at = (s: number): Date => new Date(T0 + s * 1_000);
      // occurredAt is not monotonic in seq: publishers stamp events before their asynchronous work.
      for (const [sessionId, second] of [['b', 1], ['a', 2], ['b', 5], ['a', 3], ['c', 9], ['a', 1], ['b', 3], ['a', 7]] as const) {
        await log.append(gatewayEvent({ sessionId, occurredAt: at(second), data: { second } }));
      }
      const key = (e: EventEnvelope): string => `${e.sessionId}${e.seq}`;
      const since = at(2).toISOString();
      const until = at(7).toISOString();
      expect((await log.readTimeRange({ since, until })).data.map(key)).toEqual(['a1', 'a2', 'b2', 'b3']);
      expect((await log.readTimeRange({ since, until, sessionId: 'a' })).data.map(key)).toEqual(['a1', 'a2']);
      expect((await log.readTimeRange({ since })).data.map(key)).toEqual(['a1', 'a2', 'a4', 'b2', 'b3', 'c1']);
      expect((await log.readTimeRange({ since: at(0).toISOString(), sessionId: 'nobody' })).data).toEqual([]);
      expect((await log.readTimeRange({ since: at(10).toISOString() })).data).toEqual([]);
      for (const limit of [1, 2, 3, 5]) expect((await allOf(log, { since: at(0).toISOString() }, limit)).map(key), `limit ${limit}`).toEqual(['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3', 'c1']);
      const firstPage = await log.readTimeRange({ since, limit: 4 });
      expect(firstPage.data.map(key)).toEqual(['a1', 'a2', 'a4', 'b2']);
      expect((await log.readTimeRange({ since, limit: 4, cursor: firstPage.nextCursor ?? '' })).data.map(key)).toEqual(['b3', 'c1']);
      await expect(log.readTimeRange({ since, cursor: 'bm9wZQ' })).rejects.toBeInstanceOf(InvalidEventCursorError);
      await expect(log.readTimeRange({ since: 'yesterday' })).rejects.toBeInstanceOf(RangeError);
    }));

    it('deletes a session\'s entries but keeps counting its seq', withLog(async (log) => {
      for (let i = 0; i < 3; i++) await log.append(gatewayEvent());
      await log.append(gatewayEvent({ sessionId: 'support' }));
      expect(await log.deleteSession('sales')).toBe(3);
      expect(await log.deleteSession('sales')).toBe(0);
      expect(await log.deleteSession('nobody')).toBe(0);
      expect(await log.read('sales', 0, 10)).toEqual([]);
      expect((await log.readTimeRange({ since: new Date(0).toISOString(), sessionId: 'sales' })).data).toEqual([]);
      expect(await log.lastSeq('sales')).toBe(3);
      expect((await log.append(gatewayEvent())).seq).toBe(4);
      expect(seqs(await log.read('sales', 0, 10))).toEqual([4]);
      expect(seqs(await log.read('support', 0, 10))).toEqual([1]);
    }));

    if (harness.reopen) {
      const reopen = harness.reopen.bind(harness);
      it('continues seq in a new instance on the same data (restart), also when both append at once', withLog(async (log) => {
        for (let i = 0; i < 5; i++) await log.append(gatewayEvent());
        const restarted = await reopen(log);
        try {
          expect(await restarted.lastSeq('sales')).toBe(5);
          expect((await restarted.append(gatewayEvent())).seq).toBe(6);
          expect(seqs(await restarted.read('sales', 0, 10))).toEqual(range(1, 6));
          await Promise.all(range(1, 50).flatMap(() => [log.append(gatewayEvent()), restarted.append(gatewayEvent())]));
          expect(seqs(await log.read('sales', 0, 1_000))).toEqual(range(1, 106));
        } finally {
          await restarted.close();
        }
      }));
    }
  });
}

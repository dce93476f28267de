import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { newMessageId } from '../../src/messages/message.js';
import type { MessageQuery, MessageStore } from '../../src/storage/message-store.js';
import { InvalidCursorError } from '../../src/storage/message-store.js';

/** An hour ago, on a whole second: recent enough that no driver's retention trims the test data. */
export const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
export const iso = (ms: number): string => new Date(ms).toISOString();

export function messageRecord(overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: newMessageId(),
    sessionId: 'sales',
    chatId: '5511999999999@c.us',
    direction: 'outbound',
    type: 'text',
    status: 'queued',
    clientRef: null,
    waMessageId: null,
    content: { text: 'Olá!' },
    attempts: 0,
    error: null,
    createdAt: iso(T0),
    sentAt: null,
    deliveredAt: null,
    readAt: null,
    playedAt: null,
    failedAt: null,
    latency: { toSentMs: null, toDeliveredMs: null, toReadMs: null },
    ...overrides,
  };
}

export function inboundRecord(overrides: Partial<MessageRecord> = {}): MessageRecord {
  return messageRecord({ direction: 'inbound', status: 'received', waMessageId: `false_in_${newMessageId()}`, latency: { toSentMs: null, toDeliveredMs: null, toReadMs: null, receivedMs: 300 }, ...overrides });
}

export interface MessageStoreHarness {
  /** A fresh, empty store. */
  open(): Promise<MessageStore>;
}

async function all(store: MessageStore, sessionId: string, query: MessageQuery): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.list(sessionId, { ...query, limit: 3, cursor });
    out.push(...page.data);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
}

/** The expectations every MessageStore driver meets (memory, Redis). */
export function describeMessageStoreContract(name: string, harness: MessageStoreHarness): void {
  describe(`MessageStore contract: ${name}`, () => {
    const withStore = (fn: (store: MessageStore) => Promise<void>) => async () => {
      const store = await harness.open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    // ---- RECORDS ----
    it('inserts once, gets copies, and knows nothing of unknown ids', withStore(async (store) => {
      const record = messageRecord({ clientRef: 'order-1', content: { text: 'x', mentions: ['5511'] } });
      expect(await store.insert(record)).toBe(true);
      expect(await store.insert({ ...record, chatId: 'other@c.us' })).toBe(false);
      const copy = await store.get(record.id);
      expect(copy).toEqual(record);
      if (copy) copy.content.text = 'changed';
      expect((await store.get(record.id))?.content).toEqual({ text: 'x', mentions: ['5511'] });
      expect(await store.get('msg_unknown')).toBeNull();
      expect(await store.updateStatus('msg_unknown', { status: 'sent', at: iso(T0) })).toEqual({ changed: false, record: null });
      expect(await store.incrementAttempts('msg_unknown')).toBeNull();
      expect(await store.setWaMessageId('msg_unknown', 'wa')).toBe(false);
    }));

    it('calls an insert’s `alongside` once, after the insert is sent: a read it starts finds the record (also when the id was taken)', withStore(async (store) => {
      const record = messageRecord();
      const seen: (string | null)[] = [];
      const reads: Promise<unknown>[] = [];
      const alongside = (): void => {
        // Started before the insert is answered: only its order on the store's connection makes it find the record.
        reads.push(store.getWithPayload(record.id).then((stored) => seen.push(stored?.payload ?? null)));
      };
      const inserts = [store.insert(record, '{"first":true}', alongside), store.insert({ ...record, clientRef: 'again' }, '{"second":true}', alongside)];
      expect(await Promise.all(inserts)).toEqual([true, false]);
      await Promise.all(reads);
      expect(seen).toEqual(['{"first":true}', '{"first":true}']);
    }));

    it('inserts an inbound record unless its WhatsApp id is known in the session (a repeated engine event)', withStore(async (store) => {
      const first = inboundRecord({ sessionId: 'in-s' });
      const waMessageId = first.waMessageId ?? '';
      expect(await store.insertUnlessKnown({ ...first, waMessageId })).toBe(true);
      const repeat = inboundRecord({ sessionId: 'in-s', waMessageId, content: { body: 'again' } });
      expect(await store.insertUnlessKnown({ ...repeat, waMessageId })).toBe(false);
      expect(await store.get(repeat.id)).toBeNull();
      expect((await store.findByWaMessageId('in-s', waMessageId))?.id).toBe(first.id);
      expect((await store.list('in-s', {})).data.map((r) => r.id)).toEqual([first.id]);
      // Another session may hold the same WhatsApp id.
      const elsewhere = inboundRecord({ sessionId: 'in-t', waMessageId });
      expect(await store.insertUnlessKnown({ ...elsewhere, waMessageId })).toBe(true);
      expect((await store.findByWaMessageId('in-t', waMessageId))?.id).toBe(elsewhere.id);
    }));

    // ---- STATUS RULES ----
    it('moves forward only, filling each timestamp and latency once', withStore(async (store) => {
      const record = messageRecord({ type: 'audio' });
      await store.insert(record);
      expect((await store.updateStatus(record.id, { status: 'sent', at: iso(T0 + 1_000), waMessageId: 'true_x_1' })).changed).toBe(true);
      expect((await store.updateStatus(record.id, { status: 'sent', at: iso(T0 + 9_000) })).changed).toBe(false);
      expect((await store.updateStatus(record.id, { status: 'delivered', at: iso(T0 + 2_000) })).changed).toBe(true);
      expect((await store.updateStatus(record.id, { status: 'read', at: iso(T0 + 3_000) })).changed).toBe(true);
      const late = await store.updateStatus(record.id, { status: 'delivered', at: iso(T0 + 9_000) });
      expect(late.changed).toBe(false);
      expect(late.record?.status).toBe('read');
      expect((await store.updateStatus(record.id, { status: 'failed', at: iso(T0 + 9_000), error: { code: 'ACK_ERROR', message: 'x' } })).changed).toBe(false);
      const played = await store.updateStatus(record.id, { status: 'played', at: iso(T0 + 4_000) });
      expect(played.changed).toBe(true);
      expect(await store.get(record.id)).toMatchObject({
        status: 'played', waMessageId: 'true_x_1', error: null, failedAt: null,
        sentAt: iso(T0 + 1_000), deliveredAt: iso(T0 + 2_000), readAt: iso(T0 + 3_000), playedAt: iso(T0 + 4_000),
        latency: { toSentMs: 1_000, toDeliveredMs: 2_000, toReadMs: 3_000 },
      });
    }));

    it('takes an out-of-order ack ahead and ignores the lower one that arrives after it', withStore(async (store) => {
      const record = messageRecord();
      await store.insert(record);
      expect((await store.updateStatus(record.id, { status: 'delivered', at: iso(T0 + 700) })).changed).toBe(true);
      expect((await store.updateStatus(record.id, { status: 'sent', at: iso(T0 + 900), waMessageId: 'true_y' })).changed).toBe(false);
      expect(await store.get(record.id)).toMatchObject({
        status: 'delivered', waMessageId: 'true_y', sentAt: iso(T0 + 700), deliveredAt: iso(T0 + 700), readAt: null,
        latency: { toSentMs: 700, toDeliveredMs: 700, toReadMs: null },
      });
      expect((await store.findByWaMessageId('sales', 'true_y'))?.id).toBe(record.id);
    }));

    it('fails only from queued or sent, and failed is terminal', withStore(async (store) => {
      const [a, b, c] = [messageRecord(), messageRecord(), messageRecord()];
      for (const r of [a, b, c]) await store.insert(r);
      const error = { code: 'ACK_ERROR', message: 'WhatsApp refused it' };
      expect((await store.updateStatus(a.id, { status: 'failed', at: iso(T0 + 5), error })).record).toMatchObject({ status: 'failed', failedAt: iso(T0 + 5), error });
      expect((await store.updateStatus(a.id, { status: 'sent', at: iso(T0 + 6) })).changed).toBe(false);
      await store.updateStatus(b.id, { status: 'sent', at: iso(T0 + 1) });
      expect((await store.updateStatus(b.id, { status: 'failed', at: iso(T0 + 2), error })).changed).toBe(true);
      await store.updateStatus(c.id, { status: 'delivered', at: iso(T0 + 1) });
      expect((await store.updateStatus(c.id, { status: 'failed', at: iso(T0 + 2), error })).changed).toBe(false);
      expect(await store.get(c.id)).toMatchObject({ status: 'delivered', error: null, failedAt: null });
    }));

    it('never changes an inbound record’s status, and finds it by its WhatsApp id in its session only', withStore(async (store) => {
      const inbound = inboundRecord({ waMessageId: 'false_in_1' });
      await store.insert(inbound);
      expect((await store.updateStatus(inbound.id, { status: 'read', at: iso(T0 + 1) })).changed).toBe(false);
      expect(await store.findByWaMessageId('sales', 'false_in_1')).toEqual(inbound);
      expect(await store.findByWaMessageId('other', 'false_in_1')).toBeNull();
      expect(await store.findByWaMessageId('sales', 'nope')).toBeNull();
    }));

    it('applies concurrent acks to the highest status', withStore(async (store) => {
      const record = messageRecord();
      await store.insert(record);
      const results = await Promise.all((['read', 'sent', 'delivered', 'sent', 'read'] as const).map((status, i) => store.updateStatus(record.id, { status, at: iso(T0 + 100 * (i + 1)) })));
      expect(results.filter((r) => r.changed).length).toBeGreaterThanOrEqual(1);
      const final = await store.get(record.id);
      expect(final?.status).toBe('read');
      expect(final?.sentAt !== null && final?.deliveredAt !== null && final?.readAt !== null).toBe(true);
    }));

    // ---- WHATSAPP ID AND ATTEMPTS ----
    it('records the WhatsApp id once and counts attempts, also concurrently', withStore(async (store) => {
      const record = messageRecord();
      await store.insert(record);
      expect(await store.setWaMessageId(record.id, 'true_a')).toBe(true);
      expect(await store.setWaMessageId(record.id, 'true_a')).toBe(true);
      expect(await store.setWaMessageId(record.id, 'true_b')).toBe(false);
      expect((await store.findByWaMessageId('sales', 'true_a'))?.id).toBe(record.id);
      expect(await store.findByWaMessageId('sales', 'true_b')).toBeNull();
      expect(await store.incrementAttempts(record.id)).toBe(1);
      await Promise.all(Array.from({ length: 10 }, () => store.incrementAttempts(record.id)));
      expect((await store.get(record.id))?.attempts).toBe(11);
    }));

    // ---- MODIFY AND PAYLOAD ----
    it('modifies atomically, indexing a changed chat and a new WhatsApp id, and writes nothing when told so', withStore(async (store) => {
      const record = messageRecord({ chatId: '5511988887777@c.us' });
      await store.insert(record);
      const moved = await store.modify(record.id, (r) => ({ record: { ...r, chatId: '551188887777@c.us', waMessageId: 'true_moved' }, result: r.chatId }));
      expect(moved).toBe('5511988887777@c.us');
      expect((await store.list('sales', { chatId: '551188887777@c.us' })).data.map((r) => r.id)).toEqual([record.id]);
      expect((await store.list('sales', { chatId: '5511988887777@c.us' })).data).toEqual([]);
      expect((await store.findByWaMessageId('sales', 'true_moved'))?.id).toBe(record.id);
      expect(await store.modify(record.id, () => ({ result: 'read only' }))).toBe('read only');
      expect(await store.modify('msg_unknown', () => ({ result: 1 }))).toBeNull();
      const counters = await Promise.all(Array.from({ length: 20 }, () => store.modify(record.id, (r) => ({ record: { ...r, attempts: r.attempts + 1 }, result: r.attempts + 1 }))));
      expect(new Set(counters).size).toBe(20);
      expect((await store.get(record.id))?.attempts).toBe(20);
    }));

    it('keeps a payload beside a record until dropped or the session is deleted', withStore(async (store) => {
      const record = messageRecord();
      const other = messageRecord();
      expect(await store.insert(record, '{"media":"big"}')).toBe(true);
      expect(await store.insert(other, 'second')).toBe(true);
      expect(await store.insert(record, 'replaced?')).toBe(false);
      expect(await store.getPayload(record.id)).toBe('{"media":"big"}');
      expect(await store.getWithPayload(record.id)).toEqual({ record, payload: '{"media":"big"}' });
      expect(await store.getWithPayload('msg_unknown')).toBeNull();
      await store.dropPayload(record.id);
      expect(await store.getPayload(record.id)).toBeNull();
      expect(await store.getWithPayload(record.id)).toEqual({ record, payload: null });
      expect(await store.getPayload('msg_unknown')).toBeNull();
      await store.deleteSession('sales');
      expect(await store.getPayload(other.id)).toBeNull();
    }));

    // ---- HISTORY ----
    it('filters by chat, direction, status, type, time and latency', withStore(async (store) => {
      const rec = (n: number, o: Partial<MessageRecord>) => messageRecord({ createdAt: iso(T0 + n * 1_000), ...o });
      const slow = rec(1, { chatId: 'a@c.us', status: 'read', sentAt: iso(T0 + 2_000), latency: { toSentMs: 1_000, toDeliveredMs: 3_000, toReadMs: 6_000 } });
      const fast = rec(2, { chatId: 'a@c.us', type: 'image', status: 'sent', sentAt: iso(T0 + 2_100), latency: { toSentMs: 100, toDeliveredMs: null, toReadMs: null } });
      const queued = rec(3, { chatId: 'b@c.us' });
      const inSlow = inboundRecord({ createdAt: iso(T0 + 4_000), chatId: 'b@c.us', latency: { toSentMs: null, toDeliveredMs: null, toReadMs: null, receivedMs: 7_000 } });
      const inFast = inboundRecord({ createdAt: iso(T0 + 5_000), chatId: 'a@c.us' });
      const foreign = rec(6, { sessionId: 'other' });
      for (const r of [slow, fast, queued, inSlow, inFast, foreign]) await store.insert(r);
      const ids = async (q: MessageQuery) => (await all(store, 'sales', q)).map((r) => r.id);
      expect(await ids({})).toEqual([inFast.id, inSlow.id, queued.id, fast.id, slow.id]);
      expect(await ids({ chatId: 'a@c.us' })).toEqual([inFast.id, fast.id, slow.id]);
      expect(await ids({ direction: 'inbound' })).toEqual([inFast.id, inSlow.id]);
      expect(await ids({ direction: 'outbound', chatId: 'b@c.us' })).toEqual([queued.id]);
      expect(await ids({ status: 'queued' })).toEqual([queued.id]);
      expect(await ids({ status: 'received', chatId: 'a@c.us' })).toEqual([inFast.id]);
      expect(await ids({ type: 'image' })).toEqual([fast.id]);
      expect(await ids({ since: iso(T0 + 2_000), until: iso(T0 + 4_000) })).toEqual([queued.id, fast.id]);
      expect(await ids({ since: iso(T0 + 5_000) })).toEqual([inFast.id]);
      expect(await ids({ until: iso(T0 + 1_000) })).toEqual([]);
      expect(await ids({ latencyOverMs: 5_000 })).toEqual([inSlow.id, slow.id]);
      expect(await ids({ latencyOverMs: 6_000 })).toEqual([inSlow.id]);
      expect(await ids({ latencyOverMs: 200, direction: 'inbound' })).toEqual([inFast.id, inSlow.id]);
      expect((await store.list('nobody')).data).toEqual([]);
    }));

    it('paginates newest first across pages with inserts in between, ties included', withStore(async (store) => {
      const first = Array.from({ length: 12 }, (_, i) => messageRecord({ createdAt: iso(T0 + Math.floor(i / 3) * 1_000) }));
      for (const r of first) await store.insert(r);
      const expected = [...first].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1)).map((r) => r.id);
      const page1 = await store.list('sales', { limit: 5 });
      expect(page1.data.map((r) => r.id)).toEqual(expected.slice(0, 5));
      for (let i = 0; i < 3; i++) await store.insert(messageRecord({ createdAt: iso(T0 + 60_000 + i) }));
      const page2 = await store.list('sales', { limit: 5, cursor: page1.nextCursor ?? undefined });
      expect(page2.data.map((r) => r.id)).toEqual(expected.slice(5, 10));
      await store.insert(messageRecord({ createdAt: iso(T0 + 50_000) }));
      const page3 = await store.list('sales', { limit: 5, cursor: page2.nextCursor ?? undefined });
      expect(page3.data.map((r) => r.id)).toEqual(expected.slice(10));
      expect(page3.nextCursor).toBeNull();
      expect((await store.list('sales', { limit: 0 })).data).toHaveLength(1);
      expect((await store.list('sales', { limit: 16 })).nextCursor).toBeNull();
      await expect(store.list('sales', { cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
    }));

    it('caps a page at 200', withStore(async (store) => {
      for (let i = 0; i < 205; i++) await store.insert(messageRecord({ createdAt: iso(T0 + i) }));
      const page = await store.list('sales', { limit: 1_000 });
      expect(page.data).toHaveLength(200);
      expect((await store.list('sales', { cursor: page.nextCursor ?? undefined })).data).toHaveLength(5);
    }));

    // ---- STATS ----
    it('counts and takes nearest-rank percentiles on known data', withStore(async (store) => {
      for (let i = 1; i <= 100; i++) {
        const record = messageRecord({ createdAt: iso(T0 + i) });
        await store.insert(record);
        await store.updateStatus(record.id, { status: 'sent', at: iso(T0 + i + i * 100) });
        if (i % 2 === 0) await store.updateStatus(record.id, { status: 'delivered', at: iso(T0 + i + i * 200) });
      }
      const failed = messageRecord({ createdAt: iso(T0 + 200) });
      await store.insert(failed);
      await store.updateStatus(failed.id, { status: 'failed', at: iso(T0 + 300), error: { code: 'ENGINE_ERROR', message: 'x' } });
      for (const ms of [100, 200, 300, 4_000]) await store.insert(inboundRecord({ createdAt: iso(T0 + 300), latency: { toSentMs: null, toDeliveredMs: null, toReadMs: null, receivedMs: ms } }));
      await store.insert(messageRecord({ sessionId: 'other', createdAt: iso(T0 + 5) }));
      const stats = await store.stats('sales');
      expect(stats.total).toBe(105);
      expect(stats.byDirection).toEqual({ outbound: 101, inbound: 4 });
      expect(stats.byStatus).toEqual({ queued: 0, sent: 50, delivered: 50, read: 0, played: 0, failed: 1, received: 4 });
      expect(stats.latency.toSentMs).toEqual({ count: 100, p50: 5_000, p95: 9_500, p99: 9_900 });
      expect(stats.latency.toDeliveredMs).toEqual({ count: 50, p50: 10_000, p95: 19_200, p99: 20_000 });
      expect(stats.latency.toReadMs).toEqual({ count: 0, p50: null, p95: null, p99: null });
      expect(stats.latency.receivedMs).toEqual({ count: 4, p50: 200, p95: 4_000, p99: 4_000 });
      expect(stats.under5s).toEqual({ basis: 'toSentMs', thresholdMs: 5_000, count: 49, of: 100, share: 0.49 });
      const ranged = await store.stats('sales', { since: iso(T0 + 1), until: iso(T0 + 11) });
      expect(ranged).toMatchObject({ since: iso(T0 + 1), until: iso(T0 + 11), total: 10, latency: { toSentMs: { count: 10, p50: 500, p99: 1_000 } } });
      expect((await store.stats('nobody')).under5s.share).toBeNull();
    }));

    // ---- DELETION ----
    it('deletes a session’s records and nothing else', withStore(async (store) => {
      const mine = [messageRecord({ waMessageId: 'true_m' }), inboundRecord({ chatId: 'x@g.us' })];
      const theirs = messageRecord({ sessionId: 'other' });
      for (const r of [...mine, theirs]) await store.insert(r);
      expect(await store.deleteSession('sales')).toBe(2);
      expect(await store.get(mine[0]?.id ?? '')).toBeNull();
      expect(await store.findByWaMessageId('sales', 'true_m')).toBeNull();
      expect((await store.list('sales')).data).toEqual([]);
      expect(await store.get(theirs.id)).toEqual(theirs);
      expect(await store.deleteSession('sales')).toBe(0);
    }));
  });
}

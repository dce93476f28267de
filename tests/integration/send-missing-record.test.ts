import { describe, expect, it, vi } from 'vitest';
import { newRecord } from '../../src/messages/message.js';
import { MISSING_RECORD_WAIT_MS } from '../../src/messages/send-processor.js';
import { deferred } from '../contract/send-queue.contract.js';
import { messagingHarness } from '../helpers/messaging-harness.js';
import { redisSuite } from '../helpers/redis-suite.js';
import { accepted, readySession } from '../helpers/messaging.js';
import { STORAGE_MODES } from '../helpers/test-app.js';

const body = (text: string) => ({ to: '5511999991234', type: 'text', text });
const queuedRecord = (text: string) => newRecord({ sessionId: 'sales', chatId: '5511999991234@c.us', direction: 'outbound', type: 'text', status: 'queued', content: { text } });

// The accept path adds a job right after its record's insert is sent: the worker can meet the job first.
describe.each(STORAGE_MODES)('a send job whose record is not there (%s)', (mode) => {
  const h = messagingHarness(mode);

  it('is looked at again, holding its lane, and sent once its record is stored', async () => {
    const app = await start();
    const { storage, queue } = app.app.gateway;
    const record = queuedRecord('late');
    const seenMissing = deferred();
    const read = storage.messages.getWithPayload.bind(storage.messages);
    vi.spyOn(storage.messages, 'getWithPayload').mockImplementation(async (id) => {
      const stored = await read(id);
      if (id === record.id && stored === null) seenMissing.resolve();
      return stored;
    });
    await queue.add({ sessionId: 'sales', messageId: record.id });
    const next = await accepted(app, 'sales', body('next'));
    await seenMissing.promise;
    await storage.messages.insert(record, JSON.stringify({ ...body('late'), to: { kind: 'phone', phone: '5511999991234', input: '5511999991234' } }));
    await h.log.allReach([record.id, next.id], ['sent']);
    expect(h.sends.map((s) => (s.content.type === 'text' ? s.content.text : ''))).toEqual(['late', 'next']);
  });

  it(`is dropped after ${MISSING_RECORD_WAIT_MS} ms when its record never comes (a failed insert), and its lane goes on`, async () => {
    const app = await start();
    const orphan = queuedRecord('never stored');
    const added = Date.now();
    await app.app.gateway.queue.add({ sessionId: 'sales', messageId: orphan.id });
    const next = await accepted(app, 'sales', body('next'));
    await h.log.allReach([next.id], ['sent'], 10_000);
    expect(Date.now() - added).toBeGreaterThanOrEqual(MISSING_RECORD_WAIT_MS);
    expect(h.sends.map((s) => (s.content.type === 'text' ? s.content.text : ''))).toEqual(['next']);
    expect(await app.app.gateway.storage.messages.get(orphan.id)).toBeNull();
    await expect.poll(() => app.app.gateway.queue.counts('sales')).toEqual({ waiting: 0, active: 0 });
  });

  async function start() {
    const app = await h.start();
    await readySession(app, 'sales');
    return app;
  }
});

describe('a send accepted after SCRIPT FLUSH (redis)', () => {
  // A redis-server of its own: a SCRIPT FLUSH on the shared one would reach other test files.
  const redis = redisSuite();
  const h = messagingHarness('redis');

  it('sends what was accepted right after Redis lost its scripts (the insert goes again, after its job)', async () => {
    const app = await h.start({ REDIS_URL: redis.server.url });
    await readySession(app, 'sales');
    const warm = await accepted(app, 'sales', body('before'));
    await h.log.allReach([warm.id], ['sent']);
    await redis.admin.script('FLUSH');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await accepted(app, 'sales', body(`after ${i}`))).id);
    await h.log.allReach(ids, ['sent'], 10_000);
    expect(h.sends.map((s) => (s.content.type === 'text' ? s.content.text : ''))).toEqual(['before', 'after 0', 'after 1', 'after 2', 'after 3', 'after 4']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../src/messages/message.js';
import { MessageStatusLog, accepted, getMessage, readySession, send } from '../helpers/messaging.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';

describe.each(STORAGE_MODES)('message routes (%s)', (mode) => {
  let t: TestApp | undefined;
  let log: MessageStatusLog | undefined;
  afterEach(async () => {
    log?.close();
    await t?.close();
    t = undefined;
  });
  const start = async (env: Record<string, string> = {}): Promise<TestApp> => {
    t = await startTestApp({ mode, env });
    log = new MessageStatusLog(t.app.gateway.bus);
    return t;
  };

  it('queues a text, answers 202 with the contract Message, and moves it queued → sent → delivered → read', async () => {
    const app = await start();
    await readySession(app, 'sales');
    const record = await accepted(app, 'sales', { to: '+55 11 99999-1234', type: 'text', text: 'Olá!', clientRef: 'order-123' });
    expect(record).toMatchObject({ sessionId: 'sales', chatId: '5511999991234@c.us', direction: 'outbound', type: 'text', status: 'queued', clientRef: 'order-123', waMessageId: null, content: { text: 'Olá!', linkPreview: false }, attempts: 0, error: null });
    expect(record.id).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(record).not.toHaveProperty('sendingSince');
    await log?.status(record.id, 'read');
    expect(log?.statusesOf(record.id)).toEqual(['queued', 'sent', 'delivered', 'read']);
    const stored = await getMessage(app, 'sales', record.id);
    expect(stored).toMatchObject({ status: 'read', attempts: 1 });
    expect(stored.waMessageId).toMatch(/^true_/);
    expect(stored.latency.toSentMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(stored.readAt ?? '')).toBeGreaterThanOrEqual(Date.parse(stored.deliveredAt ?? ''));
    expect(await getMessage(app, 'sales', stored.waMessageId ?? '')).toMatchObject({ id: record.id });
  });
});

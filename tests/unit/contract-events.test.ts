import { describe, expect, it } from 'vitest';
import { toContractEvent } from '../../src/events/contract-events.js';

describe('toContractEvent', () => {
  const at = new Date('2026-11-21T12:00:00.000Z');
  it('maps calls and group notifications to extra contract events', () => {
    expect(toContractEvent({ type: 'call', callId: 'c1', from: '5511@c.us', isVideo: true, isGroup: false, timestamp: 10 }, at)).toEqual({
      event: 'call',
      data: { callId: 'c1', from: '5511@c.us', isVideo: true, isGroup: false, timestamp: 10 },
    });
    expect(
      toContractEvent({ type: 'group_update', kind: 'join', chatId: '123-456@g.us', author: null, recipients: ['5511@c.us'], subtype: 'add', body: '', timestamp: 11 }, at),
    ).toEqual({ event: 'group_update', data: { kind: 'join', chatId: '123-456@g.us', author: null, recipients: ['5511@c.us'], subtype: 'add', body: '', timestamp: 11 } });
  });
  it('leaves lifecycle events to the session lifecycle', () => {
    expect(toContractEvent({ type: 'qr', qr: 'x' }, at)).toBeNull();
    expect(toContractEvent({ type: 'disconnected', reason: 'CONFLICT' }, at)).toBeNull();
  });
  it('names every ack level', () => {
    const names = ([-1, 0, 1, 2, 3, 4] as const).map((ack) => toContractEvent({ type: 'message_ack', waMessageId: 'm', chatId: 'c', ack }, at)?.data.status);
    expect(names).toEqual(['error', 'pending', 'sent', 'delivered', 'read', 'played']);
  });
});

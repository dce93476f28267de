import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.js';
import type { SessionRecord } from '../../src/sessions/session.js';
import { SessionStatsCounter } from '../../src/sessions/session-stats.js';
import { deferred } from '../contract/send-queue.contract.js';

function sessionRecord(id: string): SessionRecord {
  const at = new Date().toISOString();
  return {
    id,
    engine: 'simulator',
    status: 'ready',
    me: null,
    metadata: {},
    webhooks: [],
    createdAt: at,
    updatedAt: at,
    connectedAt: at,
    lastError: null,
    stats: { sent: 0, received: 0, failed: 0 },
    engineAuth: null,
  };
}

const status = (sessionId: string, value: string) => ({ sessionId, event: 'message.status', data: { status: value }, occurredAt: new Date() });

describe('session stats counter', () => {
  it('counts sent and failed from message.status and writes every changed session of a flush at once, each once', async () => {
    const bus = new EventBus((error) => {
      throw error;
    });
    const records = new Map(Array.from({ length: 20 }, (_, i) => [`s${i}`, sessionRecord(`s${i}`)]));
    const release = deferred();
    const writes: SessionRecord['stats'][] = [];
    const errors: unknown[] = [];
    const counter = new SessionStatsCounter(
      bus,
      (id) => records.get(id),
      async (record) => {
        writes.push({ ...record.stats });
        await release.promise;
        if (record.id === 's3') throw new Error('registry away');
      },
      (error) => errors.push(error),
    );
    for (const id of records.keys()) {
      bus.publish(status(id, 'sent'));
      bus.publish(status(id, 'delivered'));
    }
    bus.publish(status('s0', 'failed'));
    bus.publish(status('unknown', 'sent'));
    expect(records.get('s0')?.stats).toEqual({ sent: 1, received: 0, failed: 1 });
    const flushed = counter.flush();
    // Every write started before the first answered: one turn's writes, not one after the other.
    expect(writes).toHaveLength(20);
    expect(writes[0]).toEqual({ sent: 1, received: 0, failed: 1 });
    release.resolve();
    await flushed;
    // A failed write is reported; the others are made all the same.
    expect(errors).toHaveLength(1);
    await counter.close();
    expect(writes).toHaveLength(20);
  });
});

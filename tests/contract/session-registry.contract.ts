import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/sessions/session.js';
import type { SessionRegistry } from '../../src/storage/session-registry.js';

export function sessionRecord(id: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const at = new Date(Date.UTC(2026, 10, 21, 12, 0, 0) + id.length).toISOString();
  return {
    id,
    engine: 'simulator',
    status: 'stopped',
    me: null,
    metadata: {},
    webhooks: [],
    createdAt: at,
    updatedAt: at,
    connectedAt: null,
    lastError: null,
    stats: { sent: 0, received: 0, failed: 0 },
    engineAuth: null,
    ...overrides,
  };
}

export interface RegistryHarness {
  /** A fresh, empty registry. */
  open(): Promise<SessionRegistry>;
  /** Closes `registry` and opens another one on the same data (a gateway restart). */
  reopen(registry: SessionRegistry): Promise<SessionRegistry>;
}

/** The expectations every SessionRegistry driver meets (memory, memory persisted to a file, Redis). */
export function describeSessionRegistryContract(name: string, harness: RegistryHarness): void {
  describe(`SessionRegistry contract: ${name}`, () => {
    // ---- READS AND WRITES ----
    it('creates, gets, replaces and deletes a record, returning copies', async () => {
      const registry = await harness.open();
      try {
        const record = sessionRecord('a', { metadata: { team: 'sales' } });
        expect(await registry.create(record)).toBe(true);
        record.metadata.team = 'changed after create';
        expect(await registry.get('a')).toEqual(sessionRecord('a', { metadata: { team: 'sales' } }));
        await registry.put({ ...sessionRecord('a'), status: 'ready', me: { id: '5511@c.us', phone: '5511', pushName: null } });
        expect(await registry.get('a')).toMatchObject({ status: 'ready', me: { id: '5511@c.us' } });
        const copy = await registry.get('a');
        if (copy) copy.status = 'failed';
        expect((await registry.get('a'))?.status).toBe('ready');
        expect(await registry.delete('a')).toBe(true);
        expect(await registry.delete('a')).toBe(false);
        expect(await registry.get('a')).toBeNull();
        expect(await registry.count()).toBe(0);
      } finally {
        await registry.close();
      }
    });

    it('refuses a second create of one id, also when both race', async () => {
      const registry = await harness.open();
      try {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => registry.create(sessionRecord('same', { metadata: { n: String(i) } }))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await registry.count()).toBe(1);
      } finally {
        await registry.close();
      }
    });

    it('lists every record in creation order, and put keeps a record in its place', async () => {
      const registry = await harness.open();
      try {
        for (const id of ['b', 'cc', 'ddd']) await registry.create(sessionRecord(id));
        await registry.put({ ...sessionRecord('b'), status: 'qr' });
        expect((await registry.list()).map((r) => [r.id, r.status])).toEqual([
          ['b', 'qr'],
          ['cc', 'stopped'],
          ['ddd', 'stopped'],
        ]);
        expect(await registry.count()).toBe(3);
      } finally {
        await registry.close();
      }
    });

    // ---- DURABILITY ----
    it('keeps every write across a restart, secrets and engine auth included', async () => {
      let registry = await harness.open();
      const record = sessionRecord('durable', {
        status: 'ready',
        webhooks: [{ url: 'https://hooks.example.com/x', events: ['*'], secret: 'whsec_abc', disabled: true }],
        engineAuth: { phone: '5511999999999', pushName: 'x' },
      });
      await registry.create(record);
      await registry.create(sessionRecord('gone'));
      await registry.delete('gone');
      registry = await harness.reopen(registry);
      try {
        expect(await registry.list()).toEqual([record]);
      } finally {
        await registry.close();
      }
    });
  });
}

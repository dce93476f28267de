import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import { expect } from 'vitest';
import type { GatewayEvent } from '../../src/events/event-bus.js';
import type { MessageRecord } from '../../src/messages/message.js';
import { GatewayEventLog } from './gateway-event-log.js';
import { AUTH, type TestApp } from './test-app.js';

/** Creates a simulator session and scans it to `ready` (the simulated phone is `phone`). */
export async function readySession(t: TestApp, id: string, phone = '5511988887777'): Promise<void> {
  const created = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id, engine: 'simulator' } });
  expect(created.statusCode, created.body).toBe(201);
  await t.app.gateway.sessions.waitForStatus(id, ['qr'], 2_000);
  const scanned = await t.app.inject({ method: 'POST', url: `/api/v1/sessions/${id}/simulator/scan`, headers: AUTH, payload: { phone } });
  expect(scanned.statusCode, scanned.body).toBe(200);
  expect(scanned.json()).toMatchObject({ status: 'ready' });
}

export async function send(t: TestApp, sessionId: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: `/api/v1/sessions/${sessionId}/messages`, headers: { ...AUTH, ...headers }, payload });
}

/** Sends and expects 202; the record. */
export async function accepted(t: TestApp, sessionId: string, payload: Record<string, unknown>, headers: Record<string, string> = {}): Promise<MessageRecord> {
  const res = await send(t, sessionId, payload, headers);
  expect(res.statusCode, res.body).toBe(202);
  return res.json<MessageRecord>();
}

export async function getMessage(t: TestApp, sessionId: string, messageId: string): Promise<MessageRecord> {
  const res = await t.app.inject({ url: `/api/v1/sessions/${sessionId}/messages/${messageId}`, headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<MessageRecord>();
}

/** `message.status` events, with a way to await a given status of a record. */
export class MessageStatusLog extends GatewayEventLog {
  statusesOf(messageId: string): string[] {
    return this.events.filter((e) => e.event === 'message.status' && e.data.id === messageId).map((e) => String(e.data.status));
  }

  async status(messageId: string, status: string, timeoutMs = 5_000): Promise<GatewayEvent> {
    return this.until(() => this.events.find((e) => e.event === 'message.status' && e.data.id === messageId && e.data.status === status), timeoutMs, `${messageId} ${status}`);
  }

  /** Waits until every id has reached one of `statuses` (incremental: each event is looked at once). */
  async allReach(ids: readonly string[], statuses: readonly string[], timeoutMs = 20_000): Promise<void> {
    const missing = new Set(ids);
    let seen = 0;
    await this.until(() => {
      for (; seen < this.events.length; seen++) {
        const e = this.events[seen];
        if (e?.event === 'message.status' && statuses.includes(String(e.data.status))) missing.delete(String(e.data.id));
      }
      return missing.size === 0 ? true : undefined;
    }, timeoutMs, `${ids.length} messages reaching ${statuses.join('|')}`);
  }
}

/**
 * Re-checks `probe` every 10 ms until it returns a non-null value — for state that no event
 * announces (a store field filled in without a status change). Fails after `timeoutMs`.
 */
export async function eventually<V>(probe: () => Promise<V | null | undefined>, timeoutMs = 5_000): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The simulated phone of a ready simulator session. */
export function simulatorOf(t: TestApp, sessionId: string): SimulatorEngine {
  const engine = t.app.gateway.sessions.readyEngine(sessionId);
  if (!(engine instanceof SimulatorEngine)) throw new Error(`session ${sessionId} does not run the simulator`);
  return engine;
}

import { describe, expect, it } from 'vitest';
import { EventBus, type GatewayEvent } from '../../src/events/event-bus.js';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { EventRecorder } from '../../src/events/event-recorder.js';
import type { EventLog } from '../../src/storage/event-log.js';
import { MemoryEventLog } from '../../src/storage/memory/memory-event-log.js';
import { AwaitableLog } from '../helpers/awaitable-log.js';
import { LogCapture } from '../helpers/log-capture.js';

const event = (sessionId: string, name: string, data: Record<string, unknown> = {}): GatewayEvent => ({ sessionId, event: name, data, occurredAt: new Date() });

/** Envelopes handed to a recorder's listeners, awaitable. */
class Envelopes extends AwaitableLog<EventEnvelope> {
  constructor(recorder: EventRecorder) {
    super();
    recorder.onEnvelope((e) => this.record(e));
  }
  protected summary(): string {
    return this.events.map((e) => `${e.sessionId}:${e.seq}:${e.event}`).join(', ');
  }
  async count(n: number): Promise<EventEnvelope[]> {
    return this.until(() => (this.events.length >= n ? this.events : undefined), 5_000, `${n} envelopes`);
  }
  of(sessionId: string): EventEnvelope[] {
    return this.events.filter((e) => e.sessionId === sessionId);
  }
}

/** A memory log whose appends can be delayed, made to fail, or held until released. */
class ControlledLog extends MemoryEventLog {
  fail: (event: GatewayEvent) => boolean = () => false;
  delayMs: (event: GatewayEvent) => number = () => 0;
  attempts: string[] = [];
  /** Sizes of the appendMany calls, in order. */
  batches: number[] = [];
  /** Per appendMany call: the tick it was made in (a counter advanced once per tick that appends). */
  ticks: number[] = [];
  private tick = 0;
  private tickOpen = false;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }
  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  override async append(e: GatewayEvent): Promise<EventEnvelope> {
    this.attempts.push(e.event);
    if (this.gate) await this.gate;
    const delay = this.delayMs(e);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.fail(e)) throw new Error(`Connection is closed (appending ${e.event})`);
    return super.append(e);
  }

  /** A batch as one attempt: held, delayed and failed as a whole (as one Redis script call is). */
  override async appendMany(events: readonly GatewayEvent[]): Promise<EventEnvelope[]> {
    this.attempts.push(...events.map((e) => e.event));
    this.batches.push(events.length);
    if (!this.tickOpen) {
      this.tickOpen = true;
      this.tick += 1;
      process.nextTick(() => (this.tickOpen = false));
    }
    this.ticks.push(this.tick);
    if (this.gate) await this.gate;
    const delay = Math.max(0, ...events.map((e) => this.delayMs(e)));
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const failing = events.find((e) => this.fail(e));
    if (failing) throw new Error(`Connection is closed (appending ${failing.event})`);
    return super.appendMany(events);
  }
}

function setup(options: { retryDelaysMs?: number[]; maxPendingPerSession?: number } = {}): { bus: EventBus; log: ControlledLog; recorder: EventRecorder; envelopes: Envelopes; logs: LogCapture } {
  const logs = new LogCapture();
  const bus = new EventBus((error) => logs.logger.error({ err: error }, 'bus listener failed'));
  const log = new ControlledLog();
  const recorder = new EventRecorder({ bus, log, logger: logs.logger, retryDelaysMs: options.retryDelaysMs ?? [1, 1, 1], ...(options.maxPendingPerSession ? { maxPendingPerSession: options.maxPendingPerSession } : {}) });
  return { bus, log, recorder, envelopes: new Envelopes(recorder), logs };
}

describe('EventRecorder', () => {
  it('records each session in publish order although appends take varying time, and hands envelopes over in seq order', async () => {
    const { bus, log, recorder, envelopes } = setup();
    log.delayMs = () => Math.floor(Math.random() * 3);
    for (let i = 0; i < 60; i++) bus.publish(event(i % 3 === 0 ? 'b' : 'a', 'message', { i }));
    await recorder.idle();
    expect(envelopes.events).toHaveLength(60);
    for (const sessionId of ['a', 'b']) {
      const published = Array.from({ length: 60 }, (_, i) => i).filter((i) => (i % 3 === 0 ? 'b' : 'a') === sessionId);
      expect(envelopes.of(sessionId).map((e) => e.seq)).toEqual(published.map((_, k) => k + 1));
      expect(envelopes.of(sessionId).map((e) => e.data.i)).toEqual(published);
      expect(await recorder.read(sessionId, 0, 100)).toEqual(envelopes.of(sessionId));
    }
    expect(await recorder.lastSeq('a')).toBe(40);
    expect((await recorder.readTimeRange({ since: new Date(0).toISOString(), limit: 1_000 })).data).toHaveLength(60);
  });

  it('records what waits for a session in one append (a burst costs one round trip), 64 at most', async () => {
    const { bus, log, recorder, envelopes } = setup();
    log.hold();
    bus.publish(event('a', 'message', { i: 0 }));
    // The first append is under way (held) once the worker's microtask ran.
    for (let i = 0; i < 10 && log.batches.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(log.batches).toEqual([1]);
    for (let i = 1; i <= 100; i++) bus.publish(event('a', 'message', { i }));
    log.release();
    await recorder.idle();
    expect(log.batches).toEqual([1, 64, 36]);
    expect(envelopes.of('a').map((e) => e.data.i)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(envelopes.of('a').map((e) => e.seq)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
  });

  it('appends the sessions published to in one turn in the same tick (one script for a log that batches per tick)', async () => {
    const { bus, log, recorder, envelopes } = setup();
    for (const sessionId of ['a', 'b', 'c', 'a']) bus.publish(event(sessionId, 'message'));
    await recorder.idle();
    expect(log.batches).toEqual([2, 1, 1]);
    expect(log.ticks).toEqual([1, 1, 1]);
    // A later turn is a later tick.
    bus.publish(event('b', 'message'));
    await recorder.idle();
    expect(log.ticks).toEqual([1, 1, 1, 2]);
    expect(envelopes.of('b').map((e) => e.seq)).toEqual([1, 2]);
  });

  it('retries a failed append, holding the session\'s later events back, and the other sessions not', async () => {
    const { bus, log, recorder, envelopes, logs } = setup();
    let failures = 2;
    log.fail = (e) => e.event === 'qr_code' && failures-- > 0;
    bus.publish(event('a', 'qr_code'));
    bus.publish(event('a', 'session.status'));
    bus.publish(event('b', 'message'));
    await recorder.idle();
    expect(envelopes.of('a').map((e) => [e.seq, e.event])).toEqual([[1, 'qr_code'], [2, 'session.status']]);
    expect(envelopes.of('b').map((e) => e.seq)).toEqual([1]);
    expect(logs.lines('retrying').map((l) => l.attempt)).toEqual([1, 2]);
    expect(recorder.lost).toBe(0);
  });

  it('loses an event whose append keeps failing, logging it with its name, and goes on with the next', async () => {
    const { bus, log, recorder, envelopes, logs } = setup();
    log.fail = (e) => e.event === 'qr_code';
    bus.publish(event('a', 'session.status'));
    bus.publish(event('a', 'qr_code'));
    bus.publish(event('a', 'message'));
    await recorder.idle();
    expect(envelopes.of('a').map((e) => [e.seq, e.event])).toEqual([[1, 'session.status'], [2, 'message']]);
    // Published together, the three went as one batch (4 attempts); then each alone, once.
    expect(log.attempts).toEqual([...Array.from({ length: 4 }, () => ['session.status', 'qr_code', 'message']).flat(), 'session.status', 'qr_code', 'message']);
    const lost = await logs.line('event lost');
    expect(lost).toMatchObject({ level: 50, sessionId: 'a', event: 'qr_code', lost: 1 });
    expect(recorder.lost).toBe(1);
  });

  it('bounds the events waiting per session: beyond the bound they are lost and logged', async () => {
    const { bus, log, recorder, envelopes, logs } = setup({ maxPendingPerSession: 3 });
    log.hold();
    for (let i = 0; i < 6; i++) bus.publish(event('a', 'message', { i }));
    bus.publish(event('b', 'message'));
    expect(recorder.lost).toBe(3);
    expect(logs.lines('event lost')).toHaveLength(3);
    log.release();
    await recorder.idle();
    expect(envelopes.of('a').map((e) => e.data.i)).toEqual([0, 1, 2]);
    expect(envelopes.of('b')).toHaveLength(1);
  });

  it('keeps handing envelopes to the other listeners when one throws', async () => {
    const { bus, recorder, envelopes, logs } = setup();
    recorder.onEnvelope(() => {
      throw new Error('listener bug');
    });
    const off = recorder.onEnvelope(() => undefined);
    off();
    bus.publish(event('a', 'message'));
    bus.publish(event('a', 'message'));
    await envelopes.count(2);
    expect((await logs.line('envelope listener failed')).seq).toBe(1);
    await recorder.idle();
    expect(logs.lines('envelope listener failed')).toHaveLength(2);
  });

  it('closes without waiting out retry delays, and takes nothing from the bus afterwards', async () => {
    const { bus, log, recorder, envelopes, logs } = setup({ retryDelaysMs: [60_000] });
    log.fail = () => true;
    bus.publish(event('a', 'message'));
    await logs.line('retrying');
    const started = Date.now();
    await recorder.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(recorder.lost).toBe(1);
    expect(log.attempts).toHaveLength(2);
    log.fail = () => false;
    bus.publish(event('a', 'message'));
    await recorder.idle();
    expect(envelopes.events).toEqual([]);
    expect(await log.lastSeq('a')).toBe(0);
  });

  it('implements EnvelopeSource over any EventLog', async () => {
    const bus = new EventBus(() => undefined);
    const log: EventLog = new MemoryEventLog();
    const recorder = new EventRecorder({ bus, log, logger: new LogCapture('silent').logger });
    bus.publish(event('a', 'message'));
    await recorder.idle();
    expect(await recorder.read('a', 0, 10)).toEqual(await log.read('a', 0, 10));
  });
});

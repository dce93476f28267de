import type { EventBus, GatewayEvent } from '../../src/events/event-bus.js';
import { AwaitableLog } from './awaitable-log.js';

/**
 * Every contract event the gateway publishes on its bus, in order, with a way to await the ones
 * still to come — so that tests wait for what happens instead of sleeping.
 */
export class GatewayEventLog extends AwaitableLog<GatewayEvent> {
  private readonly unsubscribe: () => void;

  constructor(bus: EventBus) {
    super();
    this.unsubscribe = bus.subscribe((event) => this.record(event));
  }

  protected summary(): string {
    return this.events.map((e) => `${e.sessionId}:${e.event}${e.event === 'session.status' ? `(${String(e.data.detail)})` : ''}`).join(', ');
  }

  of(sessionId: string, event?: string): GatewayEvent[] {
    return this.events.filter((e) => e.sessionId === sessionId && (event === undefined || e.event === event));
  }

  /** The gateway statuses (`detail` of `session.status`) a session went through. */
  statuses(sessionId: string): string[] {
    return this.of(sessionId, 'session.status').map((e) => String(e.data.detail));
  }

  /** The `nth` (1-based) `event` of the session ever published, waiting for it when it has not come yet. */
  async nth(sessionId: string, event: string, nth: number, timeoutMs = 2_000): Promise<GatewayEvent> {
    return this.until(() => this.of(sessionId, event)[nth - 1], timeoutMs, `${sessionId}: ${event} #${nth}`);
  }

  /** The `nth` `session.status` event of the session with this gateway status. */
  async nthStatus(sessionId: string, status: string, nth = 1, timeoutMs = 2_000): Promise<GatewayEvent> {
    return this.until(() => this.of(sessionId, 'session.status').filter((e) => e.data.detail === status)[nth - 1], timeoutMs, `${sessionId}: status ${status} #${nth}`);
  }

  close(): void {
    this.unsubscribe();
  }
}

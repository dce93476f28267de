import type { EventBus, GatewayEvent } from '../../src/events/event-bus.js';

/**
 * Every contract event the gateway publishes on its bus, in order, with a way to await the ones
 * still to come — so that tests wait for what happens instead of sleeping.
 */
export class GatewayEventLog {
  readonly events: GatewayEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(bus: EventBus) {
    this.unsubscribe = bus.subscribe((event) => {
      this.events.push(event);
      for (const wake of [...this.waiters]) wake();
    });
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

  /** Resolves with the first defined value `probe` returns, re-checked on every event. */
  async until<V>(probe: () => V | undefined, timeoutMs: number, what: string): Promise<V> {
    const now = probe();
    if (now !== undefined) return now;
    return new Promise<V>((resolve, reject) => {
      const wake = (): void => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        const seen = this.events.map((e) => `${e.sessionId}:${e.event}${e.event === 'session.status' ? `(${String(e.data.detail)})` : ''}`);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events so far: ${seen.join(', ') || 'none'}`));
      }, timeoutMs);
      this.waiters.add(wake);
    });
  }

  close(): void {
    this.unsubscribe();
  }
}

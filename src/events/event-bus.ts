import type { EngineEvent } from '../engines/engine.js';

/** A contract event as the gateway produces it, before the event log gives it an id and seq. */
export interface GatewayEvent {
  sessionId: string;
  /** Contract event name (`session.status`, `qr_code`, `message`…). */
  event: string;
  data: Record<string, unknown>;
  occurredAt: Date;
}

export type GatewayEventListener = (event: GatewayEvent) => void;
export type EngineEventTap = (sessionId: string, event: EngineEvent) => void;

/**
 * The one way up: the session manager publishes what engines say (raw, for the message store)
 * and the contract events it derives; stores, webhooks and SSE subscribe. Listeners run
 * synchronously and must not throw; a throwing one is reported and the others still run.
 */
export class EventBus {
  private readonly listeners = new Set<GatewayEventListener>();
  private readonly taps = new Set<EngineEventTap>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  subscribe(listener: GatewayEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  tapEngine(tap: EngineEventTap): () => void {
    this.taps.add(tap);
    return () => this.taps.delete(tap);
  }

  publish(event: GatewayEvent): void {
    for (const listener of this.listeners) this.guard(() => listener(event));
  }

  publishEngineEvent(sessionId: string, event: EngineEvent): void {
    for (const tap of this.taps) this.guard(() => tap(sessionId, event));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.onListenerError(error);
    }
  }
}

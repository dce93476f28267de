import type { Engine } from '../engines/engine.js';

type TimerName = 'qr' | 'ready' | 'reconnect' | 'idle';

/** The live, in-process side of one session: its engine instance, timers and counters. Never persisted. */
export class SessionRuntime {
  engine: Engine | null = null;
  private unsubscribe: (() => void) | null = null;
  /** QR codes shown since the last start. */
  qrCount = 0;
  /** Pairing codes requested since the last start. */
  pairingCodes = 0;
  lastQr: { qr: string; expiresAt: number } | null = null;
  /** Reconnect attempts since the session was last ready (or started by a user). */
  reconnects = 0;
  lastEventAt: number | null = null;
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();

  attach(engine: Engine, unsubscribe: () => void): void {
    this.engine = engine;
    this.unsubscribe = unsubscribe;
  }

  /** Forgets the engine (its later events are ignored) and returns it so the caller can stop it. */
  detach(): Engine | null {
    const engine = this.engine;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.engine = null;
    this.lastQr = null;
    return engine;
  }

  setTimer(name: TimerName, ms: number, fn: () => void): void {
    this.clearTimer(name);
    const timer = setTimeout(() => {
      this.timers.delete(name);
      fn();
    }, ms);
    timer.unref();
    this.timers.set(name, timer);
  }

  /** Restarts a running timer's countdown without replacing it (cheap, for the idle timer). */
  refreshTimer(name: TimerName): boolean {
    const timer = this.timers.get(name);
    if (!timer) return false;
    timer.refresh();
    return true;
  }

  hasTimer(name: TimerName): boolean {
    return this.timers.has(name);
  }

  clearTimer(name: TimerName): void {
    const timer = this.timers.get(name);
    if (timer) clearTimeout(timer);
    this.timers.delete(name);
  }

  clearAllTimers(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

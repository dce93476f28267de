import { dropOldest } from '../../bounded-map.js';

/** Keys remembered at most; beyond it the least recently refreshed are forgotten (and refreshed again on their next write). */
const MAX_KEYS = 10_000;

/** How often a key is refreshed at most, for a TTL: a tenth of it, at most a minute. */
export function refreshIntervalMs(ttlMs: number): number {
  return Math.max(1, Math.min(60_000, Math.floor(ttlMs / 10)));
}

/**
 * Which long-lived keys a write must refresh — their TTL, a trim, a score — when many writes touch
 * them: a history index or an event stream is refreshed at most once per `intervalMs` by this
 * process instead of by every write (a send moves its record four times; each move refreshed three
 * indexes). Whoever refreshes on this schedule must give the key `intervalMs` of slack (TTL + the
 * interval): then a key refreshed at R lives past R + TTL + interval, so it outlives everything
 * written until its next refresh, whichever process wrote it. A key must not be due again before its
 * own TTL runs out: the interval is at most a tenth of the TTL ({@link refreshIntervalMs}).
 * A key deleted meanwhile (its session deleted) must be forgotten, or a write in the rest of the
 * interval would recreate it without a TTL; so must the keys of a write that failed.
 */
export class RefreshSchedule {
  private readonly refreshed = new Map<string, number>();

  constructor(readonly intervalMs: number) {}

  /** True when `key` was not refreshed in the last interval; it is then noted refreshed at `now`. */
  due(key: string, now: number): boolean {
    const at = this.refreshed.get(key);
    if (at !== undefined && now - at < this.intervalMs) return false;
    // Re-inserted so that the map stays in refresh order (the oldest are dropped first).
    if (at !== undefined) this.refreshed.delete(key);
    this.refreshed.set(key, now);
    dropOldest(this.refreshed, MAX_KEYS);
    return true;
  }

  /** The next write of `key` refreshes it. */
  forget(key: string): void {
    this.refreshed.delete(key);
  }

  /** The next write of every key that starts with `prefix` refreshes it (a session deleted). */
  forgetPrefix(prefix: string): void {
    for (const key of this.refreshed.keys()) if (key.startsWith(prefix)) this.refreshed.delete(key);
  }

  /** The refreshes of one script, decided at `now`. */
  round(now: number): RefreshRound {
    return new RefreshRound(this, now);
  }
}

/** The keys one script refreshes: noted refreshed as they are asked for, forgotten again if the script fails. */
export class RefreshRound {
  private readonly keys: string[] = [];

  constructor(
    private readonly schedule: RefreshSchedule,
    private readonly now: number,
  ) {}

  /** '1' when `key` is due (the script refreshes it), else '0'. */
  flag(key: string | undefined): '1' | '0' {
    if (key === undefined || !this.schedule.due(key, this.now)) return '0';
    this.keys.push(key);
    return '1';
  }

  /** The script failed: the next write of its keys refreshes them. */
  undo(): void {
    for (const key of this.keys) this.schedule.forget(key);
  }
}

import type { EventBus } from '../events/event-bus.js';
import type { SessionRecord } from './session.js';

/** How often counted outcomes are written to the registry (the counters live in the cached record). */
const FLUSH_MS = 1_000;

/**
 * Keeps a session's `stats.sent` / `stats.failed` from the `message.status` events of its
 * outbound records (`sent` and `failed` are each reached at most once per record); `stats.received`
 * is counted by the lifecycle, which calls {@link changed}. Counting is in memory at once; the registry write is coalesced to one per session per second, and flushed on close.
 */
export class SessionStatsCounter {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly off: () => void;

  constructor(
    bus: EventBus,
    private readonly recordOf: (id: string) => SessionRecord | undefined,
    private readonly persist: (record: SessionRecord) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.off = bus.subscribe((event) => {
      if (event.event !== 'message.status') return;
      const field = event.data.status === 'sent' ? 'sent' : event.data.status === 'failed' ? 'failed' : null;
      const record = field ? this.recordOf(event.sessionId) : undefined;
      if (!field || !record) return;
      record.stats[field] += 1;
      this.changed(event.sessionId);
    });
  }

  /** The session's counters changed in its cached record: written with the next flush. */
  changed(sessionId: string): void {
    this.dirty.add(sessionId);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ids = [...this.dirty];
    this.dirty.clear();
    // All at once, not one after the other (100 busy sessions are 100 writes a second): the Redis
    // registry writes the puts of one turn in one MULTI.
    const writes: Promise<void>[] = [];
    for (const id of ids) {
      const record = this.recordOf(id);
      if (record) writes.push(this.persist(record).catch(this.onError));
    }
    await Promise.all(writes);
  }

  async close(): Promise<void> {
    this.off();
    await this.flush();
  }
}

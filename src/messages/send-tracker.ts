import type { MessageRecord } from './message.js';
import { dropOldest } from '../bounded-map.js';

/**
 * Which sessions have an engine send in flight in this process, so that the event pipeline can
 * hold a session's `message_ack` / `message_create` until the worker has recorded WhatsApp's id
 * (whatsapp-web.js emits them while `sendMessage` is still running). A lane runs one send at a
 * time, so one slot per session is enough. It also remembers the last known state of recent sends.
 */
export class SendTracker {
  private readonly inFlight = new Map<string, { settled: Promise<void>; settle: () => void }>();
  /** The last known state of recent sends by `<sessionId> <waMessageId>` (insertion-ordered, bounded). */
  private readonly recent = new Map<string, MessageRecord>();

  constructor(private readonly maxRecent = 10_000) {}

  /**
   * Keeps a record as last written, so that its acks find it without a lookup and can be applied
   * against it (a stale copy only costs the store a re-read: see MessageStore.updateStatus).
   */
  remember(record: MessageRecord): void {
    if (record.waMessageId === null) return;
    const key = `${record.sessionId} ${record.waMessageId}`;
    this.recent.delete(key);
    this.recent.set(key, record);
    dropOldest(this.recent, this.maxRecent);
  }

  recall(sessionId: string, waMessageId: string): MessageRecord | undefined {
    return this.recent.get(`${sessionId} ${waMessageId}`);
  }

  forgetSession(sessionId: string): void {
    for (const key of this.recent.keys()) if (key.startsWith(`${sessionId} `)) this.recent.delete(key);
  }

  /** Marks a send of `sessionId` as running; call the returned function when it is over (once). */
  begin(sessionId: string): () => void {
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const slot = { settled, settle };
    this.inFlight.set(sessionId, slot);
    return () => {
      if (this.inFlight.get(sessionId) === slot) this.inFlight.delete(sessionId);
      slot.settle();
    };
  }

  /** Resolves when no send of `sessionId` is running (at once when none is), or after `maxWaitMs`. */
  async settled(sessionId: string, maxWaitMs: number): Promise<void> {
    const slot = this.inFlight.get(sessionId);
    if (!slot) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([slot.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    clearTimeout(timer);
  }
}

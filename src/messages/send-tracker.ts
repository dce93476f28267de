/**
 * Which sessions have an engine send in flight in this process, so that the event pipeline can
 * hold a session's `message_ack` / `message_create` until the worker has recorded WhatsApp's id
 * (whatsapp-web.js emits them while `sendMessage` is still running). A lane runs one send at a
 * time, so one slot per session is enough.
 */
export class SendTracker {
  private readonly inFlight = new Map<string, { settled: Promise<void>; settle: () => void }>();

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

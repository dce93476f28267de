/** What a {@link ScriptBatch} does with the calls it collects. */
export interface ScriptBatchOptions<T, R> {
  /** Calls sent in one script at most; the call that reaches it sends the batch at once. */
  maxPerScript: number;
  /** Runs `flush` once the calls of this turn are in (`process.nextTick`, `setImmediate`). */
  schedule: (flush: () => void) => void;
  /** Sends the calls in one script; its reply holds one entry per call, in call order. */
  send: (items: readonly T[]) => Promise<unknown>;
  /** A call's result from its entry of the reply; throws to reject that call alone. */
  settle: (item: T, entry: unknown) => R;
}

interface Waiting<T, R> {
  item: T;
  /** Run right after the batch's script is sent (see {@link ScriptBatch.add}). */
  alongside: (() => void) | undefined;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for a Redis store: the calls made in one turn of the event loop leave together in
 * one script — one socket write and one reply for all of them — and each call is answered from its
 * own entry of the reply (a script that fails fails them all). Used by the event log's appends, the
 * message store's writes (inserts, compare-and-sets, payload deletes), the fan-out cursors and the
 * session registry's puts (one MULTI there).
 */
export class ScriptBatch<T, R> {
  private readonly pending: Waiting<T, R>[] = [];

  constructor(private readonly options: ScriptBatchOptions<T, R>) {}

  /**
   * `alongside` runs right after the script holding `item` is sent, before its reply, in call order:
   * a command it sends on the same connection reaches Redis after the script, so Redis runs it
   * after the script (the accept path adds a send's job this way, behind its record's insert).
   */
  add(item: T, alongside?: () => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject, alongside });
      if (this.pending.length >= this.options.maxPerScript) void this.flush();
      else if (this.pending.length === 1) this.options.schedule(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    let reply: unknown;
    try {
      const sending = this.options.send(batch.map((waiting) => waiting.item));
      for (const waiting of batch) waiting.alongside?.();
      reply = await sending;
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, i) => {
      try {
        waiting.resolve(this.options.settle(waiting.item, Array.isArray(reply) ? reply[i] : undefined));
      } catch (error) {
        waiting.reject(error);
      }
    });
  }
}

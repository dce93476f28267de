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
  /**
   * Answer the batches in the order they were sent, even when a later one is replied to first (a
   * script re-sent after NOSCRIPT runs after the scripts sent behind it). Default false.
   */
  ordered?: boolean;
}

/** A batch's script: its reply, or why it failed. */
type Outcome = { ok: true; reply: unknown } | { ok: false; error: unknown };

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
  /** `ordered`: settles when the last batch sent has been answered. */
  private answered: Promise<void> = Promise.resolve();

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

  private flush(): Promise<void> {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return Promise.resolve();
    let sending: Promise<unknown>;
    try {
      sending = this.options.send(batch.map((waiting) => waiting.item));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return Promise.resolve();
    }
    for (const waiting of batch) waiting.alongside?.();
    const replied = sending.then(
      (reply): Outcome => ({ ok: true, reply }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
    if (!this.options.ordered) return replied.then((outcome) => this.answer(batch, outcome));
    const previous = this.answered;
    const answered = replied.then(async (outcome) => {
      await previous;
      this.answer(batch, outcome);
    });
    this.answered = answered;
    return answered;
  }

  private answer(batch: readonly Waiting<T, R>[], outcome: Outcome): void {
    if (!outcome.ok) {
      for (const waiting of batch) waiting.reject(outcome.error);
      return;
    }
    const { reply } = outcome;
    batch.forEach((waiting, i) => {
      try {
        waiting.resolve(this.options.settle(waiting.item, Array.isArray(reply) ? reply[i] : undefined));
      } catch (error) {
        waiting.reject(error);
      }
    });
  }
}

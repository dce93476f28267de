/**
 * An append-only log of what something emitted, with a way to await entries still to come —
 * so that tests wait for what happens instead of sleeping.
 */
export abstract class AwaitableLog<E> {
  readonly events: E[] = [];
  private readonly waiters = new Set<() => void>();

  protected record(entry: E): void {
    this.events.push(entry);
    for (const wake of [...this.waiters]) wake();
  }

  /** How the log describes itself in a timeout message. */
  protected abstract summary(): string;

  /** Resolves with the first defined value `probe` returns, re-checked on every new entry. */
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
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events so far: ${this.summary() || 'none'}`));
      }, timeoutMs);
      this.waiters.add(wake);
    });
  }
}

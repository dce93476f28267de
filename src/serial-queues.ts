/**
 * Tasks run one at a time per key, in the order they were pushed, keys independent of each other —
 * a session's events in arrival order while sessions go on concurrently. One array per busy key and
 * one loop draining it, rather than a promise chain per task (`then` + `catch` + `finally`: five or
 * more promises and their closures for every event, docs/benchmarks.md §15). A task starts in a
 * later microtask, never inside `push`.
 */
export class SerialQueues {
  private readonly queues = new Map<string, (() => Promise<void>)[]>();
  private readonly drains = new Map<string, Promise<void>>();

  /** `onError`: what a task threw (the key's next task runs all the same). */
  constructor(private readonly onError: (key: string, error: unknown) => void) {}

  /** Runs `task` once every task pushed before it for `key` has settled. */
  push(key: string, task: () => Promise<void>): void {
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(task);
      return;
    }
    const fresh = [task];
    this.queues.set(key, fresh);
    this.drains.set(key, this.drain(key, fresh));
  }

  /** A task of `key` is running or waiting. */
  busy(key: string): boolean {
    return this.queues.has(key);
  }

  /** Tasks of `key` waiting behind the one running. */
  waiting(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  /** Resolves once no key has a task left (those pushed meanwhile included). */
  async idle(): Promise<void> {
    while (this.drains.size > 0) await Promise.all([...this.drains.values()]);
  }

  private async drain(key: string, queue: (() => Promise<void>)[]): Promise<void> {
    await Promise.resolve();
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      try {
        await task();
      } catch (error) {
        this.onError(key, error);
      }
    }
    // In the same synchronous step that found the queue empty: a task pushed later starts a new drain.
    this.queues.delete(key);
    this.drains.delete(key);
  }
}

/**
 * Waits that end early when an AbortSignal aborts, and leave no timer or listener behind — for the
 * queues' lanes, the send processor's pacing and the shutdown's drain.
 */
export type WaitOutcome = 'elapsed' | 'aborted' | 'woken';

/**
 * Waits `ms`, or less: `'aborted'` when `signal` aborts, `'woken'` when the `wake` function handed
 * to `register` is called, `'elapsed'` otherwise. Leaves no timer or listener behind: `register`
 * returns its own unregister function, called once the wait is over.
 */
export function abortableWait(ms: number, signal: AbortSignal, register?: (wake: () => void) => () => void): Promise<WaitOutcome> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const state = { done: false };
    let unregister: (() => void) | undefined;
    const finish = (outcome: WaitOutcome): void => {
      if (state.done) return;
      state.done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      unregister?.();
      resolve(outcome);
    };
    const onAbort = (): void => finish('aborted');
    const timer = setTimeout(() => finish('elapsed'), Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
    const off = register?.(() => finish('woken'));
    if (state.done) off?.();
    else unregister = off;
  });
}

/**
 * Resolves after `ms`, or once `signal` aborts (never rejects). The timer is cleared on abort,
 * so a closed queue leaves nothing that keeps the process alive.
 */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  await abortableWait(ms, signal);
}

/** Resolves when `signal` aborts (at once if it has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Resolves when `promise` settles or `signal` aborts. */
export function settledOrAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}

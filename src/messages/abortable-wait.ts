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

import { describe, expect, it } from 'vitest';
import { closeReserveMs, gracefulShutdown, signalExitCode, type ShutdownSteps } from '../../src/lifecycle/graceful-shutdown.js';
import { LogCapture } from '../helpers/log-capture.js';

/** A shutdown run with steps that record what happened and when; `exited` resolves with the first exit code. */
function harness(timeoutMs: number, steps: Partial<ShutdownSteps>) {
  const log = new LogCapture();
  const calls: string[] = [];
  const codes: number[] = [];
  let started = 0;
  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const onSignal = gracefulShutdown({
    timeoutMs,
    logger: log.logger,
    exit: (code) => {
      calls.push(`exit ${code}`);
      codes.push(code);
      resolveExit(code);
    },
    steps: {
      stopAccepting: () => {
        calls.push('stopAccepting');
        steps.stopAccepting?.();
      },
      drain: async (signal) => {
        calls.push('drain');
        await steps.drain?.(signal);
        calls.push('drained');
      },
      close: async () => {
        calls.push('close');
        await steps.close?.();
        calls.push('closed');
      },
    },
  });
  return {
    log,
    calls,
    codes,
    exited,
    signal: (name: NodeJS.Signals) => {
      started ||= Date.now();
      onSignal(name);
    },
    elapsed: () => Date.now() - started,
  };
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('gracefulShutdown', () => {
  it('stops accepting work before anything else, drains, closes, then exits 0', async () => {
    let release: () => void = () => undefined;
    const h = harness(5_000, { drain: () => new Promise<void>((resolve) => (release = resolve)) });
    h.signal('SIGTERM');
    // Synchronous: the flag is set before the handler returns, so the next request already sees it.
    expect(h.calls).toEqual(['stopAccepting', 'drain']);
    release();
    expect(await h.exited).toBe(0);
    expect(h.calls).toEqual(['stopAccepting', 'drain', 'drained', 'close', 'closed', 'exit 0']);
    await h.log.line('shutdown complete');
  });

  it('closes anyway when the drain outlasts its share of SHUTDOWN_TIMEOUT, telling the drain through its signal', async () => {
    let sawAbort = false;
    const h = harness(1_000, {
      drain: (signal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve();
          }),
        ),
    });
    h.signal('SIGTERM');
    expect(await h.exited).toBe(0);
    expect(sawAbort).toBe(true);
    // The drain gets 1000 - 400 ms; the close the rest.
    expect(h.elapsed()).toBeGreaterThanOrEqual(1_000 - closeReserveMs(1_000) - 5);
    expect(h.elapsed()).toBeLessThan(1_000);
    expect(h.calls.slice(-3)).toEqual(['close', 'closed', 'exit 0']);
    await h.log.line('work still under way after the drain time');
  });

  it('does not wait for a drain that ignores its signal', async () => {
    const h = harness(500, { drain: never });
    h.signal('SIGTERM');
    expect(await h.exited).toBe(0);
    expect(h.calls).toEqual(['stopAccepting', 'drain', 'close', 'closed', 'exit 0']);
  });

  it('exits 1 at SHUTDOWN_TIMEOUT when closing hangs', async () => {
    const h = harness(400, { close: never });
    h.signal('SIGTERM');
    expect(await h.exited).toBe(1);
    expect(h.elapsed()).toBeGreaterThanOrEqual(395);
    await h.log.line('shutdown took longer than SHUTDOWN_TIMEOUT');
  });

  it('exits 1 when closing fails, and 0 when only the drain failed', async () => {
    const failedClose = harness(2_000, {
      close: () => Promise.reject(new Error('store flush failed')),
    });
    failedClose.signal('SIGTERM');
    expect(await failedClose.exited).toBe(1);
    await failedClose.log.line('shutdown failed');

    const failedDrain = harness(2_000, { drain: () => Promise.reject(new Error('queue close failed')) });
    failedDrain.signal('SIGTERM');
    expect(await failedDrain.exited).toBe(0);
    expect(failedDrain.calls).toContain('closed');
    await failedDrain.log.line('draining failed; closing anyway');
  });

  it('exits at once on a second signal, with 128 + its number, while the drain is still blocked', async () => {
    const h = harness(60_000, { drain: never });
    h.signal('SIGTERM');
    h.signal('SIGINT');
    expect(await h.exited).toBe(130);
    expect(h.elapsed()).toBeLessThan(100);
    expect(h.calls).toEqual(['stopAccepting', 'drain', 'exit 130']);
    await h.log.line('second signal: exiting now');
    expect(signalExitCode('SIGTERM')).toBe(143);
  });

  it('keeps 40 % of SHUTDOWN_TIMEOUT, at most 10 s, for closing', () => {
    expect(closeReserveMs(25_000)).toBe(10_000);
    expect(closeReserveMs(60_000)).toBe(10_000);
    expect(closeReserveMs(5_000)).toBe(2_000);
  });
});

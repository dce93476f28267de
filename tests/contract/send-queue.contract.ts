import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { untilAborted } from '../../src/abortable-wait.js';
import type { SendQueueErrorHandler } from '../../src/queue/lane-job.js';
import type { SendJob, SendJobResult, SendQueue } from '../../src/queue/send-queue.js';
import { AwaitableLog } from '../helpers/awaitable-log.js';

export interface SendQueueOpenOptions {
  onError?: SendQueueErrorHandler;
}

export interface SendQueueHarness {
  /** A fresh queue on empty storage; a thrown processor is retried after a short delay (≤ 100 ms). */
  open(options?: SendQueueOpenOptions): Promise<SendQueue>;
  /** Durable drivers only: a new instance on the storage of `queue`, which the test has closed. */
  reopen?: (queue: SendQueue, options?: SendQueueOpenOptions) => Promise<SendQueue>;
}

interface Call {
  sessionId: string;
  messageId: string;
  at: number;
}

const DONE: SendJobResult = { outcome: 'done' };

/** Every processor call, in order, awaitable. */
export class ProcessorCalls extends AwaitableLog<Call> {
  /** A processor that records each call and answers done: `queue.start(calls.done)`. */
  readonly done = async (job: SendJob): Promise<SendJobResult> => {
    this.add(job);
    return DONE;
  };

  add(job: SendJob): void {
    this.record({ sessionId: job.sessionId, messageId: job.messageId, at: performance.now() });
  }

  of(sessionId: string): string[] {
    return this.events.filter((c) => c.sessionId === sessionId).map((c) => c.messageId);
  }

  /** Resolves once `sessionId` has had `count` calls. */
  async reach(sessionId: string, count: number, timeoutMs = 15_000): Promise<void> {
    await this.until(() => (this.of(sessionId).length >= count ? true : undefined), timeoutMs, `${count} calls for ${sessionId}`);
  }

  protected summary(): string {
    return this.events.slice(-20).map((c) => c.messageId).join(', ');
  }
}

/** Starts `queue` with a recording processor, adds one job to each session's lane and waits until each is made. */
export async function startAndMakeOneEach(queue: SendQueue, sessions: readonly string[]): Promise<void> {
  const calls = new ProcessorCalls();
  await queue.start(calls.done);
  for (const s of sessions) await queue.add(job(s, 1));
  for (const s of sessions) await calls.reach(s, 1);
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when the signal aborts (the queue's own helper). */
export const aborted = untilAborted;

export const job = (sessionId: string, n: number | string): SendJob => ({ sessionId, messageId: `m-${sessionId}-${n}` });
export const ids = (sessionId: string, ...ns: (number | string)[]): string[] => ns.map((n) => job(sessionId, n).messageId);
const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

/**
 * A harness for a durable driver whose instances live under a key prefix: `open` makes one on a
 * fresh prefix, `reopen` another on the prefix of the one given.
 */
export function prefixedHarness(openOn: (prefix: string, options?: SendQueueOpenOptions) => Promise<SendQueue>, newPrefix: () => string): SendQueueHarness {
  const prefixes = new WeakMap<object, string>();
  const open = async (prefix: string, options?: SendQueueOpenOptions): Promise<SendQueue> => {
    const queue = await openOn(prefix, options);
    prefixes.set(queue, prefix);
    return queue;
  };
  return {
    open: (options) => open(newPrefix(), options),
    reopen: (queue, options) => open(prefixes.get(queue) ?? '', options),
  };
}

/** The expectations every SendQueue driver meets (memory, BullMQ). */
export function describeSendQueueContract(name: string, harness: SendQueueHarness): void {
  describe(`SendQueue contract: ${name}`, () => {
    const opened: SendQueue[] = [];
    const open = async (options?: SendQueueOpenOptions): Promise<SendQueue> => {
      const queue = await harness.open(options);
      opened.push(queue);
      return queue;
    };
    const reopen = async (queue: SendQueue, reopenFn: NonNullable<SendQueueHarness['reopen']>): Promise<SendQueue> => {
      const next = await reopenFn(queue);
      opened.push(next);
      return next;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((q) => q.close()));
    });

    it('keeps each session in add order and runs sessions side by side (50 sessions × 100 jobs, interleaved)', async () => {
      const queue = await open();
      const calls = new ProcessorCalls();
      await queue.start(calls.done);
      const sessions = range(50).map((i) => `s${i}`);
      const added = new Map(sessions.map((s) => [s, [] as string[]]));
      // All adds in flight at once, sessions interleaved; a lane's order is the order its adds resolved.
      await Promise.all(range(100).flatMap((n) => sessions.map(async (s) => {
        const j = job(s, n);
        await queue.add(j);
        added.get(s)?.push(j.messageId);
      })));
      await calls.until(() => (calls.events.length >= 5_000 ? true : undefined), 25_000, '5000 calls');
      for (const s of sessions) expect(calls.of(s), s).toEqual(added.get(s));
      expect(calls.events).toHaveLength(5_000);
    }, 30_000); // typically 1–5 s for BullMQ; slack for a loaded machine

    it('holds back only the session whose processor is busy; close() aborts it and returns', async () => {
      const queue = await open();
      const calls = new ProcessorCalls();
      const blockedIn = deferred();
      await queue.start(async (j, signal) => {
        calls.add(j);
        if (j.sessionId !== 'blocked') return DONE;
        blockedIn.resolve();
        await aborted(signal);
        return { outcome: 'retry', delayMs: 0 };
      });
      await queue.add(job('blocked', 1));
      await queue.add(job('blocked', 2));
      await blockedIn.promise;
      for (const n of range(10)) await queue.add(job('free', n));
      await calls.reach('free', 10);
      expect(calls.of('free')).toEqual(ids('free', ...range(10)));
      expect(calls.of('blocked')).toEqual(ids('blocked', 1));
      expect(await queue.counts('blocked')).toEqual({ waiting: 1, active: 1 });
      await queue.close(); // would time the test out if the signal did not end the processor
      if (!harness.reopen) return;
      const next = await reopen(queue, harness.reopen);
      const nextCalls = new ProcessorCalls();
      await next.start(async (j) => {
        nextCalls.add(j);
        return DONE;
      });
      await nextCalls.reach('blocked', 2);
      expect(nextCalls.of('blocked')).toEqual(ids('blocked', 1, 2));
    });

    it('keeps a retried job at the head of its session while other sessions flow', async () => {
      const queue = await open();
      const calls = new ProcessorCalls();
      const firstRetry = deferred();
      const head = job('r', 1).messageId;
      await queue.start(async (j) => {
        calls.add(j);
        const tries = calls.events.filter((c) => c.messageId === head).length;
        if (j.messageId === head && tries === 1) {
          firstRetry.resolve();
          return { outcome: 'retry', delayMs: 400 };
        }
        if (j.messageId === head && tries === 2) return { outcome: 'retry', delayMs: 20 };
        return DONE;
      });
      for (const n of range(3)) await queue.add(job('r', n));
      await firstRetry.promise;
      for (const n of range(3)) await queue.add(job('o', n));
      await calls.reach('o', 3);
      // The other session went through while the head of `r` waited to retry; that job counts as waiting.
      expect(calls.of('r')).toEqual(ids('r', 1));
      expect(await queue.counts('r')).toEqual({ waiting: 3, active: 0 });
      await calls.reach('r', 5);
      expect(calls.of('r')).toEqual(ids('r', 1, 1, 1, 2, 3));
      const headCalls = calls.events.filter((c) => c.messageId === head);
      expect((headCalls[1]?.at ?? 0) - (headCalls[0]?.at ?? 0)).toBeGreaterThanOrEqual(398);
      expect((headCalls[2]?.at ?? 0) - (headCalls[1]?.at ?? 0)).toBeGreaterThanOrEqual(18);
    });

    it('paces a session: at least pauseMs between the end of a job and the next one', async () => {
      const queue = await open();
      const calls = new ProcessorCalls();
      await queue.start(async (j) => {
        calls.add(j);
        return { outcome: 'done', pauseMs: 150 };
      });
      for (const n of range(3)) await queue.add(job('p', n));
      await calls.reach('p', 3);
      const at = calls.events.map((c) => c.at);
      for (let i = 1; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBeGreaterThanOrEqual(148);
    });

    it('retries a job whose processor throws, and tells onError', async () => {
      const errors: { error: unknown; job: SendJob }[] = [];
      const queue = await open({ onError: (error, j) => j && errors.push({ error, job: j }) });
      const calls = new ProcessorCalls();
      const boom = new Error('boom');
      await queue.start(async (j) => {
        calls.add(j);
        if (j.messageId === job('t', 1).messageId && calls.of('t').length === 1) throw boom;
        return DONE;
      });
      await queue.add(job('t', 1));
      await queue.add(job('t', 2));
      await calls.reach('t', 3);
      expect(calls.of('t')).toEqual(ids('t', 1, 1, 2));
      expect(errors).toHaveLength(1);
      expect(errors[0]?.error).toBe(boom);
      expect(errors[0]?.job).toEqual(job('t', 1));
    });

    it('counts waiting and active jobs per session and over all sessions', async () => {
      const queue = await open();
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
      for (const n of range(3)) await queue.add(job('a', n));
      for (const n of range(2)) await queue.add(job('b', n));
      expect(await queue.counts('a')).toEqual({ waiting: 3, active: 0 });
      expect(await queue.counts()).toEqual({ waiting: 5, active: 0 });
      expect(await queue.counts('none')).toEqual({ waiting: 0, active: 0 });
      const calls = new ProcessorCalls();
      const gate = deferred();
      await queue.start(async (j) => {
        calls.add(j);
        await gate.promise;
        return DONE;
      });
      await calls.reach('a', 1);
      await calls.reach('b', 1);
      expect(await queue.counts('a')).toEqual({ waiting: 2, active: 1 });
      expect(await queue.counts('b')).toEqual({ waiting: 1, active: 1 });
      expect(await queue.counts()).toEqual({ waiting: 3, active: 2 });
      gate.resolve();
      await calls.until(() => (calls.events.length === 5 ? true : undefined), 10_000, '5 calls');
      // The last job completes just after its processor returns.
      await vi.waitFor(async () => expect(await queue.counts()).toEqual({ waiting: 0, active: 0 }), { timeout: 5_000, interval: 20 });
    });

    it('removeSession drops the waiting jobs, which are never processed; the session can come back', async () => {
      const queue = await open();
      for (const n of range(3)) await queue.add(job('gone', n));
      for (const n of range(2)) await queue.add(job('kept', n));
      expect(await queue.removeSession('gone')).toBe(3);
      expect(await queue.removeSession('never-seen')).toBe(0);
      expect(await queue.counts('gone')).toEqual({ waiting: 0, active: 0 });
      const calls = new ProcessorCalls();
      const busyIn = deferred();
      await queue.start(async (j, signal) => {
        calls.add(j);
        if (j.messageId === job('busy', 1).messageId) {
          busyIn.resolve();
          await aborted(signal); // removeSession aborts the running job's signal, then waits for it
        }
        return DONE;
      });
      for (const n of range(4)) await queue.add(job('busy', n));
      await busyIn.promise;
      expect(await queue.removeSession('busy')).toBe(3);
      await queue.add(job('busy', 5));
      await calls.reach('kept', 2);
      await calls.reach('busy', 2);
      expect(calls.of('busy')).toEqual(ids('busy', 1, 5));
      expect(calls.of('gone')).toEqual([]);
      expect(calls.of('kept')).toEqual(ids('kept', 1, 2));
    });

    it('tells whether it holds a job: from its add until the processor is done with it', async () => {
      const queue = await open();
      expect(await queue.holds(job('h', 1))).toBe(false);
      await queue.add(job('h', 1));
      expect(await queue.holds(job('h', 1))).toBe(true);
      expect(await queue.holds(job('h', 2))).toBe(false);
      expect(await queue.holds(job('other', 1))).toBe(false);
      const release = deferred();
      const inside = deferred();
      const calls = new ProcessorCalls();
      await queue.start(async (j) => {
        calls.add(j);
        inside.resolve();
        await release.promise;
        return DONE;
      });
      await inside.promise;
      expect(await queue.holds(job('h', 1))).toBe(true);
      release.resolve();
      await calls.reach('h', 1);
      await vi.waitFor(async () => expect(await queue.holds(job('h', 1))).toBe(false), { timeout: 5_000, interval: 20 });
    });

    it('ignores a job added again while the queue still holds it', async () => {
      const queue = await open();
      await queue.add(job('d', 1));
      await Promise.all([queue.add(job('d', 1)), queue.add(job('d', 1))]);
      await queue.add(job('d', 2));
      expect(await queue.counts('d')).toEqual({ waiting: 2, active: 0 });
      const calls = new ProcessorCalls();
      await queue.start(calls.done);
      await calls.reach('d', 2);
      expect(calls.of('d')).toEqual(ids('d', 1, 2));
    });

    it('close() ends a long retry wait at once; a durable queue offers that job first on the next start', async () => {
      const queue = await open();
      const calls = new ProcessorCalls();
      const waiting = deferred();
      await queue.start(async (j) => {
        calls.add(j);
        if (j.messageId !== job('c', 1).messageId) return DONE;
        waiting.resolve();
        return { outcome: 'retry', delayMs: 60_000 };
      });
      for (const n of range(3)) await queue.add(job('c', n));
      await waiting.promise;
      await queue.close(); // a 60 s wait would time the test out
      expect(calls.of('c')).toEqual(ids('c', 1));
      await queue.close(); // idempotent
      if (!harness.reopen) return;
      const next = await reopen(queue, harness.reopen);
      expect(await next.counts('c')).toEqual({ waiting: 3, active: 0 });
      const nextCalls = new ProcessorCalls();
      await next.start(async (j) => {
        nextCalls.add(j);
        return DONE;
      });
      await nextCalls.reach('c', 3);
      expect(nextCalls.of('c')).toEqual(ids('c', 1, 2, 3));
    });

    it('rejects add after close', async () => {
      const queue = await open();
      await queue.close();
      await expect(queue.add(job('late', 1))).rejects.toThrow();
    });
  });
}

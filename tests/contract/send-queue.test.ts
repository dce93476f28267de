import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
import { BullmqSendQueue, type BullmqSendQueueOptions } from '../../src/queue/bullmq-send-queue.js';
import { MemorySendQueue } from '../../src/queue/memory-send-queue.js';
import { queueSuite } from '../helpers/queue-suite.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { connectionsNamed } from '../helpers/redis-stats.js';
import { ProcessorCalls, deferred, describeSendQueueContract, ids, job, prefixedHarness, startAndMakeOneEach } from './send-queue.contract.js';

const ERROR_RETRY_MS = 50;

describeSendQueueContract('memory', {
  open: async (options = {}) => new MemorySendQueue({ ...options, errorRetryMs: ERROR_RETRY_MS }),
});

const newPrefix = (): string => `sq${randomBytes(6).toString('hex')}`;

/** A BullMQ queue on a prefix of its own (or the given one). Locks short enough to exercise renewal. */
const openBullmq = (prefix: string, options: Partial<BullmqSendQueueOptions> = {}): Promise<BullmqSendQueue> =>
  BullmqSendQueue.open({ redisUrl: inject('redisUrl'), prefix, lockDurationMs: 4_000, stalledIntervalMs: 1_000, errorRetryMs: ERROR_RETRY_MS, ...options });

describeSendQueueContract('bullmq', prefixedHarness((prefix, options) => openBullmq(prefix, options), newPrefix));

describe('bullmq send queue', () => {
  const { admin, track } = queueSuite<BullmqSendQueue>();
  const open = async (prefix: string, options: Partial<BullmqSendQueueOptions> = {}): Promise<BullmqSendQueue> => track(await openBullmq(prefix, options));

  const connectionsOf = (prefix: string): Promise<string[]> => connectionsNamed(admin, prefix);

  it('recovers a job whose process died mid-processing: first, then the rest of its lane in order', async () => {
    const prefix = newPrefix();
    const short = { lockDurationMs: 1_000, stalledIntervalMs: 300 };
    const dying = await open(prefix, short);
    const entered = deferred();
    await dying.start(async (j) => {
      if (j.messageId !== job('k', 1).messageId) return { outcome: 'done' };
      entered.resolve();
      return new Promise(() => undefined); // never returns: the process "dies" in here
    });
    for (const n of [1, 2, 3, 4]) await dying.add(job('k', n));
    await dying.add(job('k', 2)); // a duplicate of a waiting job: ignored
    await entered.promise;
    await dying.crashForTests();
    // Cut, not quit: the server notices the closed sockets a moment later.
    await vi.waitFor(async () => expect(await connectionsOf(prefix)).toEqual([]), { timeout: 5_000, interval: 20 });

    const next = await open(prefix, short);
    expect(await next.counts('k')).toEqual({ waiting: 3, active: 1 });
    const calls = new ProcessorCalls();
    await next.start(calls.done);
    await calls.reach('k', 4);
    expect(calls.of('k')).toEqual(ids('k', 1, 2, 3, 4));
  });

  it('puts a job interrupted by close() back at the taking end of its wait list, with no attempt counted', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix);
    const waiting = deferred();
    await queue.start(async (j) => {
      if (j.messageId !== job('w', 1).messageId) return { outcome: 'done' };
      waiting.resolve();
      return { outcome: 'retry', delayMs: 60_000 };
    });
    for (const n of [1, 2, 3]) await queue.add(job('w', n));
    await waiting.promise;
    expect(await admin.lrange(`${prefix}:bull:send-w:active`, 0, -1)).toEqual(ids('w', 1));
    await queue.close();
    // Adds LPUSH and workers RPOPLPUSH: the right end is the next job taken.
    expect(await admin.lrange(`${prefix}:bull:send-w:wait`, 0, -1)).toEqual(ids('w', 3, 2, 1));
    expect(await admin.llen(`${prefix}:bull:send-w:active`)).toBe(0);
    const hash = await admin.hgetall(`${prefix}:bull:send-w:${job('w', 1).messageId}`);
    expect(hash.failedReason).toBeUndefined();
    expect(Number(hash.atm ?? 0)).toBe(0);
    expect(await admin.exists(`${prefix}:bull:send-w:limiter`)).toBe(0);
  });

  it('keeps the lock of a job waiting to retry longer than lockDuration (no redelivery)', async () => {
    const queue = await open(newPrefix(), { lockDurationMs: 500, stalledIntervalMs: 150 });
    const calls = new ProcessorCalls();
    await queue.start(async (j) => {
      calls.add(j);
      return calls.of('l').length === 1 ? { outcome: 'retry', delayMs: 1_500 } : { outcome: 'done' };
    });
    await queue.add(job('l', 1));
    await queue.add(job('l', 2));
    await calls.reach('l', 3);
    expect(calls.of('l')).toEqual(ids('l', 1, 1, 2));
  });

  it('costs one connection per started lane plus two, and closes every connection it opened', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix);
    await startAndMakeOneEach(queue, ['x', 'y', 'z']);
    expect(await connectionsOf(prefix)).toHaveLength(2 + 3);
    await queue.close();
    expect(await connectionsOf(prefix)).toEqual([]);
  });

  it('at start drops the lanes an earlier run left empty (keys, lane set, no Worker) and keeps those with jobs', async () => {
    const prefix = newPrefix();
    const first = await open(prefix);
    const calls = new ProcessorCalls();
    await first.start(async (j) => {
      calls.add(j);
      return j.sessionId === 'busy' ? { outcome: 'retry', delayMs: 60_000 } : { outcome: 'done' };
    });
    for (const s of ['gone', 'idle', 'busy']) await first.add(job(s, 1));
    await first.add(job('busy', 2));
    for (const s of ['gone', 'idle', 'busy']) await calls.reach(s, 1);
    await first.close();
    expect((await admin.smembers(`${prefix}:send:lanes`)).sort()).toEqual(['busy', 'gone', 'idle']);

    const next = await open(prefix);
    const later = new ProcessorCalls();
    await next.start(async (j) => {
      later.add(j);
      return { outcome: 'done' };
    });
    expect((await admin.smembers(`${prefix}:send:lanes`)).sort()).toEqual(['busy']);
    expect(await admin.keys(`${prefix}:bull:send-gone:*`)).toEqual([]);
    await later.reach('busy', 2);
    expect(later.of('busy')).toEqual(ids('busy', 1, 2));
    // Worker + producer connections, and the one lane with jobs.
    expect(await connectionsOf(prefix)).toHaveLength(2 + 1);
    // A dropped lane is made again by its next add.
    await next.add(job('idle', 2));
    await later.reach('idle', 1);
    expect(later.of('idle')).toEqual(ids('idle', 2));
    expect(await admin.sismember(`${prefix}:send:lanes`, 'idle')).toBe(1);
  });

  it('closes within seconds when Redis is already away (shutdown during an outage), its active job kept for the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wagw-sq-'));
    let server = await startRedisServer({ dir, appendOnly: true });
    const prefix = newPrefix();
    const short = { lockDurationMs: 1_000, stalledIntervalMs: 300 };
    const errors: unknown[] = [];
    const queue = await BullmqSendQueue.open({ redisUrl: server.url, prefix, ...short, onError: (error) => errors.push(error) });
    try {
      const entered = deferred();
      await queue.start(async () => {
        entered.resolve();
        return { outcome: 'retry', delayMs: 60_000 };
      });
      await queue.add(job('o', 1));
      await queue.add(job('o', 2));
      await entered.promise;
      await server.stop();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000, interval: 20 });
      const started = Date.now();
      await queue.close();
      expect(Date.now() - started).toBeLessThan(3_000);

      server = await startRedisServer({ dir, appendOnly: true, port: server.port });
      const next = await BullmqSendQueue.open({ redisUrl: server.url, prefix, ...short });
      const calls = new ProcessorCalls();
      await next.start(calls.done);
      await calls.reach('o', 2);
      expect(calls.of('o')).toEqual(ids('o', 1, 2));
      await next.close();
    } finally {
      await queue.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects session ids that cannot be part of a Redis key', async () => {
    const queue = await open(newPrefix());
    await expect(queue.add({ sessionId: 'a:b', messageId: 'm-1' })).rejects.toThrow(/invalid session id/);
  });
});

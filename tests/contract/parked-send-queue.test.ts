import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, inject, it, vi } from 'vitest';
import { BullmqSendQueue, type BullmqSendQueueOptions } from '../../src/queue/bullmq-send-queue.js';
import { KEEP_FAILED, LANE_JOB_NAME, PARK_DELAY_MS } from '../../src/queue/parked-jobs.js';
import { ParkedSendQueue, type ParkedSendQueueOptions } from '../../src/queue/parked-send-queue.js';
import type { SendJobResult } from '../../src/queue/send-queue.js';
import { queueSuite } from '../helpers/queue-suite.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { connectionsNamed } from '../helpers/redis-stats.js';
import { ProcessorCalls, deferred, describeSendQueueContract, ids, job, prefixedHarness, startAndMakeOneEach } from './send-queue.contract.js';

const ERROR_RETRY_MS = 50;
const DONE: SendJobResult = { outcome: 'done' };
const newPrefix = (): string => `pq${randomBytes(6).toString('hex')}`;
/** Locks short enough that a next instance recovers a dead one's ACTIVE job within a second. */
const SHORT_LOCKS = { lockDurationMs: 1_000, stalledIntervalMs: 300 };

async function openParked(prefix: string, options: ParkedSendQueueOptions = {}, bullOptions: Partial<BullmqSendQueueOptions> = {}): Promise<ParkedSendQueue> {
  const bull = await BullmqSendQueue.open({ redisUrl: inject('redisUrl'), prefix, lockDurationMs: 4_000, stalledIntervalMs: 1_000, errorRetryMs: ERROR_RETRY_MS, ...bullOptions });
  return new ParkedSendQueue(bull, { errorRetryMs: ERROR_RETRY_MS, ...options });
}

describeSendQueueContract('bullmq, parked', prefixedHarness((prefix, options) => openParked(prefix, options), newPrefix));

describe('parked send queue', () => {
  const { admin, track } = queueSuite<ParkedSendQueue>();
  const open = async (prefix: string, options: ParkedSendQueueOptions = {}, bullOptions: Partial<BullmqSendQueueOptions> = {}): Promise<ParkedSendQueue> =>
    track(await openParked(prefix, options, bullOptions));

  const connectionsOf = (prefix: string): Promise<string[]> => connectionsNamed(admin, prefix);
  /** Starts `queue` with a processor that records each call and holds every job until `gate` resolves. */
  const startGated = async (queue: ParkedSendQueue): Promise<{ calls: ProcessorCalls; gate: ReturnType<typeof deferred<void>> }> => {
    const gate = deferred();
    const calls = new ProcessorCalls();
    await queue.start(async (j) => {
      calls.add(j);
      await gate.promise;
      return DONE;
    });
    return { calls, gate };
  };
  /** Starts `queue` with a processor that records each call and is done at once. */
  const startRecording = async (queue: ParkedSendQueue): Promise<ProcessorCalls> => {
    const calls = new ProcessorCalls();
    await queue.start(calls.done);
    return calls;
  };
  const lane = (prefix: string, sessionId: string): string => `${prefix}:bull:send-${sessionId}`;

  it('keeps a job parked in BullMQ (delayed, due in a year) while it is made from memory, and removes it once done', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix);
    const { calls, gate } = await startGated(queue);
    for (const n of [1, 2]) await queue.add(job('p', n));
    await calls.reach('p', 1);
    const parked = await admin.zrange(`${lane(prefix, 'p')}:delayed`, 0, -1, 'WITHSCORES');
    expect(parked.filter((_, i) => i % 2 === 0)).toEqual(ids('p', 1, 2));
    // Score: due time (ms) × 4096.
    expect(Number(parked[1]) / 0x1000 - Date.now()).toBeGreaterThan(300 * 24 * 3_600_000);
    expect(await admin.llen(`${lane(prefix, 'p')}:wait`)).toBe(0);
    expect(await admin.llen(`${lane(prefix, 'p')}:active`)).toBe(0);
    gate.resolve();
    await calls.reach('p', 2);
    await vi.waitFor(async () => expect(await admin.zcard(`${lane(prefix, 'p')}:delayed`)).toBe(0), { timeout: 5_000, interval: 20 });
    for (const id of ids('p', 1, 2)) expect(await admin.exists(`${lane(prefix, 'p')}:${id}`)).toBe(0);
    expect(calls.of('p')).toEqual(ids('p', 1, 2));
  });

  it('parks a job in the format BullMQ writes for a delayed job, behind one BullMQ parked before it', async () => {
    const prefix = newPrefix();
    const bull = await BullmqSendQueue.open({ redisUrl: inject('redisUrl'), prefix });
    const connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    const native = new Queue(`send-f`, { connection, prefix: `${prefix}:bull` });
    try {
      const theirs = job('f', 1);
      const ours = job('f', 2);
      await native.add(LANE_JOB_NAME, theirs, { jobId: theirs.messageId, delay: PARK_DELAY_MS, removeOnComplete: true, removeOnFail: KEEP_FAILED });
      await bull.park(ours);
      const hashOf = async (id: string): Promise<Record<string, string>> => {
        const { timestamp, ...rest } = await admin.hgetall(`${lane(prefix, 'f')}:${id}`);
        expect(Number(timestamp)).toBeGreaterThan(Date.now() - 60_000);
        return Object.fromEntries(Object.entries(rest).map(([field, value]) => [field, value.replaceAll(id, '<id>')]));
      };
      expect(await hashOf(ours.messageId)).toEqual(await hashOf(theirs.messageId));
      const read = await Job.fromId(native, ours.messageId);
      expect(read?.data).toEqual(ours);
      expect(read?.opts).toMatchObject({ jobId: ours.messageId, delay: PARK_DELAY_MS, removeOnComplete: true, removeOnFail: KEEP_FAILED });
      expect(await native.getJobState(ours.messageId)).toBe('delayed');
      expect(await admin.zrange(`${lane(prefix, 'f')}:delayed`, 0, -1)).toEqual([theirs.messageId, ours.messageId]);
      // Parking a job BullMQ holds is a no-op, like BullMQ's add of a known id.
      await bull.park(theirs);
      expect(await admin.zrange(`${lane(prefix, 'f')}:delayed`, 0, -1)).toEqual([theirs.messageId, ours.messageId]);
    } finally {
      await native.close();
      await bull.close();
      connection.disconnect();
    }
  });

  it('makes a lane’s jobs in the order their adds resolved, also when Redis lost its scripts (re-sent parks run late)', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix, { maxHeldPerLane: 1_000 });
    const calls = new ProcessorCalls();
    await queue.start(calls.done);
    await admin.script('FLUSH');
    const resolved: string[] = [];
    // 2,000 adds in flight to one lane: two park scripts of 500 for the first 1,000 (the memory
    // limit), both re-sent after NOSCRIPT — so after the BullMQ adds of the other 1,000.
    await Promise.all(Array.from({ length: 2_000 }, async (_, i) => {
      const j = job('n', i + 1);
      await queue.add(j);
      resolved.push(j.messageId);
    }));
    await calls.reach('n', 2_000);
    expect(calls.of('n')).toEqual(resolved);
    expect(resolved).toEqual(ids('n', ...Array.from({ length: 2_000 }, (_, i) => i + 1)));
  });

  it('starts no BullMQ Worker for lanes made from memory: two connections, whatever the sessions', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix);
    await startAndMakeOneEach(queue, ['x', 'y', 'z']);
    expect(await connectionsOf(prefix)).toHaveLength(2);
  });

  it('after a crash, makes the parked jobs first in their lanes, in order, ahead of jobs added after the restart', async () => {
    const prefix = newPrefix();
    const dying = await open(prefix, {}, SHORT_LOCKS);
    const entered = deferred();
    await dying.start(async (j) => {
      if (j.messageId !== job('k', 1).messageId) return DONE;
      entered.resolve();
      return new Promise(() => undefined); // never returns: the process "dies" in here
    });
    for (const n of [1, 2, 3, 4]) await dying.add(job('k', n));
    await entered.promise;
    await dying.crashForTests();
    await vi.waitFor(async () => expect(await connectionsOf(prefix)).toEqual([]), { timeout: 5_000, interval: 20 });

    const next = await open(prefix, {}, SHORT_LOCKS);
    expect(await next.holds(job('k', 3))).toBe(true);
    expect(await next.counts('k')).toEqual({ waiting: 4, active: 0 });
    const calls = await startRecording(next);
    await next.add(job('k', 5));
    await calls.reach('k', 5);
    expect(calls.of('k')).toEqual(ids('k', 1, 2, 3, 4, 5));
    await vi.waitFor(async () => expect(await next.counts()).toEqual({ waiting: 0, active: 0 }), { timeout: 5_000, interval: 20 });
  });

  it('sends a lane past its memory limit to BullMQ’s Worker, keeps the order, and holds the lane again once BullMQ’s lane is empty', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix, { maxHeldPerLane: 3 });
    const gate = deferred();
    const release7 = deferred();
    const release8 = deferred();
    const calls = new ProcessorCalls();
    await queue.start(async (j) => {
      calls.add(j);
      if (j.messageId === job('o', 1).messageId) await gate.promise;
      if (j.messageId === job('o', 7).messageId) await release7.promise;
      if (j.messageId === job('o', 8).messageId) await release8.promise;
      return DONE;
    });
    for (const n of [1, 2, 3, 4, 5, 6]) await queue.add(job('o', n));
    await calls.reach('o', 1);
    expect(await admin.zrange(`${lane(prefix, 'o')}:delayed`, 0, -1)).toEqual(ids('o', 1, 2, 3));
    // Jobs 4–6 are BullMQ's: the Worker has taken 4, which waits for the held ones.
    await vi.waitFor(async () => expect(await admin.lrange(`${lane(prefix, 'o')}:active`, 0, -1)).toEqual(ids('o', 4)), { timeout: 5_000, interval: 20 });
    expect(await queue.counts('o')).toEqual({ waiting: 5, active: 1 });
    gate.resolve();
    await calls.reach('o', 6);
    expect(calls.of('o')).toEqual(ids('o', 1, 2, 3, 4, 5, 6));
    await vi.waitFor(async () => expect(await queue.counts('o')).toEqual({ waiting: 0, active: 0 }), { timeout: 5_000, interval: 20 });

    // BullMQ's lane is empty: the next job is parked and made from memory again.
    await queue.add(job('o', 7));
    await calls.reach('o', 7);
    expect(await admin.zrange(`${lane(prefix, 'o')}:delayed`, 0, -1)).toEqual(ids('o', 7));
    expect(await admin.llen(`${lane(prefix, 'o')}:wait`)).toBe(0);
    expect(await admin.llen(`${lane(prefix, 'o')}:active`)).toBe(0);
    // The lane's Worker (and its blocking connection) is closed while the lane is held in memory.
    await vi.waitFor(async () => expect(await connectionsOf(prefix)).toHaveLength(2), { timeout: 5_000, interval: 20 });
    release7.resolve();
    await vi.waitFor(async () => expect(await admin.zcard(`${lane(prefix, 'o')}:delayed`)).toBe(0), { timeout: 5_000, interval: 20 });

    // Past the limit again: a new Worker takes the lane's BullMQ jobs, in order.
    for (const n of [8, 9, 10, 11, 12, 13]) await queue.add(job('o', n));
    await vi.waitFor(async () => expect(await admin.lrange(`${lane(prefix, 'o')}:active`, 0, -1)).toEqual(ids('o', 11)), { timeout: 5_000, interval: 20 });
    release8.resolve();
    await calls.reach('o', 13);
    expect(calls.of('o')).toEqual(ids('o', ...Array.from({ length: 13 }, (_, i) => i + 1)));
  });

  it('sends lanes to BullMQ’s Worker once all lanes together hold the total limit', async () => {
    const prefix = newPrefix();
    const queue = await open(prefix, { maxHeldTotal: 3 });
    const { calls, gate } = await startGated(queue);
    for (const n of [1, 2]) await queue.add(job('t1', n));
    await queue.add(job('t2', 1));
    await queue.add(job('t3', 1));
    await calls.reach('t1', 1);
    expect(await admin.zrange(`${lane(prefix, 't2')}:delayed`, 0, -1)).toEqual(ids('t2', 1));
    // t3 came past the total: BullMQ's Worker has it.
    expect(await admin.zcard(`${lane(prefix, 't3')}:delayed`)).toBe(0);
    await calls.reach('t3', 1);
    expect(await admin.lrange(`${lane(prefix, 't3')}:active`, 0, -1)).toEqual(ids('t3', 1));
    gate.resolve();
    await calls.reach('t1', 2);
    await calls.reach('t2', 1);
    await vi.waitFor(async () => expect(await queue.counts()).toEqual({ waiting: 0, active: 0 }), { timeout: 5_000, interval: 20 });
  });

  it('after a crash with a lane past its memory limit, makes the parked jobs, then the one the dead Worker held, then the rest', async () => {
    const prefix = newPrefix();
    const dying = await open(prefix, { maxHeldPerLane: 2 }, SHORT_LOCKS);
    const entered = deferred();
    await dying.start(async (j) => {
      if (j.messageId !== job('v', 1).messageId) return DONE;
      entered.resolve();
      return new Promise(() => undefined);
    });
    for (const n of [1, 2, 3, 4, 5]) await dying.add(job('v', n));
    await entered.promise;
    await vi.waitFor(async () => expect(await admin.lrange(`${lane(prefix, 'v')}:active`, 0, -1)).toEqual(ids('v', 3)), { timeout: 5_000, interval: 20 });
    await dying.crashForTests();
    await vi.waitFor(async () => expect(await connectionsOf(prefix)).toEqual([]), { timeout: 5_000, interval: 20 });

    const next = await open(prefix, {}, SHORT_LOCKS);
    const calls = await startRecording(next);
    await next.add(job('v', 6));
    await calls.reach('v', 6);
    expect(calls.of('v')).toEqual(ids('v', 1, 2, 3, 4, 5, 6));
  });

  it('does not make a job whose park failed (its add rejected)', async () => {
    const queue = await open(newPrefix());
    const calls = new ProcessorCalls();
    await queue.start(calls.done);
    await expect(queue.add({ sessionId: 'a:b', messageId: 'm-bad' })).rejects.toThrow(/invalid session id/);
    await queue.add(job('a', 1));
    await calls.reach('a', 1);
    expect(calls.events.map((c) => c.messageId)).toEqual(ids('a', 1));
    expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
  });

  it('removes the parked copy of a job done while Redis was away once Redis is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wagw-pq-'));
    let server = await startRedisServer({ dir, appendOnly: true });
    const prefix = newPrefix();
    const errors: unknown[] = [];
    const queue = new ParkedSendQueue(await BullmqSendQueue.open({ redisUrl: server.url, prefix }), { errorRetryMs: ERROR_RETRY_MS, onError: (error) => errors.push(error) });
    const own = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      const { calls, gate } = await startGated(queue);
      await queue.add(job('u', 1));
      await calls.reach('u', 1);
      await server.stop();
      gate.resolve();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000, interval: 20 });
      // Done, so not counted while its copy waits to be removed (the count itself needs Redis back).
      server = await startRedisServer({ dir, appendOnly: true, port: server.port });
      await own.connect();
      await vi.waitFor(async () => expect(await own.zcard(`${lane(prefix, 'u')}:delayed`)).toBe(0), { timeout: 10_000, interval: 50 });
      expect(await own.exists(`${lane(prefix, 'u')}:${job('u', 1).messageId}`)).toBe(0);
      expect(await queue.counts('u')).toEqual({ waiting: 0, active: 0 });
    } finally {
      await queue.close();
      own.disconnect();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

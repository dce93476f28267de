import type { Redis } from 'ioredis';
import { CoalescingRedis } from '../storage/redis/coalescing-redis.js';
import { closeRedis, openRedis } from '../storage/redis/redis-connection.js';
import { ScriptBatch } from '../storage/redis/script-batch.js';
import { BullmqLane, laneKeyBase, type LaneSettings } from './bullmq-lane.js';
import { DEFAULT_ERROR_RETRY_MS, report, type SendQueueErrorHandler } from './lane-job.js';
import { ParkScores, parkJobs, unparkJobs } from './parked-jobs.js';
import type { SendJob, SendProcessor, SendQueue, SendQueueCounts } from './send-queue.js';

export interface BullmqSendQueueOptions {
  redisUrl: string;
  redisPassword?: string | undefined;
  /** The gateway's key prefix (REDIS_PREFIX). BullMQ keys live under `<prefix>:bull`, the lane set at `<prefix>:<name>:lanes`. */
  prefix: string;
  /**
   * What the queue is for; default `send`. Names the lane queues (`<name>-<lane key>`), the lane set
   * and the connections, so that two queues (sends, webhook deliveries) share a prefix.
   */
  name?: string;
  /**
   * A fail-fast connection (see `openRedis`) to add jobs on, owned by the caller (not closed here):
   * the message store's, so that an accept's job add follows its record's insert on one connection
   * and in one socket write. Default: a connection of the queue's own.
   */
  producer?: Redis | undefined;
  /** Lane keys accepted (they become Redis key parts: no `:`); default a session id, `^[A-Za-z0-9_-]{1,64}$`. */
  laneKeyPattern?: RegExp;
  /** How long a job's lock lasts without renewal: how soon a job of a dead process is offered again. Default 30 s. */
  lockDurationMs?: number;
  /** How often stalled jobs (lock expired) are looked for. Default 30 s. */
  stalledIntervalMs?: number;
  /** Wait before a job whose processor threw is offered again. Default 1 s. */
  errorRetryMs?: number;
  /** Longest `close()` waits for the lanes before it gives up on Redis coming back (Redis down). Default 10 s. */
  closeTimeoutMs?: number;
  onError?: SendQueueErrorHandler;
}

/** Whether `promise` settles within `ms` (the timer is cleared either way). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether Redis answers a PING on `redis` within `ms` (false on an error too). */
async function answersWithin(redis: Redis, ms: number): Promise<boolean> {
  // Never rejects: a PING failing after the timeout must not become an unhandled rejection.
  const answered = redis.ping().then(
    () => true,
    () => false,
  );
  return (await settlesWithin(answered, ms)) && (await answered);
}

/** How long close() waits for a PING before it takes Redis for away. */
const CLOSE_PROBE_MS = 500;

/** Session ids are validated upstream; checked again because they become Redis key parts. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Parks, and removals of parked jobs, sent per script at most. */
const MAX_PARKS_PER_SCRIPT = 500;

/** Lets the worker connection, and BullMQ's duplicates of it (they copy its retryStrategy), stop reconnecting. */
interface Reconnect {
  enabled: boolean;
}

/** Workers block on their connection (BZPOPMIN) and must queue commands while Redis is away. */
async function openWorkerRedis(options: BullmqSendQueueOptions, reconnect: Reconnect): Promise<Redis> {
  const redis = new CoalescingRedis(options.redisUrl, {
    ...(options.redisPassword ? { password: options.redisPassword } : {}),
    connectionName: `${options.prefix}:${options.name ?? 'send'}-worker`,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: (times) => (reconnect.enabled ? Math.min(times * 200, 2_000) : null),
  });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

/**
 * The Redis-mode send queue (durable) on BullMQ: one Queue + one Worker (concurrency 1) per session
 * lane, see `bullmq-lane.ts`. The set `<prefix>:send:lanes` names the lanes, so that `start()` finds
 * jobs left by an earlier run. Connections: one fail-fast producer connection shared by all lanes,
 * one worker connection shared by all Workers, plus one blocking connection per started lane
 * (BullMQ duplicates the worker connection) — so a lane costs one Redis connection, bounded by
 * WHATSAPP_MAX_SESSIONS. BullMQ leaves the connections we pass alone, so `close()` closes them.
 * One gateway process consumes a prefix: an ACTIVE job found at start is taken for a dead one's.
 */
export class BullmqSendQueue implements SendQueue {
  readonly kind = 'bullmq' as const;
  private readonly lanes = new Map<string, BullmqLane>();
  /** Lanes whose Worker is being closed by `releaseWorker`, until it is. */
  private readonly releasing = new Map<string, Promise<void>>();
  /** Lanes this instance has put in the lane set already. */
  private readonly registered = new Set<string>();
  private readonly settings: LaneSettings;
  private readonly lanesKey: string;
  private readonly closeTimeoutMs: number;
  private readonly laneKey: RegExp;
  private processor: SendProcessor | null = null;
  /** Lanes that held jobs when the queue started (see `lanesAtStart`). */
  private kept: readonly string[] = [];
  private readonly parks: ScriptBatch<SendJob, void>;
  private readonly unparks: ScriptBatch<SendJob, void>;
  /** Set by `start()`: adds wait for it, so that no add slips between the emptiness check of a lane and its removal. */
  private started: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  /** Opens the connections (rejects when Redis cannot be reached). */
  static async open(options: BullmqSendQueueOptions): Promise<BullmqSendQueue> {
    if (options.name !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(options.name)) throw new Error(`invalid queue name: ${JSON.stringify(options.name)}`);
    const owned = options.producer === undefined;
    const producer = options.producer ?? (await openRedis({ url: options.redisUrl, password: options.redisPassword, name: `${options.prefix}:${options.name ?? 'send'}` }));
    const reconnect = { enabled: true };
    try {
      return new BullmqSendQueue(options, producer, owned, await openWorkerRedis(options, reconnect), reconnect);
    } catch (error) {
      if (owned) await closeRedis(producer);
      throw error;
    }
  }

  private constructor(
    options: BullmqSendQueueOptions,
    private readonly producer: Redis,
    /** Whether `producer` is this queue's own (closed with it) or the caller's. */
    private readonly ownsProducer: boolean,
    private readonly workerConnection: Redis,
    private readonly reconnect: Reconnect,
  ) {
    this.settings = {
      producer,
      workerConnection,
      bullPrefix: `${options.prefix}:bull`,
      queueName: options.name ?? 'send',
      lockDurationMs: options.lockDurationMs ?? 30_000,
      stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
      errorRetryMs: options.errorRetryMs ?? DEFAULT_ERROR_RETRY_MS,
      onError: options.onError,
      listeners: {},
    };
    const laneBase = (laneKey: string): string => laneKeyBase(this.settings, laneKey);
    // Parks are flushed from a microtask: an accept parks its job right after its record's insert
    // script is sent (MessageStore.insert's `alongside`), and both leave in that socket write.
    // Answered in the order sent: the caller holds the jobs in the order it parked them, and a
    // job's add resolves with its park (see SendQueue: a lane's order is the order adds resolved).
    const scores = new ParkScores();
    this.parks = new ScriptBatch<SendJob, void>({
      maxPerScript: MAX_PARKS_PER_SCRIPT,
      schedule: (flush) => queueMicrotask(flush),
      send: (jobs) => parkJobs(producer, laneBase, jobs, scores),
      settle: () => undefined,
      ordered: true,
    });
    this.unparks = new ScriptBatch<SendJob, void>({
      maxPerScript: MAX_PARKS_PER_SCRIPT,
      schedule: (flush) => process.nextTick(flush),
      send: (jobs) => unparkJobs(producer, laneBase, jobs),
      settle: () => undefined,
    });
    this.lanesKey = `${options.prefix}:${options.name ?? 'send'}:lanes`;
    this.laneKey = options.laneKeyPattern ?? SESSION_ID;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  }

  async add(job: SendJob): Promise<void> {
    this.checkOpen();
    if (this.started) await this.started;
    // A Worker being released must be gone before the lane's next one starts (one job at a time).
    const releasing = this.releasing.get(job.sessionId);
    if (releasing) await releasing;
    const lane = this.lane(job.sessionId);
    await this.register(job.sessionId);
    await lane.add(job);
  }

  /**
   * Stores a job that the caller processes itself, from memory: a delayed job due in a year
   * (PARK_DELAY_MS, `parked-jobs.ts`), which no Worker of this run takes; the lane gets no Worker.
   * The parks of a turn go in one script.
   * It is the job's durable copy: the caller removes it with `unpark` once the job is done, and a
   * next start moves the parked jobs it finds to the head of their lanes (the process died). The
   * job id is the message id, so parking a job BullMQ holds is a no-op.
   */
  async park(job: SendJob): Promise<void> {
    this.checkOpen();
    this.checkLaneKey(job.sessionId);
    if (this.started) await this.started;
    // The lane object (no Worker): counts() reads it without making a transient Queue.
    this.lane(job.sessionId, false);
    await this.register(job.sessionId);
    await this.parks.add(job);
  }

  /** Removes a parked job (done). The removals of a turn go in one script. */
  unpark(job: SendJob): Promise<void> {
    this.checkLaneKey(job.sessionId);
    return this.unparks.add(job);
  }

  /**
   * Closes a lane's Worker (and its blocking connection) — for a lane whose jobs the caller makes
   * from memory again (parked): a Worker would be woken by every park. The lane's next `add`
   * starts a new Worker once this one is closed. Never rejects (errors go to onError).
   */
  async releaseWorker(sessionId: string): Promise<void> {
    const lane = this.lanes.get(sessionId);
    if (!lane?.started || this.closing) return;
    this.lanes.delete(sessionId);
    const closed = lane.close().catch((error: unknown) => report(this.settings.onError, error, null));
    this.releasing.set(sessionId, closed);
    await closed;
    if (this.releasing.get(sessionId) === closed) this.releasing.delete(sessionId);
  }

  /** Lanes listed before their first job is stored: a crash in between leaves an empty lane listed, not a lost job. */
  private async register(sessionId: string): Promise<void> {
    if (this.registered.has(sessionId)) return;
    await this.producer.sadd(this.lanesKey, sessionId);
    this.registered.add(sessionId);
  }

  /** Jobs of a lane that are waiting or active in BullMQ — parked ones not counted (one round trip). */
  async pending(sessionId: string): Promise<number> {
    this.checkLaneKey(sessionId);
    const base = laneKeyBase(this.settings, sessionId);
    const replies = (await this.producer.pipeline().llen(`${base}:wait`).llen(`${base}:active`).zcard(`${base}:prioritized`).exec()) ?? [];
    let sum = 0;
    for (const [error, n] of replies) {
      if (error) throw error;
      sum += Number(n);
    }
    return sum;
  }

  /** Lanes that held jobs (parked ones included) when `start()` ran: the earlier run's. */
  get lanesAtStart(): readonly string[] {
    return this.kept;
  }

  /** Told, with its lane key, each time a Worker has completed a job. One listener; set it before `start`. */
  onJobDone(listener: (laneKey: string) => void): void {
    this.settings.listeners.jobDone = listener;
  }

  async start(processor: SendProcessor): Promise<void> {
    if (this.processor || this.started) throw new Error('send queue already started');
    this.checkOpen();
    this.started = (async () => {
      const listed = (await this.producer.smembers(this.lanesKey)).filter((key) => this.laneKey.test(key));
      const kept = await this.dropEmptyLanes(listed);
      this.kept = kept;
      this.processor = processor;
      for (const sessionId of kept) this.lane(sessionId, false).start(processor, true);
      for (const lane of this.lanes.values()) lane.start(processor);
    })();
    await this.started;
  }

  /**
   * Lanes listed by an earlier run that hold no job (a deleted session's, a target's that was
   * replaced, or just idle) are removed — their keys and their place in the lane set — instead of
   * each getting a Worker and its blocking connection; a later add makes the lane again. The lanes
   * that hold jobs are returned.
   */
  private async dropEmptyLanes(listed: readonly string[]): Promise<string[]> {
    if (listed.length === 0) return [];
    // One pipelined read for every listed lane (countLane would make a BullMQ Queue per lane: a
    // thousand lanes at start). The key names are BullMQ's: `<prefix>:<queue>:wait|active|…`.
    const pipeline = this.producer.pipeline();
    for (const key of listed) {
      const base = laneKeyBase(this.settings, key);
      pipeline.llen(`${base}:wait`).llen(`${base}:active`).zcard(`${base}:delayed`).zcard(`${base}:prioritized`).zcard(`${base}:waiting-children`);
    }
    const replies = (await pipeline.exec()) ?? [];
    const kept: string[] = [];
    const empty: string[] = [];
    listed.forEach((key, i) => {
      const counts = replies.slice(i * 5, i * 5 + 5);
      const failed = counts.find(([error]) => error !== null);
      if (failed?.[0]) throw failed[0];
      (counts.every(([, n]) => n === 0) ? empty : kept).push(key);
    });
    for (const key of empty) {
      const lane = new BullmqLane(key, this.settings);
      await lane.remove();
      await this.producer.srem(this.lanesKey, key);
    }
    return kept;
  }

  async holds(job: SendJob): Promise<boolean> {
    if (!this.laneKey.test(job.sessionId)) return false;
    const lane = this.lanes.get(job.sessionId) ?? new BullmqLane(job.sessionId, this.settings);
    try {
      return await lane.holds(job.messageId);
    } finally {
      if (!this.lanes.has(job.sessionId)) await lane.close();
    }
  }

  async counts(sessionId?: string): Promise<SendQueueCounts> {
    if (sessionId !== undefined) return this.laneKey.test(sessionId) ? this.countLane(sessionId) : { waiting: 0, active: 0 };
    const ids = new Set([...(await this.producer.smembers(this.lanesKey)), ...this.lanes.keys()]);
    const all = await Promise.all([...ids].filter((id) => this.laneKey.test(id)).map((id) => this.countLane(id)));
    return all.reduce((sum, c) => ({ waiting: sum.waiting + c.waiting, active: sum.active + c.active }), { waiting: 0, active: 0 });
  }

  /** A lane's counts; a lane this instance does not hold is looked at through a transient Queue (no I/O to make one). */
  private async countLane(sessionId: string): Promise<SendQueueCounts> {
    const lane = this.lanes.get(sessionId);
    if (lane) return lane.counts();
    const transient = new BullmqLane(sessionId, this.settings);
    try {
      return await transient.counts();
    } finally {
      await transient.close();
    }
  }

  /**
   * Stops the lane's Worker (its running processor is aborted and awaited), then obliterates its
   * queue. Call it once the session takes no more sends: a job added meanwhile may be dropped too.
   */
  async removeSession(sessionId: string): Promise<number> {
    this.checkLaneKey(sessionId);
    this.checkOpen();
    const lane = this.lanes.get(sessionId) ?? new BullmqLane(sessionId, this.settings);
    this.lanes.delete(sessionId);
    this.registered.delete(sessionId);
    const dropped = await lane.remove();
    await this.producer.srem(this.lanesKey, sessionId);
    return dropped;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const lanes = [...this.lanes.values()];
      this.lanes.clear();
      await Promise.all(this.releasing.values());
      // Redis away already: nothing can be moved back or completed until it returns, and a job left
      // ACTIVE is recovered at the next start anyway — so end the reconnects at once and close the
      // Workers without waiting for their active job's move (a shutdown during an outage took 20 s
      // per queue before).
      // The connection's status alone can still say `ready` for a moment after Redis went (its close
      // not processed yet): a PING that does not come back settles it.
      const away = this.workerConnection.status !== 'ready' || !(await answersWithin(this.producer, CLOSE_PROBE_MS));
      if (away) this.reconnect.enabled = false;
      const closed = Promise.allSettled(lanes.map((lane) => lane.close(away)));
      if (!(await settlesWithin(closed, this.closeTimeoutMs))) {
        // Redis is away: the Workers wait on commands queued for a reconnect (ioredis never fails
        // them on disconnect() while reconnecting). Ending the reconnects fails those commands, so
        // the Workers finish closing and no BullMQ timer or connection is left behind.
        this.reconnect.enabled = false;
        await settlesWithin(closed, 10_000);
      }
      await closeRedis(this.workerConnection);
      if (this.ownsProducer) await closeRedis(this.producer);
    })();
    return this.closing;
  }

  /**
   * Test hook, not for production: stops this instance as if its process had died — connections cut
   * first, Workers force-closed, so no job is moved back, completed or failed. Its active jobs stay
   * ACTIVE until their locks expire and a stalled checker recovers them. `close()` is a no-op after.
   */
  crashForTests(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ownsProducer) this.producer.disconnect();
      this.workerConnection.disconnect();
      const lanes = [...this.lanes.values()];
      this.lanes.clear();
      await Promise.allSettled(lanes.map((lane) => lane.crash()));
    })();
    return this.closing;
  }

  /** The lane of a session, made on first use; its Worker started (once the queue is) unless `worker` is false. */
  private lane(sessionId: string, worker = true): BullmqLane {
    this.checkLaneKey(sessionId);
    let lane = this.lanes.get(sessionId);
    if (!lane) {
      lane = new BullmqLane(sessionId, this.settings);
      this.lanes.set(sessionId, lane);
    }
    if (worker && this.processor) lane.start(this.processor);
    return lane;
  }

  /** Lane keys are validated upstream; checked again because they become Redis key parts. */
  private checkLaneKey(key: string): void {
    if (!this.laneKey.test(key)) throw new Error(`invalid ${this.laneKey === SESSION_ID ? 'session id' : 'lane key'} for the ${this.settings.queueName} queue: ${JSON.stringify(key)}`);
  }

  private checkOpen(): void {
    if (this.closing) throw new Error('send queue is closed');
  }
}

import { LuaScript } from '../storage/redis/lua-script.js';
import type { SendJob } from './send-queue.js';

/**
 * Parked jobs (see `parked-send-queue.ts`) in BullMQ's own format, written, removed and promoted by
 * our scripts instead of BullMQ's `Queue.add` / `Job.remove` / `Queue.promoteJobs`: a turn's parks
 * go in one script (BullMQ's add is a script per job, with an id counter, an event-stream entry and
 * a Worker wake-up marker that a parked job needs none of), and promotion puts the jobs at the
 * head of their lane. What BullMQ reads back — only at a recovery, when a Worker takes a promoted
 * job — is the job hash; it is written field for field like BullMQ 6's `addDelayedJob` writes it
 * (checked by `tests/contract/parked-send-queue.test.ts` against a job BullMQ parked itself).
 * Key names are BullMQ's: `<bull prefix>:<queue>:<job id>` and `…:delayed`, `…:wait`, `…:marker`.
 */

/** BullMQ's job name for every lane job. */
export const LANE_JOB_NAME = 'send';
/** Failed jobs kept per lane for inspection (BullMQ's `removeOnFail`). */
export const KEEP_FAILED = 100;

/**
 * How far in the future a parked job is due: never, in practice (a year; BullMQ's delayed score,
 * milliseconds × 4096, must stay below 2^53). Only the next start's recovery moves it.
 */
export const PARK_DELAY_MS = 365 * 24 * 3_600_000;

/**
 * Stores jobs in the delayed set, due in PARK_DELAY_MS. Per job: KEYS delayed set, job hash; ARGV after
 * the delay: id, data, opts, timestamp, score. A job whose hash exists is left alone (BullMQ's
 * rule for a known job id). The score (BullMQ's: due time × 4096, see {@link ParkScores}) comes
 * from the caller, so that the parked order is the order the jobs were parked in, whatever order
 * Redis runs the scripts in (a script re-sent after NOSCRIPT runs after later ones).
 */
const PARK = new LuaScript(`
for i = 1, #KEYS / 2 do
  local job = KEYS[2 * i]
  if redis.call('EXISTS', job) == 0 then
    local a = 5 * i - 3
    redis.call('HSET', job, 'name', '${LANE_JOB_NAME}', 'data', ARGV[a + 1], 'opts', ARGV[a + 2], 'timestamp', ARGV[a + 3], 'delay', ARGV[1], 'priority', 0)
    redis.call('ZADD', KEYS[2 * i - 1], ARGV[a + 4], ARGV[a])
  end
end
return 0`);

/**
 * Delayed-set scores for parked jobs: BullMQ's (due time in ms × 4096, the low bits ordering jobs
 * of one millisecond), never lower than the last one given — so one process's parks are ordered
 * even if its clock steps back. Parks of an earlier run are promoted at start, before a lane
 * parks again, so scores need not order across processes.
 */
export class ParkScores {
  private last = 0;

  next(now = Date.now()): number {
    this.last = Math.max(this.last + 1, (now + PARK_DELAY_MS) * 4096);
    return this.last;
  }
}

/**
 * Removes parked jobs that are done: per job, KEYS delayed set, job hash, job logs; ARGV the job
 * ids. A job no longer in its delayed set (moved by a recovery meanwhile) is left alone.
 */
const UNPARK = new LuaScript(`
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[3 * i - 2], ARGV[i]) == 1 then redis.call('DEL', KEYS[3 * i - 1], KEYS[3 * i]) end
end
return 0`);

/**
 * Moves a lane's parked jobs to the taking end of `wait`, in the order they were parked, ahead of
 * the jobs waiting there — they were accepted before them. Adds LPUSH and Workers take from the
 * right, so the last job is pushed first; the marker wakes the lane's Worker. KEYS: delayed, wait,
 * marker; ARGV[1]: the job key prefix (`<bull prefix>:<queue>:`). Returns the number moved.
 */
const PROMOTE = new LuaScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = #ids, 1, -1 do
  redis.call('RPUSH', KEYS[2], ids[i])
  redis.call('HSET', ARGV[1] .. ids[i], 'delay', 0)
end
if #ids > 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZADD', KEYS[3], 0, '0')
end
return #ids`);

/** A lane's BullMQ key base, without the trailing `:` (see `laneKeyBase` in bullmq-lane.ts). */
export type LaneBase = (laneKey: string) => string;

/** Parks `jobs`, of one lane or several, in one script, each with its score. */
export function parkJobs(redis: Parameters<LuaScript['run']>[0], laneBase: LaneBase, jobs: readonly SendJob[], scores: ParkScores, now = Date.now()): Promise<unknown> {
  const names: string[] = [];
  const args: string[] = [String(PARK_DELAY_MS)];
  const timestamp = String(now);
  for (const job of jobs) {
    const base = laneBase(job.sessionId);
    names.push(`${base}:delayed`, `${base}:${job.messageId}`);
    // As BullMQ 6 stores them: the job's data, and its options with the lane's defaults.
    const data = `{"sessionId":${JSON.stringify(job.sessionId)},"messageId":${JSON.stringify(job.messageId)}}`;
    const opts = `{"removeOnFail":${KEEP_FAILED},"jobId":${JSON.stringify(job.messageId)},"removeOnComplete":true,"delay":${PARK_DELAY_MS},"attempts":0}`;
    args.push(job.messageId, data, opts, timestamp, String(scores.next(now)));
  }
  return PARK.run(redis, names, args);
}

/** Removes the parked copies of `jobs` (done) in one script. */
export function unparkJobs(redis: Parameters<LuaScript['run']>[0], laneBase: LaneBase, jobs: readonly SendJob[]): Promise<unknown> {
  const names: string[] = [];
  for (const job of jobs) {
    const base = laneBase(job.sessionId);
    names.push(`${base}:delayed`, `${base}:${job.messageId}`, `${base}:${job.messageId}:logs`);
  }
  return UNPARK.run(redis, names, jobs.map((job) => job.messageId));
}

/** Moves one lane's parked jobs to the head of its `wait` list; the number moved. */
export async function promoteParked(redis: Parameters<LuaScript['run']>[0], laneBase: string): Promise<number> {
  return Number(await PROMOTE.run(redis, [`${laneBase}:delayed`, `${laneBase}:wait`, `${laneBase}:marker`], [`${laneBase}:`]));
}

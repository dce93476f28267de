import type { EnvelopeSource, EventEnvelope } from '../events/event-envelope.js';
import type { Logger } from '../logger.js';
import { SerialQueues } from '../serial-queues.js';
import type { DeliveryStore } from '../storage/delivery-store.js';
import type { DeliveryLanes } from './direct-first-lanes.js';
import { DELIVERY_JOB_SEPARATOR, deliveryJobId, eventDeliveryId, newDelivery, type DeliveryRecord } from './delivery.js';
import { laneKeyOf, toDeliveryTarget, type WebhookTarget, type WebhookTargets } from './webhook-targets.js';

/** Envelopes read per page when catching up from the event log. */
const CATCH_UP_PAGE = 500;
/** Deliveries of one lane put in one queue job at most (a burst of envelopes costs one job per lane). */
export const MAX_DELIVERIES_PER_JOB = 16;
/** A session's stored cursor is written at the end of each burst of envelopes, and at least every this many envelopes. */
const CURSOR_WRITE_EVERY = 100;
/**
 * …but not more often than this: the end of a burst sooner after the last write schedules the
 * write for then (one write for many small bursts, such as events arriving one by one).
 */
export const CURSOR_WRITE_INTERVAL_MS = 250;
/** Waits before a session whose fan-out failed (store or queue away) catches up from the log. */
const RECOVERY_DELAYS_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000, 30_000];

interface UnqueuedDelivery {
  jobId: string;
  seq: number;
}

export interface FanoutDeps {
  source: EnvelopeSource;
  store: DeliveryStore;
  lanes: Pick<DeliveryLanes, 'offer'>;
  targets: WebhookTargets;
  /** WEBHOOK_RETRY_SCHEDULE[0]: delay before the first attempt. */
  firstDelayMs: number;
  logger: Logger;
}

/**
 * Turns envelopes into deliveries: for each envelope, one delivery per matching target (a record in
 * the delivery store, then a job at the tail of the lane `<sessionId>.<targetId>`). A session's
 * envelopes are handled one at a time in seq order, so each lane gets them in seq order. The
 * deliveries of a burst (envelopes handed over together) share jobs: one per lane for up to
 * {@link MAX_DELIVERIES_PER_JOB}, made in order by the delivery processor. A job whose lane is
 * idle is made at once from memory, without the queue (see DirectFirstLanes).
 *
 * Nothing is lost between the event log and the queue: the store keeps a per-session cursor (the
 * last seq fanned out), moved only once the envelope's jobs are made or queued — written once per burst of
 * envelopes (see persistCursor), so it may lag the last envelope fanned out; at start — and after a
 * fan-out that failed (Redis away) — a session catches up from the event log after its cursor.
 * Delivery ids are derived from (envelope, lane), so an envelope fanned out twice finds its
 * deliveries and only re-queues those still to be made (a queue ignores a job it still holds).
 * A session that never had a cursor starts with the live stream (history is not sent).
 */
export class WebhookFanout {
  /** Per session, its fan-outs, catch-ups and cursor writes, one at a time. */
  private readonly tasks: SerialQueues;
  /** Last seq fanned out per session (mirrors the stored cursor once loaded). */
  private readonly cursors = new Map<string, number | null>();
  /** The cursor the store holds per session, as far as this instance wrote or read it. */
  private readonly storedCursors = new Map<string, number | null>();
  /** Deliveries stored but not offered to their lane yet, per session, then per lane (offered at the end of a burst). */
  private readonly unqueued = new Map<string, Map<string, UnqueuedDelivery[]>>();
  /**
   * Per session, the first seq of each job offered and not settled yet (being made from memory:
   * neither made nor queued), with how many such jobs start there: the stored cursor stays before them.
   */
  private readonly unsettled = new Map<string, Map<number, number>>();
  /** When the stored cursor was last written, per session (Date.now()). */
  private readonly cursorWrittenAt = new Map<string, number>();
  /** Cursor writes scheduled for later (see CURSOR_WRITE_INTERVAL_MS), per session. */
  private readonly cursorTimers = new Map<string, NodeJS.Timeout>();
  /** Sessions waiting to catch up after a failure: their live envelopes are left to the catch-up. */
  private readonly recovering = new Map<string, { attempt: number; timer: NodeJS.Timeout | null; resumeAfter: number | null }>();
  private readonly unsubscribe: () => void;
  private started = false;
  private closed = false;

  constructor(private readonly deps: FanoutDeps) {
    // Tasks report their own failures (see `run`); anything else reaching here is a bug, logged.
    this.tasks = new SerialQueues((sessionId, error) => deps.logger.error({ err: error, sessionId }, 'webhook fan-out task failed'));
    this.unsubscribe = deps.source.onEnvelope((envelope) => this.onEnvelope(envelope));
  }

  /**
   * Starts fanning out live envelopes, after each known session caught up from its cursor.
   * Envelopes before `start` are not lost: they are in the log, after the cursor.
   */
  start(sessionIds: readonly string[]): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const sessionId of sessionIds) this.run(sessionId, () => this.catchUp(sessionId));
  }

  /** Resolves when every envelope taken so far is fanned out (tests). */
  async idle(): Promise<void> {
    await this.tasks.idle();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    for (const state of this.recovering.values()) if (state.timer) clearTimeout(state.timer);
    this.recovering.clear();
    // Scheduled cursor writes are made now (a cursor left behind would only cost a longer catch-up).
    for (const [sessionId, timer] of this.cursorTimers) {
      clearTimeout(timer);
      this.run(sessionId, () => this.flushCursor(sessionId));
    }
    this.cursorTimers.clear();
    await this.idle();
  }

  private onEnvelope(envelope: EventEnvelope): void {
    if (!this.started || this.closed || this.recovering.has(envelope.sessionId)) return;
    if (this.passedAtOnce(envelope)) return;
    this.run(envelope.sessionId, () => this.fanOut(envelope), envelope.seq);
  }

  /**
   * Does now, without a task, what the fan-out of an envelope no target takes would do — note it
   * fanned out and schedule the cursor write — when nothing else could happen: the session has no
   * task queued and nothing stored to offer, its cursor is loaded and behind the envelope, and the
   * stored cursor was written less than {@link CURSOR_WRITE_INTERVAL_MS} ago and less than
   * {@link CURSOR_WRITE_EVERY} envelopes back. Most envelopes when no webhook takes them: each task
   * costs promises (measured: 15 KB allocated per message sent with no webhook, docs/benchmarks.md §15).
   */
  private passedAtOnce(envelope: EventEnvelope): boolean {
    const { sessionId, seq } = envelope;
    if (this.tasks.busy(sessionId) || this.unqueued.has(sessionId)) return false;
    const cursor = this.cursors.get(sessionId);
    const stored = this.storedCursors.get(sessionId);
    if (cursor === undefined || cursor === null || stored === undefined || stored === null) return false;
    if (seq <= cursor || seq - stored >= CURSOR_WRITE_EVERY) return false;
    if (envelope.event === 'session.status' && envelope.data.reason === 'DELETED') return false;
    const sinceWrite = Date.now() - (this.cursorWrittenAt.get(sessionId) ?? 0);
    if (sinceWrite >= CURSOR_WRITE_INTERVAL_MS) return false;
    if (this.deps.targets.matching(sessionId, envelope.event).length > 0) return false;
    this.cursors.set(sessionId, seq);
    this.scheduleCursorWrite(sessionId, CURSOR_WRITE_INTERVAL_MS - sinceWrite);
    return true;
  }

  /** Queues `task` (the fan-out of envelope `seq`, or a catch-up) after the session's previous ones; a failure sends the session into recovery. */
  private run(sessionId: string, task: () => Promise<void>, seq?: number): void {
    this.tasks.push(sessionId, async () => {
      // A session that went into recovery meanwhile leaves its queued envelopes to the catch-up.
      if (this.recovering.has(sessionId)) return;
      try {
        await task();
      } catch (error) {
        this.failed(sessionId, error, seq);
      }
    });
  }

  /** `seq`: the envelope whose fan-out failed — where a session without a stored cursor resumes. */
  private failed(sessionId: string, error: unknown, seq?: number): void {
    if (this.closed) {
      this.deps.logger.error({ err: error, sessionId }, 'webhook fan-out failed while closing; the next start catches up from the event log');
      return;
    }
    const known = this.recovering.get(sessionId);
    const attempt = (known?.attempt ?? -1) + 1;
    const resumeAfter = seq === undefined ? (known?.resumeAfter ?? null) : seq - 1;
    const delay = RECOVERY_DELAYS_MS[Math.min(attempt, RECOVERY_DELAYS_MS.length - 1)] ?? 30_000;
    this.deps.logger.error({ err: error, sessionId, retryInMs: delay }, 'webhook fan-out failed; catching up from the event log');
    this.cursors.delete(sessionId);
    this.storedCursors.delete(sessionId);
    // Stored but not queued: the catch-up from the stored cursor (never past them) queues them again.
    this.unqueued.delete(sessionId);
    const timer = setTimeout(() => {
      const state = this.recovering.get(sessionId);
      if (!state || this.closed) return;
      state.timer = null;
      // Not through `run`'s recovering check: the catch-up is what ends the recovery.
      this.tasks.push(sessionId, async () => {
        try {
          await this.catchUp(sessionId, state.resumeAfter);
        } catch (err) {
          this.failed(sessionId, err);
        }
      });
    }, delay);
    timer.unref();
    this.recovering.set(sessionId, { attempt, timer, resumeAfter });
  }

  private async cursorOf(sessionId: string): Promise<number | null> {
    if (this.cursors.has(sessionId)) return this.cursors.get(sessionId) ?? null;
    const stored = await this.deps.store.getCursor(sessionId);
    this.cursors.set(sessionId, stored);
    this.storedCursors.set(sessionId, stored);
    return stored;
  }

  /**
   * Moves the stored cursor to `seq` unless more of the session's envelopes follow at once (`more`)
   * and it moved less than {@link CURSOR_WRITE_EVERY} ago: one write per burst instead of one per
   * envelope. A burst that ends within {@link CURSOR_WRITE_INTERVAL_MS} of the last write schedules
   * the write instead (one for every small burst until then). A cursor left behind by a crash only
   * makes the catch-up fan out a few envelopes again, which finds their deliveries and queues none
   * twice. A first cursor is written at once.
   */
  private async persistCursor(sessionId: string, seq: number, more: boolean): Promise<void> {
    const stored = this.storedCursors.get(sessionId);
    if (stored !== undefined && stored !== null && seq - stored < CURSOR_WRITE_EVERY) {
      if (more) return;
      const sinceWrite = Date.now() - (this.cursorWrittenAt.get(sessionId) ?? 0);
      if (sinceWrite < CURSOR_WRITE_INTERVAL_MS) {
        this.scheduleCursorWrite(sessionId, CURSOR_WRITE_INTERVAL_MS - sinceWrite);
        return;
      }
    }
    await this.writeCursor(sessionId, seq);
  }

  /**
   * Writes `seq`, or less: never past a delivery not offered yet, nor past one offered and not
   * settled (being made from memory) — what is left is written later, once they are.
   */
  private async writeCursor(sessionId: string, seq: number): Promise<void> {
    await this.queueUnqueued(sessionId);
    const unsettled = this.firstUnsettled(sessionId);
    const target = unsettled === null ? seq : Math.min(seq, unsettled - 1);
    if (target < seq) this.scheduleCursorWrite(sessionId, CURSOR_WRITE_INTERVAL_MS);
    const stored = this.storedCursors.get(sessionId);
    if (stored !== undefined && stored !== null && target <= stored) return;
    await this.deps.store.setCursor(sessionId, target);
    this.storedCursors.set(sessionId, target);
    this.cursorWrittenAt.set(sessionId, Date.now());
  }

  private firstUnsettled(sessionId: string): number | null {
    const seqs = this.unsettled.get(sessionId);
    if (!seqs || seqs.size === 0) return null;
    let first = Infinity;
    for (const seq of seqs.keys()) if (seq < first) first = seq;
    return first;
  }

  /** Notes a job offered, starting at `seq`, until `settled`. */
  private holdCursor(sessionId: string, seq: number): void {
    let seqs = this.unsettled.get(sessionId);
    if (!seqs) {
      seqs = new Map();
      this.unsettled.set(sessionId, seqs);
    }
    seqs.set(seq, (seqs.get(seq) ?? 0) + 1);
  }

  private releaseCursor(sessionId: string, seq: number): void {
    const seqs = this.unsettled.get(sessionId);
    const count = seqs?.get(seq);
    if (!seqs || count === undefined) return;
    if (count > 1) seqs.set(seq, count - 1);
    else seqs.delete(seq);
    if (seqs.size === 0) this.unsettled.delete(sessionId);
  }

  /** Writes the session's cursor in `delayMs`, among its tasks (after the fan-outs before it); one pending write per session. */
  private scheduleCursorWrite(sessionId: string, delayMs: number): void {
    if (this.cursorTimers.has(sessionId)) return;
    const timer = setTimeout(() => {
      this.cursorTimers.delete(sessionId);
      if (!this.closed) this.run(sessionId, () => this.flushCursor(sessionId));
    }, delayMs);
    timer.unref();
    this.cursorTimers.set(sessionId, timer);
  }

  /** Writes the last seq fanned out, if the stored cursor is behind it (a failure or a deletion since cleared it: nothing). */
  private async flushCursor(sessionId: string): Promise<void> {
    const seq = this.cursors.get(sessionId);
    const stored = this.storedCursors.get(sessionId);
    if (seq === undefined || seq === null || stored === undefined || (stored !== null && stored >= seq)) return;
    await this.writeCursor(sessionId, seq);
  }

  /**
   * Fans out what the log holds after the session's stored cursor (none: nothing to catch up, or,
   * recovering from a failed fan-out, from just before the envelope that failed). Ends a recovery.
   */
  private async catchUp(sessionId: string, resumeAfter?: number | null): Promise<void> {
    this.cursors.delete(sessionId);
    const stored = await this.cursorOf(sessionId);
    const cursor = stored ?? resumeAfter ?? null;
    if (cursor !== null) {
      let after = cursor;
      for (;;) {
        const page = await this.deps.source.read(sessionId, after, CATCH_UP_PAGE);
        for (const [i, envelope] of page.entries()) await this.fanOut(envelope, i < page.length - 1);
        const last = page[page.length - 1];
        if (!last || page.length < CATCH_UP_PAGE) break;
        after = last.seq;
      }
    }
    if (resumeAfter !== undefined) this.recovering.delete(sessionId);
  }

  /** `more`: the session's next envelope follows at once (default: another fan-out of it is queued). */
  private async fanOut(envelope: EventEnvelope, more?: boolean): Promise<void> {
    const { sessionId } = envelope;
    const followed = more ?? this.tasks.waiting(sessionId) > 0;
    const cursor = await this.cursorOf(sessionId);
    if (cursor === null || envelope.seq > cursor) {
      const targets = this.deps.targets.matching(sessionId, envelope.event);
      if (targets.length > 0) {
        const body = JSON.stringify(envelope);
        for (const target of targets) await this.storeDelivery(envelope, target, body);
      }
      this.cursors.set(sessionId, envelope.seq);
      if (envelope.event === 'session.status' && envelope.data.reason === 'DELETED') {
        await this.queueUnqueued(sessionId);
        await this.deps.store.deleteCursor(sessionId);
        this.cursors.delete(sessionId);
        this.storedCursors.delete(sessionId);
        return;
      }
      await this.persistCursor(sessionId, envelope.seq, followed);
    }
    if (!followed) await this.queueUnqueued(sessionId);
  }

  /**
   * Offers the deliveries stored for a session and not offered yet to their lanes: per lane, in
   * order, up to {@link MAX_DELIVERIES_PER_JOB} in one job whose id lists them (so a catch-up that
   * stores the same deliveries in another grouping makes other jobs, and none is skipped as already
   * held). A job is made at once when its lane is idle (see DirectFirstLanes); until it is made or
   * queued, the stored cursor stays before its first envelope.
   */
  private async queueUnqueued(sessionId: string): Promise<void> {
    const lanes = this.unqueued.get(sessionId);
    if (!lanes) return;
    this.unqueued.delete(sessionId);
    for (const [lane, deliveries] of lanes) {
      for (let i = 0; i < deliveries.length; i += MAX_DELIVERIES_PER_JOB) {
        const chunk = deliveries.slice(i, i + MAX_DELIVERIES_PER_JOB);
        const seq = chunk[0]?.seq ?? 0;
        const job = { sessionId: lane, messageId: chunk.map((d) => d.jobId).join(DELIVERY_JOB_SEPARATOR) };
        this.holdCursor(sessionId, seq);
        try {
          // Settled with an error only when the lanes close: the cursor then stays before it, for the next start.
          await this.deps.lanes.offer(job, (error) => {
            if (error === undefined) this.releaseCursor(sessionId, seq);
          });
        } catch (error) {
          this.releaseCursor(sessionId, seq);
          throw error;
        }
      }
    }
  }

  /** Stores the delivery of `envelope` to `target` and notes its job, queued at the end of the burst. */
  private async storeDelivery(envelope: EventEnvelope, target: WebhookTarget, body: string): Promise<void> {
    const lane = laneKeyOf(envelope.sessionId, target.id);
    const record: DeliveryRecord = newDelivery({
      id: eventDeliveryId(envelope.id, lane),
      eventId: envelope.id,
      event: envelope.event,
      seq: envelope.seq,
      sessionId: envelope.sessionId,
      target: toDeliveryTarget(target),
      origin: 'event',
      now: new Date(),
      firstDelayMs: this.deps.firstDelayMs,
    });
    let job = record;
    if (!(await this.deps.store.insert(record, body))) {
      // Fanned out before (a catch-up after a crash): queue it again only if it is still to be made.
      const existing = await this.deps.store.get(record.id);
      if (!existing || existing.status === 'delivered' || existing.status === 'dead') return;
      job = existing;
    }
    let lanes = this.unqueued.get(envelope.sessionId);
    if (!lanes) {
      lanes = new Map();
      this.unqueued.set(envelope.sessionId, lanes);
    }
    const deliveries = lanes.get(lane) ?? [];
    deliveries.push({ jobId: deliveryJobId(job), seq: envelope.seq });
    lanes.set(lane, deliveries);
  }
}

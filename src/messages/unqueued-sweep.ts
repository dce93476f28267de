import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { SendQueue } from '../queue/send-queue.js';
import type { MessageStore } from '../storage/message-store.js';
import { publishMessageStatus } from './message-status-event.js';
import { failQueued } from './send-attempt.js';

/** Queued records looked at per session at most (a page of 200 at a time). */
const MAX_PER_SESSION = 10_000;
const PAGE = 200;

export interface UnqueuedSweepDeps {
  store: MessageStore;
  queue: SendQueue;
  bus: EventBus;
  logger: Logger;
}

/**
 * Run at start, before requests are taken: fails the outbound records left `queued` with no job
 * behind them. Accepting stores the record, then queues its job, and answers 202 only after both;
 * a process killed (or Redis lost) between the two leaves a record its client was never told about
 * — without this it would stay `queued` until MESSAGE_TTL. It ends `failed` with ENGINE_ERROR (not
 * sent: the client had no 202 and may have sent it again). The number failed.
 */
export async function failUnqueuedSends(sessionIds: readonly string[], deps: UnqueuedSweepDeps): Promise<number> {
  const { store, queue, bus, logger } = deps;
  let failed = 0;
  for (const sessionId of sessionIds) {
    let cursor: string | undefined;
    let seen = 0;
    do {
      const page = await store.list(sessionId, { direction: 'outbound', status: 'queued', limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
      for (const record of page.data) {
        if (await queue.holds({ sessionId, messageId: record.id })) continue;
        const outcome = await store.modify(
          record.id,
          failQueued({ code: 'ENGINE_ERROR', message: 'The request that stored this send ended before its job was queued: it was not accepted and is not sent' }, new Date().toISOString()),
          record,
        );
        if (!outcome?.changed) continue;
        failed += 1;
        publishMessageStatus(bus, outcome.record);
      }
      seen += page.data.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && seen < MAX_PER_SESSION);
  }
  if (failed > 0) logger.warn({ failed }, 'failed sends stored without a job (their request ended before the job was queued; the clients had no 202)');
  return failed;
}

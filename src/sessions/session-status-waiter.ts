import type { EventBus } from '../events/event-bus.js';
import type { SessionRecord, SessionStatus } from './session.js';

/**
 * Resolves once the record's status is one of `statuses` (at once if it already is), or after
 * `timeoutMs` — with the record as it is then. Waits on `session.status` events, never polls.
 */
export function waitForSessionStatus(bus: EventBus, record: SessionRecord, statuses: readonly SessionStatus[], timeoutMs: number): Promise<SessionRecord> {
  if (statuses.includes(record.status)) return Promise.resolve(record);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve(record);
    };
    const timer = setTimeout(done, timeoutMs);
    const unsubscribe = bus.subscribe((event) => {
      if (event.sessionId === record.id && event.event === 'session.status' && statuses.includes(record.status)) done();
    });
  });
}

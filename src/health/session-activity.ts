import type { EventBus } from '../events/event-bus.js';
import type { SessionManager } from '../sessions/session-manager.js';

/** Errors kept per session for its health. */
const RECENT_ERRORS = 10;

export interface RecentError {
  /** What failed: the session itself (connection, QR, engine), one of its sends, or a webhook attempt for it. */
  source: 'session' | 'send' | 'webhook';
  code: string;
  message: string;
  /** ISO-8601. */
  at: string;
  /** The message (`msg_…`) or the delivery the error belongs to. */
  ref: string | null;
}

interface Activity {
  /** Formatted when asked for (every event of a busy session lands here; few are read). */
  lastEventAt: Date | null;
  errors: RecentError[];
  lastSessionErrorAt: string | null;
}

/**
 * Per-session activity seen by this process since it started, for `/health/sessions/:id`: when the
 * session last produced an event, and its latest errors (newest first). Fed by the event bus (every
 * contract event; failed sends; session errors) and by webhook attempts. Keeps nothing for a session
 * that does not exist (deleted: its last events — its queued sends failing, say — are not kept).
 */
export class SessionActivity {
  private readonly activity = new Map<string, Activity>();
  private readonly off: () => void;

  constructor(
    bus: EventBus,
    /** The sessions: whether one exists, and its `lastError` when its status changes. */
    private readonly sessions: Pick<SessionManager, 'has' | 'get'>,
  ) {
    this.off = bus.subscribe((event) => {
      if (!sessions.has(event.sessionId)) {
        this.activity.delete(event.sessionId);
        return;
      }
      const entry = this.entry(event.sessionId);
      entry.lastEventAt = event.occurredAt;
      if (event.event === 'message.status' && event.data.status === 'failed') {
        const { code, message } = errorFields(event.data.error);
        this.push(entry, { source: 'send', code, message, at: event.occurredAt.toISOString(), ref: String(event.data.id) });
      } else if (event.event === 'session.status') {
        const { lastError } = sessions.get(event.sessionId);
        if (lastError && lastError.at !== entry.lastSessionErrorAt) {
          entry.lastSessionErrorAt = lastError.at;
          this.push(entry, { source: 'session', code: lastError.code, message: lastError.message, at: lastError.at, ref: null });
        }
      }
    });
  }

  /** A webhook attempt for the session failed (see WebhookService's `onAttempt`). */
  webhookFailed(sessionId: string, error: { code: string; message: string }, deliveryId: string): void {
    if (!this.sessions.has(sessionId)) return;
    this.push(this.entry(sessionId), { source: 'webhook', code: error.code, message: error.message, at: new Date().toISOString(), ref: deliveryId });
  }

  lastEventAt(sessionId: string): string | null {
    return this.activity.get(sessionId)?.lastEventAt?.toISOString() ?? null;
  }

  recentErrors(sessionId: string): RecentError[] {
    return [...(this.activity.get(sessionId)?.errors ?? [])];
  }

  close(): void {
    this.off();
  }

  private entry(sessionId: string): Activity {
    let entry = this.activity.get(sessionId);
    if (!entry) {
      entry = { lastEventAt: null, errors: [], lastSessionErrorAt: null };
      this.activity.set(sessionId, entry);
    }
    return entry;
  }

  private push(entry: Activity, error: RecentError): void {
    entry.errors.unshift(error);
    if (entry.errors.length > RECENT_ERRORS) entry.errors.length = RECENT_ERRORS;
  }
}

/** `{ code, message }` of a `message.status` event's `error` (a MessageError). */
function errorFields(value: unknown): { code: string; message: string } {
  if (typeof value !== 'object' || value === null) return { code: 'UNKNOWN', message: '' };
  const code = 'code' in value && typeof value.code === 'string' ? value.code : 'UNKNOWN';
  const message = 'message' in value && typeof value.message === 'string' ? value.message : '';
  return { code, message };
}

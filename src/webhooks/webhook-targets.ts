import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { SessionWebhook } from '../sessions/session.js';
import type { DeliveryTarget, TargetKind } from './delivery.js';
import { dropOldest } from '../bounded-map.js';

/**
 * Where events go (contract "Events and webhooks"): the global target `APP_WEBHOOK_URL` (all
 * sessions, `APP_WEBHOOK_EVENTS`, `WEBHOOK_SECRET`) and each session's `webhooks[]`. A target of a
 * session is identified by its URL: entries of one session with the same URL are one target (their
 * event filters merged, each secret signing — a way to rotate a session's secret).
 */

/** What the dispatcher needs from the session manager. */
export interface SessionWebhookAccess {
  /** The session's webhook entries, secrets included; the same array until the webhooks are replaced. Null for an unknown session. */
  webhooksOf(sessionId: string): readonly SessionWebhook[] | null;
  /**
   * Marks the session's entries with this URL `disabled` (a 410 answer), unless the session's
   * webhooks were replaced since `seen` was read. True when something changed.
   */
  disableWebhook(sessionId: string, url: string, seen: readonly SessionWebhook[]): Promise<boolean>;
  /** Every session (catch-up at start, replays of all sessions). */
  list(): readonly { id: string }[];
}

export interface WebhookTarget {
  /** `app`, or `w` + 12 hex of the URL's SHA-256. */
  id: string;
  kind: TargetKind;
  /** The URL as configured (it may carry credentials): used to send, never shown. */
  url: string;
  /** The URL without userinfo: shown and logged. */
  displayUrl: string;
  /** Exact event names or `*`. */
  events: readonly string[];
  /** Active `whsec_` secrets: one signature each. Empty: sent unsigned. */
  secrets: readonly string[];
  disabled: boolean;
  /** URLs given through the API go through the SSRF guard at every connection; APP_WEBHOOK_URL is trusted. */
  guarded: boolean;
  /** Whether WEBHOOK_API_KEY goes with it: to APP_WEBHOOK_URL and to session targets on its origin only. */
  sendApiKey: boolean;
  /** The session's webhook list the target was read from (to disable it on a 410 answer). */
  source: readonly SessionWebhook[] | null;
}

export const APP_TARGET_ID = 'app';

/** Lane keys: `<sessionId>.<targetId>` — a session's events to one target, in seq order. */
export const WEBHOOK_LANE_KEY = /^[A-Za-z0-9_-]{1,64}\.(?:app|w[0-9a-f]{12})$/;

export function laneKeyOf(sessionId: string, targetId: string): string {
  return `${sessionId}.${targetId}`;
}

export function sessionTargetId(url: string): string {
  return `w${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
}

/** The URL without `user:password@` (safe to show); the input itself if it does not parse. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return parsed.toString();
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** The secrets of WEBHOOK_SECRET: one, or several separated by spaces or commas (rotation). */
export function parseSecrets(raw: string | undefined): string[] {
  return (raw ?? '').split(/[\s,]+/).filter((s) => s !== '');
}

export function matchesEvent(events: readonly string[], event: string): boolean {
  return events.includes('*') || events.includes(event);
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export function toDeliveryTarget(target: WebhookTarget): DeliveryTarget {
  return { id: target.id, kind: target.kind, url: target.displayUrl };
}

export interface AppTargetStatus {
  url: string;
  events: readonly string[];
  disabled: boolean;
  /** When a 410 answer disabled it (kept in memory: a restart enables it again). */
  disabledAt: string | null;
}

/** What a target's URL gives, worked out once per URL: an event's targets are resolved for every event. */
interface UrlFacts {
  id: string;
  displayUrl: string;
  origin: string | null;
}

/** URLs whose facts are kept (sessions' webhook URLs; beyond it the oldest are worked out again when met). */
const URL_FACTS_KEPT = 1_000;

/** Resolves the targets of a session's events, and disables one on a 410 answer. */
export class WebhookTargets {
  private appDisabledAt: string | null = null;
  private readonly appSecrets: readonly string[];
  private readonly appOrigin: string | null;
  private readonly appDisplayUrl: string | null;
  /**
   * Per URL, its target id (a SHA-256), display form and origin (two URL parses): pure functions of
   * the URL, kept rather than worked out again for every event and target.
   */
  private readonly urlFacts = new Map<string, UrlFacts>();

  constructor(
    private readonly config: Config['webhook'],
    private readonly sessions: SessionWebhookAccess,
  ) {
    this.appSecrets = parseSecrets(config.secret);
    this.appOrigin = config.appUrl === undefined ? null : originOf(config.appUrl);
    this.appDisplayUrl = config.appUrl === undefined ? null : redactUrl(config.appUrl);
  }

  private factsOf(url: string): UrlFacts {
    let facts = this.urlFacts.get(url);
    if (!facts) {
      facts = { id: sessionTargetId(url), displayUrl: redactUrl(url), origin: originOf(url) };
      this.urlFacts.set(url, facts);
      dropOldest(this.urlFacts, URL_FACTS_KEPT);
    }
    return facts;
  }

  /** Every target of the session's events, disabled ones included (callers filter). */
  forSession(sessionId: string): WebhookTarget[] {
    const targets: WebhookTarget[] = [];
    const app = this.appTarget();
    if (app) targets.push(app);
    const entries = this.sessions.webhooksOf(sessionId);
    if (!entries) return targets;
    const byUrl = new Map<string, WebhookTarget>();
    for (const entry of entries) {
      const known = byUrl.get(entry.url);
      if (known) {
        known.events = [...new Set([...known.events, ...entry.events])];
        if (entry.secret !== undefined && !known.secrets.includes(entry.secret)) known.secrets = [...known.secrets, entry.secret];
        known.disabled ||= entry.disabled;
        continue;
      }
      const facts = this.factsOf(entry.url);
      byUrl.set(entry.url, {
        id: facts.id,
        kind: 'session',
        url: entry.url,
        displayUrl: facts.displayUrl,
        events: entry.events,
        secrets: entry.secret === undefined ? [] : [entry.secret],
        disabled: entry.disabled,
        guarded: true,
        sendApiKey: this.config.apiKey !== undefined && this.appOrigin !== null && facts.origin === this.appOrigin,
        source: entries,
      });
    }
    return [...targets, ...byUrl.values()];
  }

  /** The targets an event goes to: enabled, and whose filter takes it. */
  matching(sessionId: string, event: string): WebhookTarget[] {
    return this.forSession(sessionId).filter((t) => !t.disabled && matchesEvent(t.events, event));
  }

  find(sessionId: string, targetId: string): WebhookTarget | null {
    return this.forSession(sessionId).find((t) => t.id === targetId) ?? null;
  }

  /** A 410 answer: the global target is disabled until restart; a session's until its webhooks are replaced. */
  async disable(sessionId: string, target: WebhookTarget): Promise<void> {
    if (target.kind === 'app') {
      this.appDisabledAt ??= new Date().toISOString();
      return;
    }
    if (target.source) await this.sessions.disableWebhook(sessionId, target.url, target.source);
  }

  appStatus(): AppTargetStatus | null {
    if (this.config.appUrl === undefined) return null;
    return { url: this.appDisplayUrl ?? redactUrl(this.config.appUrl), events: this.config.appEvents, disabled: this.appDisabledAt !== null, disabledAt: this.appDisabledAt };
  }

  private appTarget(): WebhookTarget | null {
    const url = this.config.appUrl;
    if (url === undefined) return null;
    return {
      id: APP_TARGET_ID,
      kind: 'app',
      url,
      displayUrl: this.appDisplayUrl ?? redactUrl(url),
      events: this.config.appEvents,
      secrets: this.appSecrets,
      disabled: this.appDisabledAt !== null,
      guarded: false,
      sendApiKey: this.config.apiKey !== undefined,
      source: null,
    };
  }
}

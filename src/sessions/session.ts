import type { EngineMe, EngineName } from '../engines/engine.js';

export const SESSION_STATUSES = ['starting', 'qr', 'authenticated', 'ready', 'disconnected', 'failed', 'stopped'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface SessionWebhook {
  url: string;
  /** Exact event names or `*`. */
  events: string[];
  /** `whsec_…`; never returned by the API. */
  secret?: string | undefined;
  /** Set when the target answered 410; cleared when the session's webhooks are replaced. */
  disabled: boolean;
}

export interface SessionError {
  code: string;
  message: string;
  /** ISO-8601. */
  at: string;
}

export interface SessionStats {
  sent: number;
  received: number;
  failed: number;
}

/** What the registry stores for one session. `engineAuth` and webhook secrets never leave the gateway. */
export interface SessionRecord {
  id: string;
  engine: EngineName;
  status: SessionStatus;
  me: EngineMe | null;
  metadata: Record<string, string>;
  webhooks: SessionWebhook[];
  createdAt: string;
  updatedAt: string;
  connectedAt: string | null;
  lastError: SessionError | null;
  stats: SessionStats;
  /** Engine link state kept with the registry (the simulator's simulated link). */
  engineAuth: unknown;
}

export interface PublicSession {
  id: string;
  engine: EngineName;
  status: SessionStatus;
  me: EngineMe | null;
  metadata: Record<string, string>;
  webhooks: { url: string; events: string[]; disabled: boolean; hasSecret: boolean }[];
  createdAt: string;
  updatedAt: string;
  connectedAt: string | null;
  lastError: SessionError | null;
  stats: SessionStats;
}

export function toPublicSession(record: SessionRecord): PublicSession {
  return {
    id: record.id,
    engine: record.engine,
    status: record.status,
    me: record.me,
    metadata: record.metadata,
    webhooks: record.webhooks.map((w) => ({ url: w.url, events: w.events, disabled: w.disabled, hasSecret: w.secret !== undefined })),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    connectedAt: record.connectedAt,
    lastError: record.lastError,
    stats: record.stats,
  };
}

/** `session.status` values of seed 002, from the gateway's status. */
export function publicConnectionStatus(status: SessionStatus): 'connecting' | 'connected' | 'disconnected' | 'qr_code' {
  switch (status) {
    case 'starting':
    case 'authenticated':
      return 'connecting';
    case 'qr':
      return 'qr_code';
    case 'ready':
      return 'connected';
    default:
      return 'disconnected';
  }
}

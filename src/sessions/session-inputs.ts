import type { EngineAuthStore, EngineName } from '../engines/engine.js';
import type { SessionRecord, SessionWebhook } from './session.js';

export interface CreateSessionInput {
  id?: string | undefined;
  engine?: EngineName | undefined;
  webhooks?: { url: string; events?: string[] | undefined; secret?: string | undefined }[] | undefined;
  metadata?: Record<string, string> | undefined;
  start?: boolean | undefined;
}

export interface UpdateSessionInput {
  /** Merged into the session's metadata; a key with an empty string value is removed. */
  metadata?: Record<string, string> | undefined;
  /** Replaces every webhook target (and re-enables those disabled by 410). */
  webhooks?: CreateSessionInput['webhooks'];
}

export function toWebhooks(input: NonNullable<CreateSessionInput['webhooks']>): SessionWebhook[] {
  return input.map((w) => ({ url: w.url, events: w.events && w.events.length > 0 ? w.events : ['*'], secret: w.secret, disabled: false }));
}

/** Stripe-style metadata update: keys merged, a key set to "" removed. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string>): Record<string, string> {
  const merged = new Map(Object.entries(current));
  for (const [key, value] of Object.entries(update)) {
    if (value === '') merged.delete(key);
    else merged.set(key, value);
  }
  return Object.fromEntries(merged);
}

/** The engine's link state, kept on the session record and persisted with it. */
export function recordAuthStore(record: SessionRecord, persist: (record: SessionRecord) => Promise<void>): EngineAuthStore {
  return {
    load: async () => record.engineAuth,
    save: async (state) => {
      record.engineAuth = state;
      await persist(record);
    },
    clear: async () => {
      record.engineAuth = null;
      await persist(record);
    },
  };
}

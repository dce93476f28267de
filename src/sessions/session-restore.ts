import type { SessionRecord } from './session.js';

/** Failures that need a person (a new scan, an unbanned number): restarting them at boot would only fail again. */
const NOT_RESTORED_FAILURES = new Set(['BANNED', 'QR_TIMEOUT', 'AUTH_FAILURE', 'LOGGED_OUT']);

/**
 * Which sessions come back at boot: every one that was not stopped (contract), except those
 * that failed for a reason only a person can fix. They keep their status and `lastError`
 * until someone calls start.
 */
export function shouldRestore(record: SessionRecord): boolean {
  if (record.status === 'stopped') return false;
  if (record.status === 'failed' && record.lastError && NOT_RESTORED_FAILURES.has(record.lastError.code)) return false;
  return true;
}

/** Runs `start` for every id, at most `concurrency` at a time (each may launch a browser). */
export async function restoreAll(ids: readonly string[], concurrency: number, start: (id: string) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++];
      if (id !== undefined) await start(id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
}

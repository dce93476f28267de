import { readFile } from 'node:fs/promises';
import type { MessageRecord } from '../../../src/messages/message.js';
import type { GatewayClient } from './client.js';
import type { SendLoad } from './load.js';
import { pause } from './rig.js';

/** What the engine took, from SENDS_FILE (`<text> <waMessageId>` per send WhatsApp holds). */
export async function engineSends(sendsFile: string): Promise<Map<string, string[]>> {
  const byText = new Map<string, string[]>();
  for (const line of (await readFile(sendsFile, 'utf8')).split('\n')) {
    if (line === '') continue;
    const [text = '', waMessageId = ''] = line.split(' ');
    byText.set(text, [...(byText.get(text) ?? []), waMessageId]);
  }
  return byText;
}

export interface SendFigures {
  accepted: number;
  /** Accepted, record `sent` or later, and taken by the engine exactly once under the record's waMessageId. */
  sent: number;
  /** Accepted and ended `failed` (never sent twice; see `failedButTaken`). */
  failed: number;
  failedCodes: Record<string, number>;
  /** Accepted, `failed`, yet the engine had taken it (e.g. SEND_INTERRUPTED after WhatsApp took it): failed rather than risked twice. */
  failedButTaken: number;
  /** Accepted ids neither sent (per the engine) nor failed: missing, still queued, or `sent` with no engine send behind it. */
  lost: number;
  /** Texts the engine took more than once. */
  duplicated: number;
  /** Engine sends of texts whose request got no 202 (the answer was lost with the process): sent once, never accepted. */
  sentUnaccepted: number;
  /** Records of the sessions that are not accepted sends and are still `queued` after everything settled. */
  strandedUnaccepted: number;
  problems: string[];
}

const DONE = new Set(['sent', 'delivered', 'read', 'played', 'failed']);

/** Waits until every accepted id has left `queued` (or the deadline), then compares records with the engine's sends. */
export async function tallySends(client: GatewayClient, load: SendLoad, sendsFile: string, settleTimeoutMs: number): Promise<SendFigures> {
  const records = new Map<string, MessageRecord | null>();
  const deadline = Date.now() + settleTimeoutMs;
  let pending = [...load.accepted.keys()];
  for (;;) {
    const fetched = await Promise.all(pending.map(async (id) => [id, await client.message(load.accepted.get(id)?.sessionId ?? '', id)] as const));
    for (const [id, record] of fetched) records.set(id, record);
    pending = fetched.filter(([, record]) => record === null || !DONE.has(record.status)).map(([id]) => id);
    if (pending.length === 0 || Date.now() > deadline) break;
    await pause(200);
  }

  const sends = await engineSends(sendsFile);
  const acceptedTexts = new Set([...load.accepted.values()].map((a) => a.text));
  const figures: SendFigures = { accepted: load.accepted.size, sent: 0, failed: 0, failedCodes: {}, failedButTaken: 0, lost: 0, duplicated: 0, sentUnaccepted: 0, strandedUnaccepted: 0, problems: [] };
  for (const [id, { text }] of load.accepted) {
    const record = records.get(id) ?? null;
    const taken = sends.get(text) ?? [];
    if (record?.status === 'failed') {
      figures.failed++;
      const code = record.error?.code ?? 'none';
      figures.failedCodes[code] = (figures.failedCodes[code] ?? 0) + 1;
      if (taken.length > 0) figures.failedButTaken++;
    } else if (record && DONE.has(record.status) && taken.length >= 1 && taken.includes(record.waMessageId ?? '')) {
      figures.sent++;
    } else {
      figures.lost++;
      if (figures.problems.length < 5) figures.problems.push(`lost ${id} (${text}): ${record ? `${record.status}, waMessageId ${String(record.waMessageId)}` : 'no record'}, engine sends ${taken.length}`);
    }
  }
  for (const [text, taken] of sends) {
    if (taken.length > 1) {
      figures.duplicated++;
      if (figures.problems.length < 10) figures.problems.push(`sent ${taken.length} times: ${text}`);
    }
    if (!acceptedTexts.has(text)) figures.sentUnaccepted++;
  }
  for (const sessionId of load.sessions) {
    for (const record of await client.messages(sessionId)) {
      if (record.direction === 'outbound' && record.status === 'queued' && !load.accepted.has(record.id)) figures.strandedUnaccepted++;
    }
  }
  return figures;
}

export interface EventFigures {
  delivered: number;
  outOfOrder: number;
}

/** One line per scenario: the figures the suite promises, then what else is worth knowing. */
export function figuresLine(scenario: string, sends: SendFigures | null, events: EventFigures | null, extra: Record<string, unknown>): string {
  const s = sends;
  const parts = [
    `accepted ${s ? s.accepted : '-'}`,
    `sent ${s ? s.sent : '-'}`,
    `failed ${s ? `${s.failed}${s.failed > 0 ? ` ${JSON.stringify(s.failedCodes)}` : ''}` : '-'}`,
    `lost ${s ? s.lost : '-'}`,
    `duplicated ${s ? s.duplicated : '-'}`,
    `events delivered ${events ? events.delivered : '-'}`,
    `out of order ${events ? events.outOfOrder : '-'}`,
  ];
  if (s) parts.push(`failed but taken ${s.failedButTaken}`, `sent unaccepted ${s.sentUnaccepted}`, `stranded unaccepted ${s.strandedUnaccepted}`);
  for (const [key, value] of Object.entries(extra)) parts.push(`${key} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `chaos ${scenario}: ${parts.join(', ')}`;
}

import type { EventEnvelope } from '../../../src/events/event-envelope.js';
import type { MessageRecord } from '../../../src/messages/message.js';
import { TEST_API_KEY } from '../../helpers/test-app.js';

/** What one HTTP request came to: a status and body, or a transport error (refused, reset, timeout). */
export interface Answer {
  status: number | null;
  /** The body parsed as JSON (null when it is not JSON, or on a transport error). */
  json: unknown;
  /** The transport error's cause (ECONNREFUSED…), when there was no answer. */
  error: string | null;
  /** Wall time of the request, ms. */
  ms: number;
}

const REQUEST_TIMEOUT_MS = 15_000;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message;
    return error.name === 'TimeoutError' ? 'TIMEOUT' : error.message;
  }
  return String(error);
}

/** The HTTP API of one gateway process, as a client sees it (real sockets, keep-alive). */
export class GatewayClient {
  constructor(readonly base: string) {}

  /** Never throws: a transport error is an Answer with status null. */
  async request(method: string, path: string, body?: unknown): Promise<Answer> {
    const started = performance.now();
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: { 'x-api-key': TEST_API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { status: res.status, json, error: null, ms: performance.now() - started };
    } catch (error) {
      return { status: null, json: null, error: describeError(error), ms: performance.now() - started };
    }
  }

  async probe(path: string): Promise<Answer> {
    return this.request('GET', path);
  }

  /** A request that must answer `expected`; throws with the answer otherwise. */
  async expect(method: string, path: string, expected: number, body?: unknown): Promise<unknown> {
    const answer = await this.request(method, path, body);
    if (answer.status !== expected) throw new Error(`${method} ${path} → ${String(answer.status ?? answer.error)} (expected ${expected}): ${JSON.stringify(answer.json)}`);
    return answer.json;
  }

  async sessionStatus(id: string): Promise<string> {
    return (((await this.expect('GET', `/api/v1/sessions/${id}`, 200)) as { status: string }).status);
  }

  /** Creates a simulator session, scans its QR and waits for `ready`. */
  async readySimulatorSession(id: string, faults?: { sendLatencyMs: number }): Promise<void> {
    await this.expect('POST', '/api/v1/sessions', 201, { id, engine: 'simulator' });
    await this.waitForStatus(id, 'qr');
    await this.expect('POST', `/api/v1/sessions/${id}/simulator/scan`, 200, {});
    await this.waitForStatus(id, 'ready');
    if (faults) await this.expect('POST', `/api/v1/sessions/${id}/simulator/faults`, 200, faults);
  }

  async waitForStatus(id: string, status: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.sessionStatus(id);
      if (last === status) return;
      await new Promise((done) => setTimeout(done, 20));
    }
    throw new Error(`session ${id} is ${last}, not ${status}, after ${timeoutMs} ms`);
  }

  async message(sessionId: string, messageId: string): Promise<MessageRecord | null> {
    const answer = await this.request('GET', `/api/v1/sessions/${sessionId}/messages/${messageId}`);
    if (answer.status === 404) return null;
    if (answer.status !== 200) throw new Error(`GET message ${messageId} → ${String(answer.status ?? answer.error)}: ${JSON.stringify(answer.json)}`);
    return answer.json as MessageRecord;
  }

  /** Every message of a session (both directions), following the cursor. */
  async messages(sessionId: string): Promise<MessageRecord[]> {
    const out: MessageRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = (await this.expect('GET', `/api/v1/sessions/${sessionId}/messages?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, 200)) as { data: MessageRecord[]; nextCursor: string | null };
      out.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return out;
  }

  /** Every webhook delivery's recorded attempts (`history`: the latest few of each), all pages. */
  async deliveryAttempts(): Promise<{ statusCode: number | null; error: { code: string } | null }[]> {
    const out: { statusCode: number | null; error: { code: string } | null }[] = [];
    let cursor: string | null = null;
    do {
      const page = (await this.expect('GET', `/api/v1/webhooks/deliveries?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, 200)) as {
        data: { history: { statusCode: number | null; error: { code: string } | null }[] }[];
        nextCursor: string | null;
      };
      for (const delivery of page.data) out.push(...delivery.history);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return out;
  }

  /** The session's whole event log, oldest first. */
  async events(sessionId: string): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = [];
    for (;;) {
      const afterSeq = out.at(-1)?.seq ?? 0;
      const page = (await this.expect('GET', `/api/v1/sessions/${sessionId}/events?afterSeq=${afterSeq}&limit=500`, 200)) as { data: EventEnvelope[] };
      out.push(...page.data);
      if (page.data.length < 500) return out;
    }
  }
}

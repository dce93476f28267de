import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { AwaitableLog } from './awaitable-log.js';

/** One item of a `text/event-stream`: an event (id, event, data) or a comment. */
export interface SseItem {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export interface SseOpenResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, when the server answered something else than a stream. */
  body?: string;
  stream?: SseStream;
}

/**
 * A minimal Server-Sent Events client over node:http (inject cannot stream): parses frames as they
 * come and lets tests await them. `pause()` stops reading the socket, to play a slow client.
 */
export class SseStream extends AwaitableLog<SseItem> {
  ended = false;
  private pending = '';
  private readonly endWaiters = new Set<() => void>();

  constructor(
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {
    super();
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    const finish = (): void => {
      this.ended = true;
      for (const wake of [...this.endWaiters]) wake();
    };
    res.on('end', finish);
    res.on('close', finish);
    res.on('error', finish);
    req.on('error', finish);
  }

  protected summary(): string {
    return this.events.map((e) => (e.comment !== undefined ? `:${e.comment}` : `${e.id ?? ''} ${e.event ?? ''}`)).join(', ');
  }

  private feed(chunk: string): void {
    this.pending += chunk;
    for (let end = this.pending.indexOf('\n\n'); end !== -1; end = this.pending.indexOf('\n\n')) {
      const frame = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      const item: SseItem = {};
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) item.comment = line.slice(1).trim();
        else {
          const at = line.indexOf(':');
          const field = at === -1 ? line : line.slice(0, at);
          const value = at === -1 ? '' : line.slice(at + 1).replace(/^ /, '');
          if (field === 'id' || field === 'event') item[field] = value;
          else if (field === 'data') item.data = item.data === undefined ? value : `${item.data}\n${value}`;
        }
      }
      this.record(item);
    }
  }

  /** The events (not comments) received so far, with their envelopes. */
  envelopes(): { id: string; event: string; envelope: EventEnvelope }[] {
    return this.events.filter((e) => e.data !== undefined).map((e) => ({ id: e.id ?? '', event: e.event ?? '', envelope: JSON.parse(e.data ?? 'null') as EventEnvelope }));
  }

  /** Waits until at least `n` events (not comments) have arrived. */
  async count(n: number, timeoutMs = 5_000): Promise<{ id: string; event: string; envelope: EventEnvelope }[]> {
    return this.until(() => (this.envelopes().length >= n ? this.envelopes() : undefined), timeoutMs, `${n} events`);
  }

  async comment(text: string, timeoutMs = 5_000): Promise<SseItem> {
    return this.until(() => this.events.find((e) => e.comment === text), timeoutMs, `comment "${text}"`);
  }

  /** Resolves when the server ended or broke the stream. */
  async closed(timeoutMs = 5_000): Promise<void> {
    if (this.ended) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream still open after ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.add(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  pause(): void {
    this.res.pause();
    this.res.socket.pause();
  }

  resume(): void {
    this.res.socket.resume();
    this.res.resume();
  }

  close(): void {
    this.req.destroy();
  }
}

/** GET `url` (a stream route): the stream when the answer is 200, else the status and body. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseOpenResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        return;
      }
      resolve({ status: 200, headers: res.headers, stream: new SseStream(req, res) });
    });
    req.on('error', reject);
    req.end();
  });
}

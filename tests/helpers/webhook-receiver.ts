import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import { AwaitableLog } from './awaitable-log.js';

/** The envelope a delivery carries (contract "Events and webhooks"). */
export type ReceivedEnvelope = EventEnvelope;

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The exact body received. */
  body: string;
  /** performance.now() when the request was complete. */
  at: number;
  /** What the receiver answered (null: it never did, e.g. closed meanwhile). */
  status: number | null;
  /** The client's port: requests over one kept-alive connection share it. */
  remotePort: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
}

/** Decides the answer to a request; `nth` counts the requests to the same path with the same `webhook-id` (1 = first). */
export type Responder = (request: ReceivedRequest, nth: number) => Answer;

export const ok: Responder = () => ({ status: 200 });

/**
 * A real webhook target: a node:http server on 127.0.0.1 that records every request (body bytes
 * as received) and answers what `respond` says. `stop()` closes it (the port then refuses
 * connections: "down"), `start()` listens again on the same port.
 */
export class WebhookReceiver extends AwaitableLog<ReceivedRequest> {
  respond: Responder;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  private constructor(respond: Responder) {
    super();
    this.respond = respond;
  }

  static async start(respond: Responder = ok): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(respond);
    await receiver.start();
    return receiver;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.handle({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now(), status: null, remotePort: req.socket.remotePort ?? 0 }, res));
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
  }

  private handle(request: ReceivedRequest, res: ServerResponse): void {
    const id = String(request.headers['webhook-id']);
    const nth = this.events.filter((r) => r.path === request.path && String(r.headers['webhook-id']) === id).length + 1;
    const answer = this.respond(request, nth);
    const reply = (): void => {
      if (res.destroyed) return;
      request.status = answer.status;
      this.record(request);
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end('ok');
    };
    if (!answer.delayMs) {
      reply();
      return;
    }
    // Recorded when it arrives (not answered yet): a test may wait for a request the gateway gives up on.
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end('late');
    }, answer.delayMs);
    this.timers.add(timer);
    this.record(request);
  }

  /** Closes the server and every connection: the port refuses connections until `start()`. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests to `path`, in arrival order. */
  to(path: string): ReceivedRequest[] {
    return this.events.filter((r) => r.path === path);
  }

  /** Envelopes answered 2xx at `path`, in arrival order. */
  deliveredTo(path: string): ReceivedEnvelope[] {
    return this.to(path)
      .filter((r) => r.status !== null && r.status >= 200 && r.status < 300)
      .map((r) => JSON.parse(r.body) as ReceivedEnvelope);
  }

  /** Resolves once `count` envelopes (optionally of one event name) were answered 2xx at `path`. */
  async delivered(path: string, count: number, event?: string, timeoutMs = 10_000): Promise<ReceivedEnvelope[]> {
    return this.until(
      () => {
        const got = this.deliveredTo(path).filter((e) => event === undefined || e.event === event);
        return got.length >= count ? got : undefined;
      },
      timeoutMs,
      `${count} ${event ?? ''} deliveries at ${path}`,
    );
  }

  /** Resolves once `count` requests arrived at `path`. */
  async requests(path: string, count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    return this.until(() => (this.to(path).length >= count ? this.to(path) : undefined), timeoutMs, `${count} requests at ${path}`);
  }

  protected summary(): string {
    return this.events
      .slice(-20)
      .map((r) => `${r.path} ${String(r.headers['webhook-id'])} → ${String(r.status)}`)
      .join(', ');
  }
}

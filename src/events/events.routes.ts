import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { MAX_EVENT_PAGE_LIMIT } from '../storage/event-log.js';
import type { EventEnvelope } from './event-envelope.js';
import type { ReplayableEnvelopeSource } from './event-recorder.js';
import { EVENT_NAMES } from './event-schemas.js';
import { EVENT_ROUTE_LIMITS, EventLogPage, EventLogQuery, EventStreamHeaders, EventStreamQuery, EventStreamResponse, parseLastEventId, type ResumePosition } from './events.schemas.js';

const tags = ['Events'];

export const DEFAULT_SSE_HEARTBEAT_MS = 15_000;
/** Bytes a stream may have waiting in its socket buffer before the client is dropped as too slow. */
export const DEFAULT_SSE_MAX_BUFFERED_BYTES = 1024 * 1024;
export const DEFAULT_SSE_MAX_CLIENTS = 1_000;
/** Live envelopes held for a stream while it replays from the log; beyond it the client is dropped. */
const MAX_HELD_WHILE_REPLAYING = 10_000;
const REPLAY_PAGE = 500;

export interface EventRoutesOptions {
  events: ReplayableEnvelopeSource;
  sessions: SessionManager;
  /** `: heartbeat` comment interval (default 15 s). */
  heartbeatMs?: number | undefined;
  /** Pending socket bytes beyond which a live stream is closed (default 1 MiB). */
  maxBufferedBytes?: number | undefined;
  /** Open streams beyond which a new one is refused with 503 OVERLOADED (default 1,000). */
  maxClients?: number | undefined;
  /** True while the gateway shuts down: new streams are refused (the app's gate answers SHUTTING_DOWN). */
  isShuttingDown?: () => boolean;
}

interface StreamFilter {
  sessionId: string | undefined;
  /** null: every event. */
  events: ReadonlySet<string> | null;
}

/**
 * One open SSE stream. Positions (last seq handled per session) make delivery exactly-once across
 * the replay from the log and the live feed: an envelope at or below its session's position is skipped.
 */
class SseClient {
  private readonly positions = new Map<string, number>();
  /** Live envelopes arriving while the replay runs; null once live. */
  private held: EventEnvelope[] | null = [];
  private heartbeat: NodeJS.Timeout | null = null;
  closed = false;

  constructor(
    private readonly raw: ServerResponse,
    private readonly filter: StreamFilter,
    private readonly maxBufferedBytes: number,
    private readonly log: FastifyBaseLogger,
    private readonly onClosed: (client: SseClient) => void,
  ) {
    raw.on('close', () => this.close());
  }

  start(heartbeatMs: number): void {
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), heartbeatMs);
    this.heartbeat.unref();
  }

  /** A live envelope (the recorder's listener). */
  offer(envelope: EventEnvelope): void {
    if (this.closed || (this.filter.sessionId !== undefined && envelope.sessionId !== this.filter.sessionId)) return;
    if (this.held) {
      if (this.held.length >= MAX_HELD_WHILE_REPLAYING) this.drop('too many live events arrived while replaying');
      else this.held.push(envelope);
      return;
    }
    this.consider(envelope);
  }

  /** Replays each position's session from the log, then goes live with what arrived meanwhile. */
  async replay(source: ReplayableEnvelopeSource, from: readonly ResumePosition[]): Promise<void> {
    for (const { sessionId, seq } of from) {
      // Beyond the session's last seq, the sequence started again (an embedded-mode restart): replay all the log holds.
      const position = seq > (await source.lastSeq(sessionId)) ? 0 : seq;
      this.positions.set(sessionId, Math.max(position, this.positions.get(sessionId) ?? 0));
    }
    for (const { sessionId } of from) {
      for (;;) {
        if (this.closed) return;
        const page = await source.read(sessionId, this.positions.get(sessionId) ?? 0, REPLAY_PAGE);
        for (const envelope of page) this.consider(envelope);
        if (this.raw.writableLength > this.maxBufferedBytes) await this.drained();
        if (page.length < REPLAY_PAGE) break;
      }
    }
    const held = this.held ?? [];
    this.held = null;
    for (const envelope of held) this.consider(envelope);
  }

  private consider(envelope: EventEnvelope): void {
    if (this.closed || envelope.seq <= (this.positions.get(envelope.sessionId) ?? 0)) return;
    this.positions.set(envelope.sessionId, envelope.seq);
    if (this.filter.events && !this.filter.events.has(envelope.event)) return;
    this.write(`id: ${envelope.sessionId}:${envelope.seq}\nevent: ${envelope.event}\ndata: ${JSON.stringify(envelope)}\n\n`);
  }

  private write(frame: string): void {
    if (this.closed) return;
    this.raw.write(frame);
    // While replaying, the replay waits for the socket to drain instead.
    if (this.held === null && this.raw.writableLength > this.maxBufferedBytes) this.drop(`more than ${this.maxBufferedBytes} bytes waiting in the socket buffer`);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.raw.off('drain', done);
        this.raw.off('close', done);
        resolve();
      };
      this.raw.once('drain', done);
      this.raw.once('close', done);
    });
  }

  private drop(why: string): void {
    this.log.warn({ filter: { sessionId: this.filter.sessionId, events: this.filter.events ? [...this.filter.events] : '*' } }, `event stream client dropped: ${why}`);
    this.raw.destroy();
    this.close();
  }

  /** Ends the stream (shutdown): the client reconnects elsewhere with Last-Event-ID. */
  end(): void {
    if (this.closed) return;
    this.raw.end();
    this.close();
    // A client that does not read would keep the socket (and the server's close) waiting.
    setTimeout(() => {
      if (!this.raw.writableFinished) this.raw.destroy();
    }, 1_000).unref();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.onClosed(this);
  }
}

/**
 * `GET /api/v1/sessions/:id/events` (the session's event log) and `GET /api/v1/events` (live SSE).
 * The stream is written on the raw response after `reply.hijack()`; everything that can fail
 * (validation, auth, unknown session, shutdown, too many streams) is checked before, so errors keep
 * the contract's shape. Streams are ended in `preClose`, before the server waits for its connections.
 */
export async function eventRoutes(parent: FastifyInstance, options: EventRoutesOptions): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { events, sessions } = options;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_SSE_HEARTBEAT_MS;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_SSE_MAX_BUFFERED_BYTES;
  const maxClients = options.maxClients ?? DEFAULT_SSE_MAX_CLIENTS;
  const clients = new Set<SseClient>();
  let closing = false;

  const unsubscribe = events.onEnvelope((envelope) => {
    for (const client of clients) client.offer(envelope);
  });
  app.addHook('preClose', async () => {
    closing = true;
    for (const client of [...clients]) client.end();
  });
  app.addHook('onClose', async () => {
    unsubscribe();
  });

  const assertSession = (id: string): void => {
    if (!sessions.has(id)) throw new AppError('SESSION_NOT_FOUND', `Session '${id}' does not exist`);
  };

  app.get('/api/v1/sessions/:id/events', {
    schema: {
      tags,
      summary: "The session's event log",
      description: [
        `Envelopes with \`seq > afterSeq\`, oldest first, at most \`limit\` (1–${MAX_EVENT_PAGE_LIMIT}, default 100) — the same envelopes webhooks and the SSE stream carry.`,
        'Poll or page with `?afterSeq=<nextAfterSeq>`. The log keeps the newest ~10,000 events per session (with Redis: for MESSAGE_TTL after the last event; embedded: until restart, at most 16 MiB per session); a first `seq` above afterSeq + 1 means older events were trimmed.',
      ].join('\n\n'),
      params: SessionIdParams,
      querystring: EventLogQuery,
      response: { 200: EventLogPage, ...errorResponses('SESSION_NOT_FOUND', 'STORE_UNAVAILABLE') },
    },
    handler: async (request) => {
      assertSession(request.params.id);
      const { afterSeq, limit } = request.query;
      const data = await events.read(request.params.id, afterSeq, limit);
      const lastSeq = await events.lastSeq(request.params.id);
      const nextAfterSeq = data[data.length - 1]?.seq ?? afterSeq;
      return { data, nextAfterSeq, lastSeq, hasMore: nextAfterSeq < lastSeq };
    },
  });

  app.get('/api/v1/events', {
    schema: {
      tags,
      summary: 'Live event stream (Server-Sent Events)',
      description: [
        'A `text/event-stream` of the envelopes of every session (or of `sessionId`), optionally only the `events` named (comma-separated, or `*`).',
        `Each event: \`id: <sessionId>:<seq>\`, \`event: <name>\`, \`data: <envelope JSON>\` (one line). A \`: heartbeat\` comment every ${Math.round(heartbeatMs / 1000)} s keeps proxies from timing out.`,
        '**Resume**: on reconnect, `Last-Event-ID: <sessionId>:<seq>` (EventSource sends it by itself) replays that session\'s events after `seq` from the event log (filters applied), then the stream goes live without gaps or repeats. On a stream of one session (`?sessionId=`) that is a complete resume. A stream of every session resumes each session **listed**: send `Last-Event-ID: sales:42,support:17,…` (up to 100, the last seq you hold per session) to resume them all; sessions not listed are live only. Resuming older than the log holds starts at the oldest event kept (seq shows the gap); a seq above the session\'s last one (the sequence started again after an embedded-mode restart) replays all the log holds.',
        `**Slow clients**: a live stream with more than ${maxBufferedBytes} bytes waiting in its socket buffer is closed (reconnect with Last-Event-ID to catch up from the log). At most ${maxClients} streams per instance (503 OVERLOADED beyond). Streams end when the instance shuts down.`,
        `Event names: ${EVENT_NAMES.map((name) => `\`${name}\``).join(', ')}. The envelope and each event's \`data\` are documented in the \`webhooks\` section.`,
      ].join('\n\n'),
      querystring: EventStreamQuery,
      headers: EventStreamHeaders,
      response: { 200: EventStreamResponse, ...errorResponses('SESSION_NOT_FOUND', 'SHUTTING_DOWN', 'OVERLOADED', 'STORE_UNAVAILABLE') },
    },
    handler: async (request, reply) => {
      const { sessionId } = request.query;
      const names = request.query.events ?? ['*'];
      if (sessionId !== undefined) assertSession(sessionId);
      if (closing || options.isShuttingDown?.() === true) throw new AppError('SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance');
      if (clients.size >= maxClients) throw new AppError('OVERLOADED', `At most ${maxClients} event streams per instance; retry later`, [], { 'retry-after': '5' });
      const lastEventId = request.headers['last-event-id'];
      let from: ResumePosition[] = [];
      if (lastEventId !== undefined && lastEventId.trim() !== '') {
        const parsed = parseLastEventId(lastEventId, sessionId);
        if (parsed === null) {
          const message = `must be <sessionId>:<seq>, comma-separated, at most ${EVENT_ROUTE_LIMITS.resumePositions}`;
          throw new AppError('VALIDATION_ERROR', `Invalid request: headers.last-event-id ${message}`, [{ path: 'headers.last-event-id', message }]);
        }
        from = sessionId === undefined ? parsed : parsed.filter((p) => p.sessionId === sessionId);
      }
      const filter: StreamFilter = { sessionId, events: names.includes('*') ? null : new Set(names) };

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      const client = new SseClient(raw, filter, maxBufferedBytes, request.log, (closed) => clients.delete(closed));
      clients.add(client);
      raw.write(': connected\n\n');
      client.start(heartbeatMs);
      try {
        await client.replay(events, from);
      } catch (error) {
        // Headers are sent: the error handler cannot answer any more. End the stream; the client resumes.
        request.log.error({ err: error }, 'replaying events to a stream failed; closing it');
        client.end();
      }
    },
  });
}

import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

/** While draining, how often replies hijacked meanwhile (a stream starting) are looked at again. */
const RECHECK_MS = 100;

/**
 * The requests Fastify still owes an answer — what a graceful shutdown waits for before it stops
 * listening. A hijacked reply (the SSE stream) is not counted: it has no end of its own, and the
 * stream route ends it when the app closes.
 */
export class InFlightRequests {
  /** Raw response → its reply (whose `sent` tells an answered or hijacked one from one still owed). */
  private readonly replies = new Map<ServerResponse, FastifyReply>();
  private readonly waiters = new Set<() => void>();
  /** One listener for every response (no closure per request): `this` is the response that closed. */
  private readonly onClose: (this: ServerResponse) => void;

  constructor() {
    const { replies, waiters } = this;
    this.onClose = function (this: ServerResponse): void {
      replies.delete(this);
      if (waiters.size > 0) for (const wake of [...waiters]) wake();
    };
  }

  /** Counts `reply` until its response closes (sent, or the client went away). */
  track(reply: FastifyReply): void {
    this.replies.set(reply.raw, reply);
    reply.raw.on('close', this.onClose);
  }

  /** Requests not answered yet. */
  get count(): number {
    let count = 0;
    for (const reply of this.replies.values()) if (!reply.sent) count += 1;
    return count;
  }

  /** Resolves true once no request is in flight, false if `signal` aborts first. */
  idle(signal: AbortSignal): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (idle: boolean): void => {
        this.waiters.delete(check);
        clearInterval(recheck);
        signal.removeEventListener('abort', onAbort);
        resolve(idle);
      };
      const check = (): void => {
        if (this.count === 0) finish(true);
      };
      const onAbort = (): void => finish(false);
      const recheck = setInterval(check, RECHECK_MS);
      this.waiters.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export interface ShutdownGateOptions {
  inFlight: InFlightRequests;
  /** True from the first shutdown signal on. */
  isShuttingDown: () => boolean;
}

/**
 * Counts every request in flight and, once shutting down, refuses new work with 503
 * `SHUTTING_DOWN` (the open probes still answer: readiness says 503 by itself) while the server
 * keeps listening, so that clients and probes see a 503 rather than a refused connection. Every
 * response sent while shutting down carries `connection: close`: keep-alive clients reconnect
 * elsewhere and the server has no idle connection left to wait for when it closes.
 * Register first after the error handler, so that refusing costs nothing else (no auth, no rate-limit count).
 */
async function shutdownGatePlugin(app: FastifyInstance, options: ShutdownGateOptions): Promise<void> {
  const { inFlight, isShuttingDown } = options;
  app.addHook('onRequest', (request, reply, done) => {
    inFlight.track(reply);
    if (!isShuttingDown() || request.routeOptions.config.public === true) {
      done();
      return;
    }
    done(new AppError('SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance', [], { 'retry-after': '1' }));
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (isShuttingDown()) void reply.header('connection', 'close');
    done(null, payload);
  });
}

export const shutdownGate = fp(shutdownGatePlugin, { name: 'shutdown-gate', fastify: '5.x', dependencies: ['error-handler'] });

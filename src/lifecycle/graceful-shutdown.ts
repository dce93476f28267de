import { constants } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import { sleep, untilAborted } from '../abortable-wait.js';

/** How long connections still open when the server stops listening may stay before they are cut. */
const CONNECTION_GRACE_MS = 1_000;

/**
 * What a graceful shutdown does, in order. The gateway's steps are {@link gatewayShutdownSteps};
 * the sequence, its time bounds and the second signal are {@link gracefulShutdown}'s.
 */
export interface ShutdownSteps {
  /** Refuses new work from now on (readiness 503, `SHUTTING_DOWN`); the server keeps listening. */
  stopAccepting(): void;
  /** Lets the work under way finish. `signal` aborts when the drain's share of the time is spent: return then. */
  drain(signal: AbortSignal): Promise<void>;
  /** Stops listening and releases everything (streams, engines, queues, stores). */
  close(): Promise<void>;
}

export interface GracefulShutdownOptions {
  /** SHUTDOWN_TIMEOUT: from the first signal to a hard exit (code 1). */
  timeoutMs: number;
  steps: ShutdownSteps;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** `process.exit` in production. */
  exit: (code: number) => void;
}

/**
 * The part of SHUTDOWN_TIMEOUT kept for closing after the drain — stopping engines (a Chromium
 * may take a few seconds to go) and flushing stores: 40 %, at most 10 s (25 s → drain 15 s, close 10 s).
 */
export function closeReserveMs(timeoutMs: number): number {
  return Math.min(10_000, Math.round(timeoutMs * 0.4));
}

/** Exit code of a process ended by `signal`, the shell's way: 128 + its number (SIGTERM 143, SIGINT 130). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * The signal handler. The first signal: stop accepting work at once, drain (bounded by
 * SHUTDOWN_TIMEOUT minus {@link closeReserveMs}: past it, close anyway), close, exit 0 — or exit 1
 * if it all takes longer than SHUTDOWN_TIMEOUT or closing fails. A second signal exits at once
 * with 128 + its number.
 */
export function gracefulShutdown(options: GracefulShutdownOptions): (signal: NodeJS.Signals) => void {
  const { timeoutMs, steps, logger, exit } = options;
  let startedAt: number | null = null;
  const elapsed = (): number => Date.now() - (startedAt ?? Date.now());

  const run = async (): Promise<void> => {
    const drainMs = timeoutMs - closeReserveMs(timeoutMs);
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(), drainMs);
    try {
      await Promise.race([steps.drain(budget.signal), untilAborted(budget.signal)]);
    } catch (error) {
      logger.error({ err: error }, 'draining failed; closing anyway');
    } finally {
      clearTimeout(timer);
    }
    if (budget.signal.aborted) logger.warn({ drainMs }, 'work still under way after the drain time; closing anyway (interrupted sends are kept for the next start)');
    logger.info({ elapsedMs: elapsed() }, 'shutdown: drained; closing');
    await steps.close();
  };

  return (signal) => {
    if (startedAt !== null) {
      logger.warn({ signal, elapsedMs: elapsed() }, 'second signal: exiting now');
      exit(signalExitCode(signal));
      return;
    }
    startedAt = Date.now();
    steps.stopAccepting();
    logger.info({ signal, timeoutMs }, 'shutting down: refusing new work, draining');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took longer than SHUTDOWN_TIMEOUT: exiting');
      exit(1);
    }, timeoutMs);
    deadline.unref();
    run().then(
      () => {
        clearTimeout(deadline);
        logger.info({ elapsedMs: elapsed() }, 'shutdown complete');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
}

/**
 * The gateway's steps: the shutting-down flag; then the requests in flight answered, then the send
 * workers' current jobs finished (the queue stops taking jobs; what is still queued stays for the
 * next start — in Redis, durable) — and, alongside, at least `listenAtLeastMs` (SHUTDOWN_DELAY) of
 * listening, so that a load balancer or kube-proxy still routing here meanwhile gets a 503, not a
 * refused connection; then `app.close()`: the SSE streams end, the server stops listening, and the
 * app's onClose hooks stop the engines keeping their auth (no logout) and close webhooks and stores.
 */
export function gatewayShutdownSteps(app: FastifyInstance, listenAtLeastMs: number): ShutdownSteps {
  const { gateway } = app;
  const finishWork = async (signal: AbortSignal): Promise<void> => {
    const started = Date.now();
    const inFlight = gateway.inFlight.count;
    if (!(await gateway.inFlight.idle(signal))) return;
    app.log.info({ requests: inFlight, elapsedMs: Date.now() - started }, 'shutdown: requests in flight answered');
    await gateway.queue.close();
    app.log.info({ elapsedMs: Date.now() - started }, 'shutdown: send workers stopped after their current jobs');
  };
  return {
    stopAccepting: () => {
      gateway.shuttingDown = true;
    },
    drain: async (signal) => {
      await Promise.all([finishWork(signal), sleep(listenAtLeastMs, signal)]);
    },
    close: async () => {
      const closing = app.close();
      // Left once the streams have ended and idle keep-alives are closed: connections that never sent
      // a request (clients open spares) and requests that raced the close. The server waits for them, so
      // they get a moment, then are cut — the engines must not wait on a client.
      const cut = setTimeout(() => app.server.closeAllConnections(), CONNECTION_GRACE_MS);
      cut.unref();
      try {
        await closing;
      } finally {
        clearTimeout(cut);
      }
    },
  };
}

import type { Answer, GatewayClient } from './client.js';

/** One send request and what came of it. */
export interface SendAttempt {
  sessionId: string;
  text: string;
  /** Date.now() when it was sent. */
  at: number;
  answer: Answer;
}

export interface LoadPhaseOptions {
  client: GatewayClient;
  /** Sequential clients per session (each waits for its answer before the next send). */
  clientsPerSession: number;
  /** A client stops after its answer when this says so (e.g. on a 503 or a transport error). */
  stopAfter: (attempt: SendAttempt) => boolean;
  /** Pause after an answer that was not 202, so that a refusing gateway is not hammered in a hot loop. */
  pauseAfterRefusalMs?: number;
  /** Pause after every answer (a paced client). */
  pauseMs?: number;
}

/**
 * Send load over real HTTP: a few sequential clients per session, each sending unique texts
 * (`<session>-<n>`), until `stop()` or its `stopAfter` rule. Keeps every attempt and the accepted
 * ones (202 with a message id) across phases, so that a scenario can run a phase against one
 * gateway process and the next against its successor.
 */
export class SendLoad {
  readonly attempts: SendAttempt[] = [];
  /** Accepted sends: message id → its session and text. */
  readonly accepted = new Map<string, { sessionId: string; text: string }>();
  /** Texts sent so far per session (the next one is `<session>-<n + 1>`). */
  private readonly counters = new Map<string, number>();
  private running: Promise<void>[] = [];
  private stopped = false;

  constructor(
    readonly sessions: readonly string[],
    private readonly recipient = '5511999991234',
    /** Upper bound of sends per session over all phases. */
    private readonly maxPerSession = 1_000,
  ) {}

  /** Starts one phase; `stop()` ends it. */
  start(options: LoadPhaseOptions): void {
    this.stopped = false;
    for (const sessionId of this.sessions) {
      for (let i = 0; i < options.clientsPerSession; i++) this.running.push(this.client(sessionId, options));
    }
  }

  /** Ends the phase: resolves once every client has had its last answer. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.running = [];
  }

  /** Answers by status (`202`, `503 SHUTTING_DOWN`, `ECONNREFUSED`…). */
  outcomes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { answer } of this.attempts) {
      const code = typeof answer.json === 'object' && answer.json !== null && 'code' in answer.json && typeof answer.json.code === 'string' ? ` ${answer.json.code}` : '';
      const key = answer.status === null ? (answer.error ?? 'error') : `${answer.status}${answer.status === 202 ? '' : code}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  private async client(sessionId: string, options: LoadPhaseOptions): Promise<void> {
    while (!this.stopped) {
      const n = (this.counters.get(sessionId) ?? 0) + 1;
      if (n > this.maxPerSession) return;
      this.counters.set(sessionId, n);
      const text = `${sessionId}-${n}`;
      const at = Date.now();
      const answer = await options.client.request('POST', `/api/v1/sessions/${sessionId}/messages`, { to: this.recipient, type: 'text', text });
      const attempt: SendAttempt = { sessionId, text, at, answer };
      this.attempts.push(attempt);
      if (answer.status === 202 && typeof answer.json === 'object' && answer.json !== null && 'id' in answer.json && typeof answer.json.id === 'string') {
        this.accepted.set(answer.json.id, { sessionId, text });
      }
      if (options.stopAfter(attempt)) return;
      const pauseMs = (options.pauseMs ?? 0) + (answer.status === 202 ? 0 : (options.pauseAfterRefusalMs ?? 0));
      if (pauseMs > 0) await new Promise((done) => setTimeout(done, pauseMs));
    }
  }
}

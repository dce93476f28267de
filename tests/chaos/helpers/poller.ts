import type { Answer, GatewayClient } from './client.js';

export interface Probe {
  /** Date.now() when the request was sent. */
  at: number;
  /** Date.now() when its answer (or error) came. */
  answeredAt: number;
  answer: Answer;
}

/** Sends `GET path` every `everyMs` (one at a time) and keeps every answer, until `stop()`. */
export class Poller {
  readonly probes: Probe[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(client: GatewayClient, path: string, everyMs: number) {
    this.loop = (async () => {
      while (!this.stopped) {
        const at = Date.now();
        const answer = await client.probe(path);
        this.probes.push({ at, answeredAt: Date.now(), answer });
        await new Promise((done) => setTimeout(done, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Probes sent at or after `since`. */
  since(since: number): Probe[] {
    return this.probes.filter((p) => p.at >= since);
  }

  /** Probes answered at or after `since` (the one in flight then included). */
  answeredSince(since: number): Probe[] {
    return this.probes.filter((p) => p.answeredAt >= since);
  }

  /** `200×3 → 503×12 → ECONNREFUSED×2`: runs of equal answers, in order. */
  static runs(probes: readonly Probe[]): string {
    const runs: { key: string; n: number }[] = [];
    for (const { answer } of probes) {
      const key = answer.status === null ? (answer.error ?? 'error') : String(answer.status);
      const last = runs.at(-1);
      if (last?.key === key) last.n++;
      else runs.push({ key, n: 1 });
    }
    return runs.map((r) => `${r.key}×${r.n}`).join(' → ');
  }
}

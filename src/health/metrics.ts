import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SessionManager } from '../sessions/session-manager.js';
import { SESSION_STATUSES } from '../sessions/session.js';

/**
 * The Prometheus registry. Gauges are computed when scraped (collect callbacks), so nothing runs
 * between scrapes. Later work adds HTTP, send and webhook histograms here.
 */
export function createMetricsRegistry(sessions: SessionManager): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wagw_' });

  new Gauge({
    name: 'wagw_sessions',
    help: 'Sessions by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = sessions.counts();
      for (const status of SESSION_STATUSES) this.set({ status }, counts[status]);
    },
  });

  const usage = async (): Promise<{ sessionId: string; engine: string; processes: number; pssBytes: number; rssBytes: number }[]> => {
    const rows = await Promise.all(
      sessions.runningEngines().map(async ([sessionId, engine]) => {
        const used = await engine.resourceUsage?.();
        return used ? { sessionId, engine: engine.name, ...used } : null;
      }),
    );
    return rows.filter((r) => r !== null);
  };

  const perSession = (name: string, help: string, pick: (row: { processes: number; pssBytes: number; rssBytes: number }) => number): Gauge =>
    new Gauge({
      name,
      help,
      labelNames: ['session', 'engine'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await usage()) this.set({ session: row.sessionId, engine: row.engine }, pick(row));
      },
    });
  perSession('wagw_engine_processes', "Processes an engine runs outside the gateway (webjs: the session's Chromium)", (r) => r.processes);
  perSession('wagw_engine_pss_bytes', "PSS of an engine's processes (shared pages divided among them): what a session really costs", (r) => r.pssBytes);
  perSession('wagw_engine_rss_bytes', "RSS summed over an engine's processes (double-counts shared pages)", (r) => r.rssBytes);
  return registry;
}

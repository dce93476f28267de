import type { z } from 'zod';
import type { SendQueue } from '../queue/send-queue.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { AppTargetStatus } from '../webhooks/webhook-targets.js';
import type { DetailedHealthResponse, PerformanceHealthResponse, SessionHealthResponse, SessionTotals, SystemHealthResponse } from './health-detail.schemas.js';
import { withDeadline } from './deadline.js';
import type { ComponentStatus, HealthMonitor } from './health-monitor.js';
import type { SendStats } from './send-stats.js';
import type { SessionActivity } from './session-activity.js';
import { cheapSystem } from './system-info.js';
import type { WebhookStats } from './webhook-stats.js';

export interface HealthReportDeps {
  version: string;
  monitor: HealthMonitor;
  sessions: SessionManager;
  sendQueue: Pick<SendQueue, 'kind' | 'counts'>;
  sends: SendStats;
  webhooks: WebhookStats;
  /** APP_WEBHOOK_URL's state (WebhookTargets.appStatus). */
  appTarget: () => AppTargetStatus | null;
  activity: SessionActivity;
  /** Engine names this instance runs. */
  engines: readonly string[];
}

const SESSION_COUNTS_DEADLINE_MS = 1_000;
const RANK: Record<ComponentStatus, number> = { ok: 0, degraded: 1, down: 2 };
const worst = (statuses: readonly ComponentStatus[]): ComponentStatus => statuses.reduce<ComponentStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok');

/** A webhook URL as health shows it: no credentials, no query or fragment (tokens live there). */
function bareUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(unparsable)';
  }
}

/**
 * The bodies of the keyed health routes: the monitor's last snapshot (Redis, queues, costlier
 * collectors) plus live values that cost nothing (session counts, in-memory counters, node:os).
 */
export class HealthReport {
  private readonly startedAt = new Date(Date.now() - process.uptime() * 1000);

  constructor(private readonly deps: HealthReportDeps) {}

  sessionTotals(): z.infer<typeof SessionTotals> {
    const byStatus = this.deps.sessions.counts();
    const total = Object.values(byStatus).reduce((sum, n) => sum + n, 0);
    return {
      totalSessions: total,
      activeSessions: total - byStatus.stopped - byStatus.failed,
      connectedSessions: byStatus.ready,
      qrPendingSessions: byStatus.qr,
      disconnectedSessions: byStatus.disconnected,
      failedSessions: byStatus.failed,
      stoppedSessions: byStatus.stopped,
      byStatus,
    };
  }

  detailed(): z.infer<typeof DetailedHealthResponse> {
    const { monitor, sessions } = this.deps;
    const snapshot = monitor.snapshot();
    const totals = this.sessionTotals();
    const webhookStats = this.deps.webhooks.summary();
    const app = this.deps.appTarget();
    const byEngine: Record<string, number> = {};
    const running = sessions.runningEngines();
    for (const [, engine] of running) byEngine[engine.name] = (byEngine[engine.name] ?? 0) + 1;
    const usage = snapshot.engines;
    const components = {
      redis: { status: snapshot.redis.status, details: { mode: snapshot.redis.mode, latencyMs: snapshot.redis.latencyMs, error: snapshot.redis.error } },
      sendQueue: {
        status: snapshot.sendQueue.status,
        details: { driver: this.deps.sendQueue.kind, waiting: snapshot.sendQueue.counts?.waiting ?? null, active: snapshot.sendQueue.counts?.active ?? null, error: snapshot.sendQueue.error },
      },
      webhookQueue: {
        status: worst([snapshot.webhookQueue.status, app?.disabled === true ? 'degraded' : 'ok']),
        details: {
          waiting: snapshot.webhookQueue.counts?.waiting ?? null,
          active: snapshot.webhookQueue.counts?.active ?? null,
          appTarget: app ? { url: bareUrl(app.url), disabled: app.disabled, disabledAt: app.disabledAt } : null,
          delivered: webhookStats.delivered,
          failedAttempts: webhookStats.failedAttempts,
          dead: webhookStats.dead,
          error: snapshot.webhookQueue.error ?? (app?.disabled === true ? 'APP_WEBHOOK_URL answered 410 and is disabled until restart' : null),
        },
      },
      engines: {
        status: usage?.error ? ('degraded' as const) : ('ok' as const),
        details: {
          available: [...this.deps.engines],
          running: running.length,
          byEngine,
          resources: usage ? { collected: true, ...this.engineTotals(), collectedAt: usage.collectedAt, error: usage.error } : { collected: false },
        },
      },
      sessions: { status: totals.failedSessions + totals.disconnectedSessions > 0 ? ('degraded' as const) : ('ok' as const), details: totals },
    };
    return {
      status: worst(Object.values(components).map((c) => c.status)),
      version: this.deps.version,
      uptime: Math.round(process.uptime() * 10) / 10,
      checkedAt: snapshot.checkedAt,
      checkIntervalMs: monitor.intervalMs,
      performanceMonitoring: monitor.performanceMonitoring,
      components,
    };
  }

  system(): z.infer<typeof SystemHealthResponse> {
    const { monitor } = this.deps;
    const snapshot = monitor.snapshot();
    const cheap = cheapSystem();
    const costly = snapshot.system;
    return {
      performanceMonitoring: monitor.performanceMonitoring,
      uptime: cheap.uptime,
      systemUptime: cheap.systemUptime,
      cpuUsage: {
        cores: cheap.cores,
        loadAverage: cheap.loadAverage,
        processPercent: snapshot.processCpuPercent,
        systemPercent: costly?.cpuLoadPercent ?? null,
        collected: costly !== null && costly.cpuLoadPercent !== null,
      },
      memoryUsage: { ...cheap.memory, process: cheap.process, engines: snapshot.engines ? { collected: true, ...this.engineTotals() } : { collected: false } },
      diskUsage: costly?.disk ? { collected: true, ...costly.disk } : { collected: false },
      collectedAt: costly?.collectedAt ?? null,
      error: costly?.error ?? null,
    };
  }

  performance(): z.infer<typeof PerformanceHealthResponse> {
    const snapshot = this.deps.monitor.snapshot();
    const sends = this.deps.sends.summary();
    const webhooks = this.deps.webhooks.summary();
    const webhookCounts = snapshot.webhookQueue.counts;
    return {
      since: this.startedAt.toISOString(),
      checkedAt: snapshot.checkedAt,
      queuedMessages: snapshot.sendQueue.counts?.waiting ?? null,
      activeMessages: snapshot.sendQueue.counts?.active ?? null,
      ...sends,
      webhooks: { queued: webhookCounts ? webhookCounts.waiting + webhookCounts.active : null, ...webhooks },
      eventLoopDelayMs: snapshot.eventLoop,
    };
  }

  /** One session's health; SESSION_NOT_FOUND when there is no such session. */
  async session(id: string): Promise<z.infer<typeof SessionHealthResponse>> {
    const session = this.deps.sessions.get(id);
    // A lane's counts are one cheap read, but Redis may be down: then they are unknown, not a 500.
    const counts = await withDeadline(this.deps.sendQueue.counts(id), SESSION_COUNTS_DEADLINE_MS).catch(() => null);
    const usage = this.deps.monitor.snapshot().engines;
    const own = usage?.bySession[id];
    return {
      id: session.id,
      engine: session.engine,
      status: session.status,
      healthy: session.status === 'ready',
      createdAt: session.createdAt,
      connectedAt: session.connectedAt,
      uptime: session.status === 'ready' && session.connectedAt !== null ? Math.round((Date.now() - Date.parse(session.connectedAt)) / 100) / 10 : null,
      lastEventAt: this.deps.activity.lastEventAt(id),
      queuedMessages: counts?.waiting ?? null,
      activeMessages: counts?.active ?? null,
      stats: session.stats,
      lastError: session.lastError,
      recentErrors: this.deps.activity.recentErrors(id),
      webhooks: { targets: session.webhooks.length, disabled: session.webhooks.filter((w) => w.disabled).length },
      resources: usage
        ? { collected: true, processes: own?.processes ?? 0, pssBytes: own?.pssBytes ?? 0, rssBytes: own?.rssBytes ?? 0, collectedAt: usage.collectedAt }
        : { collected: false },
    };
  }

  private engineTotals(): { processes: number; pssBytes: number; rssBytes: number } {
    const totals = { processes: 0, pssBytes: 0, rssBytes: 0 };
    for (const row of Object.values(this.deps.monitor.snapshot().engines?.bySession ?? {})) {
      totals.processes += row.processes;
      totals.pssBytes += row.pssBytes;
      totals.rssBytes += row.rssBytes;
    }
    return totals;
  }
}

import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { EngineResourceUsage } from '../engines/engine.js';
import type { Logger } from '../logger.js';
import type { SendQueue, SendQueueCounts } from '../queue/send-queue.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { messageOf, withDeadline } from './deadline.js';
import { EventLoopDelay, type EventLoopDelaySummary } from './event-loop-delay.js';
import { round } from './latency-window.js';
import { checkRedis } from './readiness.js';
import { ProcessCpu, sampleCostlySystem, type CostlySystemSample } from './system-info.js';

export type ComponentStatus = 'ok' | 'degraded' | 'down';

/** A PING slower than this marks Redis degraded. */
export const SLOW_REDIS_MS = 250;
/** How long one collector of a check may take. */
const COLLECTOR_DEADLINE_MS = 5_000;
const QUEUE_DEADLINE_MS = 2_000;
/** How long closing waits for a check in progress (its results are dropped anyway). */
const STOP_WAIT_MS = 1_000;

export interface QueueCheck {
  status: ComponentStatus;
  counts: SendQueueCounts | null;
  error: string | null;
}

export interface EngineUsageSample {
  /** Per running engine that reports its usage (webjs: its Chromium), by session id. */
  bySession: Record<string, EngineResourceUsage & { engine: string }>;
  error: string | null;
  collectedAt: string;
}

/** What the last background check found. */
export interface HealthSnapshot {
  /** Checks completed since start (0: none yet). */
  checks: number;
  /** ISO-8601; null before the first check. */
  checkedAt: string | null;
  durationMs: number;
  redis: { status: ComponentStatus; mode: 'redis' | 'embedded'; latencyMs: number | null; error: string | null };
  sendQueue: QueueCheck;
  webhookQueue: QueueCheck;
  /** The gateway process's CPU share over the last interval (see ProcessCpu). */
  processCpuPercent: number | null;
  eventLoop: EventLoopDelaySummary;
  /** PERFORMANCE_MONITORING=true only (null otherwise, or before the first collection). */
  system: CostlySystemSample | null;
  engines: EngineUsageSample | null;
}

export interface HealthMonitorDeps {
  config: Pick<Config, 'health' | 'sessionsPath'>;
  /** The store connections to PING (none in embedded mode). */
  redisConnections: readonly Redis[];
  sendQueue: Pick<SendQueue, 'counts'>;
  webhookQueue: Pick<SendQueue, 'counts'>;
  sessions: Pick<SessionManager, 'runningEngines'>;
  logger: Logger;
}

const notChecked: QueueCheck = { status: 'degraded', counts: null, error: 'not checked yet' };

/**
 * The background health checks, every HEALTH_CHECK_INTERVAL (0: only once, at start): Redis PING
 * with a deadline, both queues' counts, the process CPU share and the event-loop delay window; with
 * PERFORMANCE_MONITORING=true also machine CPU load and disk (systeminformation) and each engine's
 * processes and memory. The keyed health routes answer from the last snapshot (plus cheap live
 * values), so a probe never waits on Redis or `df`. A check starts only after the previous one
 * ended; the timer is unref'd and stopped on close.
 */
export class HealthMonitor {
  private latest: HealthSnapshot;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly eventLoop = new EventLoopDelay();
  private readonly cpu = new ProcessCpu();
  private readonly waiters = new Set<(snapshot: HealthSnapshot) => void>();

  constructor(private readonly deps: HealthMonitorDeps) {
    this.latest = {
      checks: 0,
      checkedAt: null,
      durationMs: 0,
      redis: deps.redisConnections.length > 0 ? { status: 'degraded', mode: 'redis', latencyMs: null, error: 'not checked yet' } : { status: 'ok', mode: 'embedded', latencyMs: null, error: null },
      sendQueue: notChecked,
      webhookQueue: notChecked,
      processCpuPercent: null,
      eventLoop: this.eventLoop.summary(),
      system: null,
      engines: null,
    };
  }

  get performanceMonitoring(): boolean {
    return this.deps.config.health.performanceMonitoring;
  }

  get intervalMs(): number {
    return this.deps.config.health.checkIntervalMs;
  }

  /** Runs the first check, then one every interval. */
  async start(): Promise<void> {
    if (this.timer || this.running || this.stopped) return;
    this.eventLoop.start();
    await this.run();
  }

  /** Stops the timer and waits (briefly) for a check in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await withDeadline(this.running, STOP_WAIT_MS).catch(() => undefined);
    this.eventLoop.stop();
  }

  snapshot(): HealthSnapshot {
    return this.latest;
  }

  /** Resolves with the snapshot of the next check that ends (tests; a caller that wants fresh values). */
  nextCheck(): Promise<HealthSnapshot> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  private async run(): Promise<void> {
    this.running = this.check()
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'health check failed'))
      .finally(() => {
        this.running = null;
        this.schedule();
      });
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.intervalMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, this.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const started = performance.now();
    const costly = this.performanceMonitoring;
    const [redis, sendQueue, webhookQueue, system, engines] = await Promise.all([
      this.checkRedis(),
      checkQueue(this.deps.sendQueue),
      checkQueue(this.deps.webhookQueue),
      costly ? withDeadline(sampleCostlySystem(this.deps.config.sessionsPath), COLLECTOR_DEADLINE_MS).catch((error: unknown) => failedSystemSample(error)) : null,
      costly ? this.sampleEngines() : null,
    ]);
    const snapshot: HealthSnapshot = {
      checks: this.latest.checks + 1,
      checkedAt: new Date().toISOString(),
      durationMs: round(performance.now() - started),
      redis,
      sendQueue,
      webhookQueue,
      processCpuPercent: this.cpu.sample(),
      eventLoop: this.eventLoop.roll(),
      system,
      engines,
    };
    this.latest = snapshot;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake(snapshot);
  }

  private async checkRedis(): Promise<HealthSnapshot['redis']> {
    const { redisConnections: redis } = this.deps;
    if (redis.length === 0) return { status: 'ok', mode: 'embedded', latencyMs: null, error: null };
    const started = performance.now();
    const result = await checkRedis(redis);
    const latencyMs = round(performance.now() - started);
    if (!result.ok) return { status: 'down', mode: 'redis', latencyMs: null, error: result.detail ?? 'unreachable' };
    return { status: latencyMs > SLOW_REDIS_MS ? 'degraded' : 'ok', mode: 'redis', latencyMs, error: latencyMs > SLOW_REDIS_MS ? `PING took ${latencyMs} ms` : null };
  }

  private async sampleEngines(): Promise<EngineUsageSample> {
    const bySession: EngineUsageSample['bySession'] = {};
    const errors: string[] = [];
    await Promise.all(
      this.deps.sessions.runningEngines().map(async ([sessionId, engine]) => {
        try {
          const used = await withDeadline(engine.resourceUsage?.() ?? Promise.resolve(null), COLLECTOR_DEADLINE_MS);
          if (used) bySession[sessionId] = { engine: engine.name, ...used };
        } catch (error) {
          errors.push(`${sessionId}: ${messageOf(error)}`);
        }
      }),
    );
    return { bySession, error: errors.length === 0 ? null : errors.join('; '), collectedAt: new Date().toISOString() };
  }
}

async function checkQueue(queue: Pick<SendQueue, 'counts'>): Promise<QueueCheck> {
  try {
    return { status: 'ok', counts: await withDeadline(queue.counts(), QUEUE_DEADLINE_MS), error: null };
  } catch (error) {
    return { status: 'down', counts: null, error: messageOf(error) };
  }
}

function failedSystemSample(error: unknown): CostlySystemSample {
  return { cpuLoadPercent: null, disk: null, error: messageOf(error), collectedAt: new Date().toISOString() };
}

import { z } from 'zod';
import { SESSION_STATUSES } from '../sessions/session.js';

/**
 * Response schemas of the keyed health routes. Field names follow seed 002's "Métricas Coletadas"
 * (sessions: total, active, connected, QR pending, disconnected; messages: queued, processed,
 * failed, mean processing time; system: CPU, memory, disk, uptime) in English camelCase.
 */

const ComponentStatus = z.enum(['ok', 'degraded', 'down']);
const iso = z.string().describe('ISO-8601 UTC');
const ms = z.number().nullable().describe('milliseconds; null without samples');

const Window = z
  .object({ count: z.number().int().describe('samples in the window (the most recent, up to 1000)'), mean: ms, p50: ms, p99: ms })
  .describe('Nearest-rank percentiles and mean over the most recent samples');

const Counts = {
  waiting: z.number().int().nullable().describe('jobs waiting (including those waiting to retry); null when the queue could not be read'),
  active: z.number().int().nullable().describe('jobs being processed'),
};

export const SessionTotals = z.object({
  totalSessions: z.number().int(),
  activeSessions: z.number().int().describe('neither stopped nor failed: starting, waiting for the QR, authenticated, ready or reconnecting'),
  connectedSessions: z.number().int().describe('status `ready`'),
  qrPendingSessions: z.number().int().describe('status `qr`: waiting for a scan'),
  disconnectedSessions: z.number().int().describe('status `disconnected`: lost the connection, reconnecting'),
  failedSessions: z.number().int().describe('status `failed`: gave up (lastError says why)'),
  stoppedSessions: z.number().int(),
  byStatus: z.record(z.enum(SESSION_STATUSES), z.number().int()),
});

const sessionTotalsExample = {
  totalSessions: 5,
  activeSessions: 4,
  connectedSessions: 2,
  qrPendingSessions: 1,
  disconnectedSessions: 1,
  failedSessions: 0,
  stoppedSessions: 1,
  byStatus: { starting: 0, qr: 1, authenticated: 0, ready: 2, disconnected: 1, failed: 0, stopped: 1 },
};

export const SessionsHealthResponse = SessionTotals.meta({ examples: [sessionTotalsExample] });

const component = <T extends z.ZodType>(details: T) => z.object({ status: ComponentStatus, details });
const CheckError = z.string().nullable().describe('why the component is not ok; null when it is');

export const DetailedHealthResponse = z
  .object({
    status: ComponentStatus.describe('the worst component status; 503 when `down`'),
    version: z.string(),
    uptime: z.number().describe('seconds since the gateway started'),
    checkedAt: iso.nullable().describe('end of the last background check (HEALTH_CHECK_INTERVAL); redis and the queues are as found then'),
    checkIntervalMs: z.number().int(),
    performanceMonitoring: z.boolean(),
    components: z.object({
      redis: component(z.object({ mode: z.enum(['redis', 'embedded']), latencyMs: ms.describe('PING round trip, the slowest of the store connections'), error: CheckError })),
      sendQueue: component(z.object({ driver: z.enum(['memory', 'bullmq']), ...Counts, error: CheckError })),
      webhookQueue: component(
        z.object({
          ...Counts,
          appTarget: z.object({ url: z.string().describe('credentials and query removed'), disabled: z.boolean(), disabledAt: iso.nullable() }).nullable().describe('APP_WEBHOOK_URL; null when unset'),
          delivered: z.number().int(),
          failedAttempts: z.number().int(),
          dead: z.number().int(),
          error: CheckError,
        }),
      ),
      engines: component(
        z.object({
          available: z.array(z.string()).describe('engines this instance runs'),
          running: z.number().int().describe('engine instances running now'),
          byEngine: z.record(z.string(), z.number().int()),
          resources: z
            .object({ collected: z.boolean(), processes: z.number().int().optional(), pssBytes: z.number().optional(), rssBytes: z.number().optional(), collectedAt: iso.optional(), error: CheckError.optional() })
            .describe('summed over engines (webjs: Chromium); collected only with PERFORMANCE_MONITORING=true'),
        }),
      ),
      sessions: component(SessionTotals),
    }),
  })
  .meta({
    examples: [
      {
        status: 'degraded',
        version: '0.1.0',
        uptime: 3600.5,
        checkedAt: '2025-01-01T12:00:00.000Z',
        checkIntervalMs: 30000,
        performanceMonitoring: false,
        components: {
          redis: { status: 'ok', details: { mode: 'redis', latencyMs: 0.8, error: null } },
          sendQueue: { status: 'ok', details: { driver: 'bullmq', waiting: 2, active: 1, error: null } },
          webhookQueue: { status: 'ok', details: { waiting: 0, active: 0, appTarget: { url: 'https://backend.example.com/whatsapp/webhook', disabled: false, disabledAt: null }, delivered: 320, failedAttempts: 2, dead: 0, error: null } },
          engines: { status: 'ok', details: { available: ['webjs', 'simulator'], running: 4, byEngine: { webjs: 4 }, resources: { collected: false } } },
          sessions: { status: 'degraded', details: sessionTotalsExample },
        },
      },
    ],
  });

export const SystemHealthResponse = z
  .object({
    performanceMonitoring: z.boolean().describe('PERFORMANCE_MONITORING: whether the costlier collectors (systeminformation CPU load and disk, engine memory) run'),
    uptime: z.number().describe('seconds since the gateway process started'),
    systemUptime: z.number().describe('seconds since the machine booted'),
    cpuUsage: z.object({
      cores: z.number().int(),
      loadAverage: z.array(z.number()).describe('1, 5 and 15 minutes'),
      processPercent: z.number().nullable().describe('the gateway process over the last check interval, 100 = every core'),
      systemPercent: z.number().nullable().describe('the whole machine over the last check interval (systeminformation currentLoad); null when not collected'),
      collected: z.boolean().describe('false: systemPercent is not collected (PERFORMANCE_MONITORING=false) or not yet'),
    }),
    memoryUsage: z.object({
      totalBytes: z.number(),
      freeBytes: z.number().describe('available to new work (MemAvailable)'),
      usedBytes: z.number(),
      usedPercent: z.number(),
      process: z.object({ rssBytes: z.number(), heapUsedBytes: z.number(), heapTotalBytes: z.number(), externalBytes: z.number() }),
      engines: z.object({ collected: z.boolean(), processes: z.number().int().optional(), pssBytes: z.number().optional(), rssBytes: z.number().optional() }).describe("the engines' processes outside the gateway (webjs: Chromium)"),
    }),
    diskUsage: z
      .object({
        collected: z.boolean(),
        mount: z.string().optional(),
        fs: z.string().optional(),
        type: z.string().optional(),
        sizeBytes: z.number().optional(),
        usedBytes: z.number().optional(),
        availableBytes: z.number().optional(),
        usedPercent: z.number().optional(),
      })
      .describe('the file system holding SESSIONS_PATH (systeminformation fsSize); only `collected: false` when not collected'),
    collectedAt: iso.nullable().describe('when the costlier values were collected; null when they are not'),
    error: z.string().nullable().describe('what the costlier collectors could not read'),
  })
  .meta({
    examples: [
      {
        performanceMonitoring: true,
        uptime: 3600.5,
        systemUptime: 864000,
        cpuUsage: { cores: 4, loadAverage: [0.52, 0.61, 0.58], processPercent: 3.1, systemPercent: 14.2, collected: true },
        memoryUsage: {
          totalBytes: 8_254_341_120,
          freeBytes: 5_126_234_112,
          usedBytes: 3_128_107_008,
          usedPercent: 37.9,
          process: { rssBytes: 132_120_576, heapUsedBytes: 48_234_496, heapTotalBytes: 61_865_984, externalBytes: 3_145_728 },
          engines: { collected: true, processes: 14, pssBytes: 905_969_664, rssBytes: 1_610_612_736 },
        },
        diskUsage: { collected: true, mount: '/app/sessions', fs: '/dev/sdb', type: 'ext4', sizeBytes: 21_474_836_480, usedBytes: 3_221_225_472, availableBytes: 18_253_611_008, usedPercent: 15 },
        collectedAt: '2025-01-01T12:00:00.000Z',
        error: null,
      },
      {
        performanceMonitoring: false,
        uptime: 120.2,
        systemUptime: 864000,
        cpuUsage: { cores: 4, loadAverage: [0.52, 0.61, 0.58], processPercent: 2.4, systemPercent: null, collected: false },
        memoryUsage: {
          totalBytes: 8_254_341_120,
          freeBytes: 5_126_234_112,
          usedBytes: 3_128_107_008,
          usedPercent: 37.9,
          process: { rssBytes: 132_120_576, heapUsedBytes: 48_234_496, heapTotalBytes: 61_865_984, externalBytes: 3_145_728 },
          engines: { collected: false },
        },
        diskUsage: { collected: false },
        collectedAt: null,
        error: null,
      },
    ],
  });

export const PerformanceHealthResponse = z
  .object({
    since: iso.describe('counters and windows cover this process since then'),
    checkedAt: iso.nullable().describe('when the queue depths were read (last background check)'),
    queuedMessages: z.number().int().nullable().describe('sends waiting in the queue (including those waiting to retry); null when the queue could not be read'),
    activeMessages: z.number().int().nullable().describe('sends being processed'),
    acceptedMessages: z.number().int().describe('sends accepted (202)'),
    processedMessages: z.number().int().describe('sends WhatsApp took (status `sent`)'),
    failedMessages: z.number().int().describe('sends that ended `failed`'),
    averageProcessingTimeMs: ms.describe('mean duration of a finished send job (number lookup, media fetch, engine call), recent jobs'),
    processingTimeMs: Window,
    sendLatencyMs: Window.describe('accepted → sent, recent sends'),
    webhooks: z.object({
      queued: z.number().int().nullable().describe('deliveries waiting in the webhook lanes'),
      delivered: z.number().int(),
      failedAttempts: z.number().int().describe('attempts that failed and are retried'),
      dead: z.number().int(),
      latencyMs: Window.describe('attempt duration, recent attempts'),
    }),
    eventLoopDelayMs: z.object({ p50: ms, p99: ms, max: ms, mean: ms, windowMs: z.number().int().describe('the window: the last check interval') }),
  })
  .meta({
    examples: [
      {
        since: '2025-01-01T11:00:00.000Z',
        checkedAt: '2025-01-01T12:00:00.000Z',
        queuedMessages: 3,
        activeMessages: 1,
        acceptedMessages: 1250,
        processedMessages: 1238,
        failedMessages: 8,
        averageProcessingTimeMs: 412.5,
        processingTimeMs: { count: 1000, mean: 412.5, p50: 380, p99: 1210 },
        sendLatencyMs: { count: 1000, mean: 2950.2, p50: 2400, p99: 9800 },
        webhooks: { queued: 0, delivered: 3721, failedAttempts: 12, dead: 1, latencyMs: { count: 1000, mean: 21.4, p50: 14, p99: 180 } },
        eventLoopDelayMs: { p50: 10.1, p99: 12.6, max: 48.2, mean: 10.3, windowMs: 30000 },
      },
    ],
  });

const RecentErrorSchema = z.object({
  source: z.enum(['session', 'send', 'webhook']),
  code: z.string(),
  message: z.string(),
  at: iso,
  ref: z.string().nullable().describe('the message (`msg_…`) or delivery the error belongs to'),
});

export const SessionHealthResponse = z
  .object({
    id: z.string(),
    engine: z.string(),
    status: z.enum(SESSION_STATUSES),
    healthy: z.boolean().describe('status `ready`'),
    createdAt: iso,
    connectedAt: iso.nullable(),
    uptime: z.number().nullable().describe('seconds connected (since `connectedAt`) while `ready`; null otherwise'),
    lastEventAt: iso.nullable().describe('the last event of the session this gateway process saw; null when none since it started'),
    queuedMessages: z.number().int().nullable().describe("sends waiting in the session's lane (live); null when the queue could not be read"),
    activeMessages: z.number().int().nullable(),
    stats: z.object({ sent: z.number().int(), received: z.number().int(), failed: z.number().int() }),
    lastError: z.object({ code: z.string(), message: z.string(), at: iso }).nullable(),
    recentErrors: z.array(RecentErrorSchema).describe('newest first, at most 10, since this process started'),
    webhooks: z.object({ targets: z.number().int(), disabled: z.number().int() }),
    resources: z
      .object({ collected: z.boolean(), processes: z.number().int().optional(), pssBytes: z.number().optional(), rssBytes: z.number().optional(), collectedAt: iso.optional() })
      .describe('its engine processes (webjs: Chromium), from the last background check with PERFORMANCE_MONITORING=true'),
  })
  .meta({
    examples: [
      {
        id: 'sales',
        engine: 'webjs',
        status: 'ready',
        healthy: true,
        createdAt: '2025-01-01T09:00:00.000Z',
        connectedAt: '2025-01-01T11:00:05.000Z',
        uptime: 3595,
        lastEventAt: '2025-01-01T11:59:58.120Z',
        queuedMessages: 0,
        activeMessages: 0,
        stats: { sent: 412, received: 1033, failed: 2 },
        lastError: null,
        recentErrors: [{ source: 'send', code: 'NUMBER_NOT_ON_WHATSAPP', message: '5511900000000 is not on WhatsApp', at: '2025-01-01T11:40:00.000Z', ref: 'msg_3f9a1c2b7d4e5f60718293a4' }],
        webhooks: { targets: 1, disabled: 0 },
        resources: { collected: true, processes: 7, pssBytes: 226_492_416, rssBytes: 402_653_184, collectedAt: '2025-01-01T12:00:00.000Z' },
      },
    ],
  });

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ErrorResponse, errorResponses } from '../http/schemas.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import { DetailedHealthResponse, PerformanceHealthResponse, SessionHealthResponse, SessionsHealthResponse, SystemHealthResponse } from './health-detail.schemas.js';
import type { HealthReport } from './health-report.js';

const tags = ['Health'];
/** Monitoring polls these: log them only when something is wrong. */
const logLevel = 'warn';
const background = 'Redis and the queues are as the last background check (HEALTH_CHECK_INTERVAL) found them; see `checkedAt`.';

/** The keyed health API (contract "Health and metrics"): components, sessions, system, performance, one session. */
export async function healthDetailRoutes(parent: FastifyInstance, options: { report: HealthReport }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { report } = options;

  app.get('/health/detailed', {
    logLevel,
    schema: {
      tags,
      summary: 'Every component: Redis, send queue, webhook queue, engines, sessions',
      description: `Each component is \`ok\`, \`degraded\` or \`down\`; the overall status is the worst. 200 unless a component is down (Redis unreachable, a queue that cannot be read): then 503 with the same body. ${background}`,
      response: {
        ...errorResponses(),
        200: DetailedHealthResponse,
        503: z.union([DetailedHealthResponse, ErrorResponse]).describe('a component is down (the health body), or SHUTTING_DOWN | OVERLOADED (the error shape)'),
      },
    },
    handler: async (_request, reply) => {
      const body = report.detailed();
      return reply.code(body.status === 'down' ? 503 : 200).send(body);
    },
  });

  app.get('/health/sessions', {
    logLevel,
    schema: {
      tags,
      summary: 'Session totals: total, active, connected, waiting for the QR, disconnected, failed',
      response: { 200: SessionsHealthResponse, ...errorResponses() },
    },
    handler: async () => report.sessionTotals(),
  });

  app.get('/health/system', {
    logLevel,
    schema: {
      tags,
      summary: 'CPU, memory, disk, uptime',
      description:
        'Uptime, load average, memory and the process figures are read when asked (node:os). The machine CPU share, the disk of SESSIONS_PATH and the engines\' memory are collected by the background checks only with PERFORMANCE_MONITORING=true (systeminformation); otherwise they say `collected: false`.',
      response: { 200: SystemHealthResponse, ...errorResponses() },
    },
    handler: async () => report.system(),
  });

  app.get('/health/performance', {
    logLevel,
    schema: {
      tags,
      summary: 'Send queue depth, processed, failed, mean processing time; webhook latency; event-loop delay',
      description: `Counters and latency windows cover this process since it started (\`since\`); the queue depths and the event-loop window come from the last background check. ${background}`,
      response: { 200: PerformanceHealthResponse, ...errorResponses() },
    },
    handler: async () => report.performance(),
  });

  app.get('/health/sessions/:id', {
    logLevel,
    schema: {
      tags,
      summary: "One session's health: status, uptime, last event, queue depth, errors",
      params: SessionIdParams,
      response: { 200: SessionHealthResponse, ...errorResponses('SESSION_NOT_FOUND') },
    },
    handler: async (request) => report.session(request.params.id),
  });
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { checkRedis, type ReadinessCheck } from './readiness.js';

export interface HealthRouteOptions {
  version: string;
  /** The store connections readiness PINGs (none in embedded mode). */
  redisConnections: readonly Redis[];
  /** True once SIGTERM arrived: readiness turns 503 at once. */
  isShuttingDown: () => boolean;
}

const tags = ['Health'];
const open = { public: true, rateLimit: false } as const;
/** Probes hit every few seconds: log them only when something is wrong. */
const logLevel = 'warn';

const ReadyResponse = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string().optional() })),
  })
  .meta({ examples: [{ status: 'ready', checks: [{ name: 'config', ok: true }, { name: 'shutdown', ok: true }, { name: 'redis', ok: true }] }] });

/** The open probes. The keyed health routes (/health/detailed…) come with the operations work. */
export async function healthRoutes(parent: FastifyInstance, options: HealthRouteOptions): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const startedAt = Date.now();

  app.get('/health', {
    config: open,
    logLevel,
    schema: {
      tags,
      summary: 'Basic health',
      security: [],
      response: { 200: z.object({ status: z.literal('ok'), version: z.string(), uptime: z.number().describe('seconds') }).meta({ examples: [{ status: 'ok', version: '0.1.0', uptime: 12.3 }] }) },
    },
    handler: async () => ({ status: 'ok' as const, version: options.version, uptime: Math.round((Date.now() - startedAt) / 100) / 10 }),
  });

  app.get('/health/live', {
    config: open,
    logLevel,
    schema: {
      tags,
      summary: 'Liveness: the process answers; checks nothing external',
      security: [],
      response: { 200: z.object({ status: z.literal('ok') }).meta({ examples: [{ status: 'ok' }] }) },
    },
    handler: async () => ({ status: 'ok' as const }),
  });

  app.get('/health/ready', {
    config: open,
    logLevel,
    schema: {
      tags,
      summary: 'Readiness: config loaded, Redis reachable (when configured), not shutting down',
      security: [],
      response: { 200: ReadyResponse, 503: ReadyResponse },
    },
    handler: async (_request, reply) => {
      const checks: ReadinessCheck[] = [{ name: 'config', ok: true }];
      checks.push(options.isShuttingDown() ? { name: 'shutdown', ok: false, detail: 'shutting down' } : { name: 'shutdown', ok: true });
      if (options.redisConnections.length > 0) checks.push(await checkRedis(options.redisConnections));
      const ok = checks.every((c) => c.ok);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
    },
  });
}

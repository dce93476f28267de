import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { errorResponses } from '../http/schemas.js';

/** GET /metrics: Prometheus exposition; needs the API key unless METRICS_PUBLIC=true. */
export async function metricsRoutes(parent: FastifyInstance, options: { registry: Registry; metricsPublic: boolean }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  app.get('/metrics', {
    config: { public: options.metricsPublic, rateLimit: false },
    logLevel: 'warn',
    schema: {
      tags: ['Health'],
      summary: 'Prometheus metrics',
      description: 'Sessions by status, per-session engine processes and memory (webjs: Chromium PSS and RSS), process metrics. Needs the API key unless METRICS_PUBLIC=true.',
      ...(options.metricsPublic ? { security: [] } : {}),
      response: {
        200: z.string().meta({ examples: ['# HELP wagw_sessions Sessions by status\n# TYPE wagw_sessions gauge\nwagw_sessions{status="ready"} 3\n'] }),
        ...(options.metricsPublic ? {} : errorResponses()),
      },
    },
    handler: async (_request, reply) => reply.type(options.registry.contentType).send(await options.registry.metrics()),
  });
}

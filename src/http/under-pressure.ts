import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

/**
 * Routes never shed. The probes: liveness must not fail because the loop is busy (a restart would
 * drop every session), and readiness is about config, Redis and shutdown — with one instance per
 * REDIS_PREFIX there is no other pod to send the traffic to, so each request is shed instead,
 * with a Retry-After. `/metrics`: an overload is what one wants to see.
 */
export const NEVER_SHED: ReadonlySet<string> = new Set(['/health', '/health/live', '/health/ready', '/metrics']);

const PRESSURE_NAMES: Readonly<Record<string, string>> = {
  eventLoopDelay: 'event-loop delay',
  heapUsedBytes: 'heap used',
  rssBytes: 'resident memory',
};

const isShed = (request: FastifyRequest): boolean => !NEVER_SHED.has(request.routeOptions.url ?? '');

/**
 * Load shedding with @fastify/under-pressure: while the mean event-loop delay of the last sample,
 * the heap used or the RSS is over its limit (`UNDER_PRESSURE_*`; 0 = off), requests get
 * 503 `OVERLOADED` in the contract's error shape with `retry-after`, before auth and the rate
 * limiter do any work. Register right after the error handler.
 */
async function underPressurePlugin(app: FastifyInstance, options: { config: Config['underPressure'] }): Promise<void> {
  const { config } = options;
  const retryAfter = String(Math.max(1, Math.ceil(config.retryAfterMs / 1000)));
  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    maxHeapUsedBytes: config.maxHeapUsedBytes,
    maxRssBytes: config.maxRssBytes,
    sampleInterval: config.sampleIntervalMs,
    pressureHandler: async (request, _reply, type) => {
      if (!isShed(request)) return;
      throw new AppError('OVERLOADED', `The gateway is overloaded (${PRESSURE_NAMES[type] ?? type}); retry after ${retryAfter} s`, [], { 'retry-after': retryAfter });
    },
  });
}

export const loadShedding = fp(underPressurePlugin, { name: 'load-shedding', fastify: '5.x', dependencies: ['error-handler'] });

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { batchedRedisRateLimitStore } from './batched-rate-limit-store.js';

/**
 * RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW per API key (per IP without one), shared through
 * Redis when configured — the requests of one event-loop turn counted with one command (see
 * `batched-rate-limit-store.ts`). A Redis hiccup never blocks requests (skipOnError). Its per-route
 * hook runs before the auth check, so callers without a valid key are limited per IP.
 */
async function rateLimitPlugin(app: FastifyInstance, options: { config: Config; redis: Redis | null }): Promise<void> {
  const { config, redis } = options;
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    ...(redis ? { store: batchedRedisRateLimitStore(redis, `${config.redisPrefix}:ratelimit:`) } : {}),
    skipOnError: true,
    keyGenerator: (request) => (request.apiKeyId ? `key:${request.apiKeyId}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `Rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
}

export const rateLimiting = fp(rateLimitPlugin, { name: 'rate-limit', fastify: '5.x' });

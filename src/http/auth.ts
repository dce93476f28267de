import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createApiKeyMatcher, extractApiKey } from './api-key.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key (health probes). */
    public?: boolean;
    /** Request body examples for the OpenAPI document, when zod cannot carry them (see http/openapi.ts). */
    bodyExamples?: readonly unknown[];
  }
  interface FastifyRequest {
    /** Non-secret id of the API key that authenticated the request (rate limiting), or null. */
    apiKeyId: string | null;
  }
}

const unauthorized = (hadKey: boolean): AppError =>
  new AppError('UNAUTHORIZED', hadKey ? 'The API key is not valid' : 'An API key is required (x-api-key header or Authorization: Bearer)');

/**
 * API-key authentication, before anything else a route does (body parsing, validation):
 * - an instance `onRequest` hook identifies the key (so the rate limiter can count per key);
 * - each non-public route gets an `onRequest` hook that refuses a missing or wrong key with 401.
 *   It is appended after the rate limiter's, so unauthenticated callers are limited per IP.
 * Unknown routes need a key too: without one they answer 401, not 404.
 * Register after the rate-limit plugin and before any route.
 */
async function authPlugin(app: FastifyInstance, options: { config: Config }): Promise<void> {
  const { config } = options;
  const match = createApiKeyMatcher(config.apiKeys);
  app.decorateRequest('apiKeyId', null);
  if (config.authDisabled) {
    app.log.warn('AUTH_DISABLED=true: every route is open without an API key. Never run like this in production.');
    return;
  }

  const hadKey = (request: FastifyRequest): boolean => extractApiKey(request.headers, config.apiKeyHeader) !== null;

  app.addHook('onRequest', async (request) => {
    const key = extractApiKey(request.headers, config.apiKeyHeader);
    request.apiKeyId = key === null ? null : match(key);
    if (request.is404 && request.apiKeyId === null) throw unauthorized(key !== null);
  });

  const enforce: onRequestHookHandler = (request, _reply, done) => {
    done(request.apiKeyId === null ? unauthorized(hadKey(request)) : undefined);
  };

  app.addHook('onRoute', (route) => {
    if (route.config?.public === true) return;
    if (config.docsPublic && (route.url === '/docs' || route.url.startsWith('/docs/'))) return;
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [enforce] : Array.isArray(existing) ? [...existing, enforce] : [existing, enforce];
  });
}

export const auth = fp(authPlugin, { name: 'auth', fastify: '5.x' });

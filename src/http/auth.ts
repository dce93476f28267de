import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createApiKeyMatcher, extractApiKey } from './api-key.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key (health probes). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Non-secret id of the API key that authenticated the request (rate limiting), or null. */
    apiKeyId: string | null;
  }
}

/**
 * API-key authentication for every route but the public ones, as an `onRequest` hook so that it
 * runs before anything else (body parsing, validation, rate limiting). Unknown routes need a key
 * too: without one they answer 401, not 404.
 */
async function authPlugin(app: FastifyInstance, options: { config: Config }): Promise<void> {
  const { config } = options;
  const match = createApiKeyMatcher(config.apiKeys);
  app.decorateRequest('apiKeyId', null);
  if (config.authDisabled) {
    app.log.warn('AUTH_DISABLED=true: every route is open without an API key. Never run like this in production.');
  }

  const isPublic = (request: FastifyRequest): boolean => {
    if (request.routeOptions.config.public === true) return true;
    const url = request.routeOptions.url ?? '';
    return config.docsPublic && (url === '/docs' || url.startsWith('/docs/'));
  };

  app.addHook('onRequest', async (request) => {
    const key = extractApiKey(request.headers, config.apiKeyHeader);
    request.apiKeyId = key === null ? null : match(key);
    if (config.authDisabled || isPublic(request)) return;
    if (request.apiKeyId === null) {
      throw new AppError('UNAUTHORIZED', key === null ? 'An API key is required (x-api-key header or Authorization: Bearer)' : 'The API key is not valid');
    }
  });
}

export const auth = fp(authPlugin, { name: 'auth', fastify: '5.x' });

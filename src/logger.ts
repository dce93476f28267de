import type { FastifyBaseLogger } from 'fastify';
import type { LoggerOptions } from 'pino';
import type { Config } from './config.js';

/** Header names that carry secrets; their values are never logged. */
export function secretHeaders(config: Config): string[] {
  const names = ['authorization', 'x-api-key', 'x-28web-gateway-key', 'cookie'];
  if (config.apiKeyHeader) names.push(config.apiKeyHeader);
  return names;
}

/** pino options: JSON lines, secrets redacted wherever they could appear. */
export function loggerOptions(config: Config): LoggerOptions {
  const headerPaths = secretHeaders(config).flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`]);
  return {
    level: config.logLevel,
    base: { service: 'whatsapp-gateway' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: {
      paths: [...headerPaths, '*.secret', '*.password', '*.apiKey', 'webhooks[*].secret', '*.webhooks[*].secret', 'engineAuth', '*.engineAuth'],
      censor: '[redacted]',
    },
  };
}

/** The logger type passed around the gateway (pino, as Fastify exposes it). */
export type Logger = FastifyBaseLogger;

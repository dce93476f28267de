import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { EngineError, NotSupportedByEngine } from '../engines/engine.js';
import { AppError, type ErrorCode, type ErrorDetail } from '../errors.js';

const GENERIC_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

function validationDetails(error: FastifyError): ErrorDetail[] {
  const where = error.validationContext ?? 'request';
  return (error.validation ?? []).map((issue) => {
    const path = issue.instancePath.split('/').filter((p) => p.length > 0);
    return { path: [where, ...path].join('.'), message: issue.message ?? 'is invalid' };
  });
}

/** Maps anything thrown to the contract's error; never leaks internals of a 5xx. */
export function toAppError(error: unknown): { appError: AppError; internal: boolean } {
  if (error instanceof AppError) return { appError: error, internal: false };
  if (error instanceof NotSupportedByEngine) return { appError: new AppError('NOT_SUPPORTED_BY_ENGINE', error.message), internal: false };
  if (error instanceof EngineError) return { appError: fromEngineError(error), internal: false };
  if (isStoreUnavailable(error)) return { appError: new AppError('STORE_UNAVAILABLE', 'The store (Redis) is unavailable; nothing was changed — retry shortly', [], { 'retry-after': '1' }), internal: false };
  const fastifyError = error as Partial<FastifyError>;
  if (hasZodFastifySchemaValidationErrors(error) || fastifyError.validation) {
    const details = validationDetails(error as FastifyError);
    const first = details[0];
    const message = first ? `Invalid request: ${first.path} ${first.message}` : 'Invalid request';
    return { appError: new AppError('VALIDATION_ERROR', message, details), internal: false };
  }
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = GENERIC_BY_STATUS[status] ?? 'VALIDATION_ERROR';
    const message = fastifyError.message && fastifyError.message.length < 300 ? fastifyError.message : 'Invalid request';
    return { appError: new AppError(code, message), internal: false };
  }
  // A plugin's own 503 (a dependency saying it is busy): the contract's OVERLOADED, to be retried.
  if (status === 503) return { appError: new AppError('OVERLOADED', 'The gateway is overloaded; retry shortly', [], { 'retry-after': '1' }), internal: false };
  return { appError: new AppError('INTERNAL_ERROR', 'Something went wrong on our side; the request id is in the x-request-id header'), internal: true };
}

/**
 * ioredis refusing a command because Redis is away: no offline queue (`enableOfflineQueue: false`),
 * retries exhausted, or the connection closed. Producers fail fast this way instead of hanging.
 */
function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return /Stream isn't writeable and enableOfflineQueue options is false|Connection is closed|ECONNREFUSED|ECONNRESET/.test(error.message);
}

function fromEngineError(error: EngineError): AppError {
  switch (error.code) {
    case 'MESSAGE_NOT_FOUND':
      return new AppError('MESSAGE_NOT_FOUND', error.message);
    case 'EDIT_NOT_ALLOWED':
      return new AppError('EDIT_NOT_ALLOWED', error.message);
    case 'REVOKE_NOT_ALLOWED':
      return new AppError('REVOKE_NOT_ALLOWED', error.message);
    default:
      return error.reconnectable
        ? new AppError('SESSION_NOT_READY', `The session's engine is not ready: ${error.message}`)
        : new AppError('NOT_SUPPORTED_BY_ENGINE', `The engine refused: ${error.message}`);
  }
}

function send(reply: FastifyReply, appError: AppError): FastifyReply {
  for (const [name, value] of Object.entries(appError.headers)) reply.header(name, value);
  return reply.code(appError.statusCode).type('application/json; charset=utf-8').send(appError.toBody());
}

async function errorHandlerPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { appError, internal } = toAppError(error);
    if (internal) request.log.error({ err: error }, 'unhandled error');
    else if (appError.statusCode >= 500) request.log.warn({ code: appError.code }, appError.message);
    return send(reply, appError);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    send(reply, new AppError('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0] ?? ''} does not exist`)),
  );
}

export const errorHandler = fp(errorHandlerPlugin, { name: 'error-handler', fastify: '5.x' });

/**
 * The gateway's error vocabulary. Handlers and services throw {@link AppError}s; the one error
 * handler turns them into the contract's body `{ statusCode, code, error, message, details }`.
 */

export const ERROR_CODES = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  MEDIA_NOT_FOUND: 404,
  DELIVERY_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  SESSION_EXISTS: 409,
  SESSION_LIMIT_REACHED: 409,
  SESSION_NOT_READY: 409,
  QR_NOT_AVAILABLE: 409,
  MESSAGE_NOT_SENT: 409,
  PAYLOAD_TOO_LARGE: 413,
  MEDIA_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_SUPPORTED_BY_ENGINE: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  EDIT_NOT_ALLOWED: 422,
  REVOKE_NOT_ALLOWED: 422,
  MEDIA_URL_FORBIDDEN: 422,
  WEBHOOK_URL_FORBIDDEN: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SHUTTING_DOWN: 503,
  STORE_UNAVAILABLE: 503,
  OVERLOADED: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that appear in a session's `lastError` or a record's `error`, never as an HTTP status. */
export const RECORD_ERROR_CODES = [
  'NUMBER_NOT_ON_WHATSAPP',
  'SEND_EXPIRED',
  'SEND_INTERRUPTED',
  'SESSION_DELETED',
  'CANCELLED',
  'ACK_ERROR',
  'MEDIA_FETCH_FAILED',
  'MEDIA_TOO_LARGE',
  'MEDIA_URL_FORBIDDEN',
  'QUOTED_MESSAGE_NOT_FOUND',
  'ENGINE_ERROR',
  'ENGINE_UNAVAILABLE',
  'QR_TIMEOUT',
  'LOGGED_OUT',
  'BANNED',
  'WEB_VERSION_DEPRECATED',
  'PROXY_BLOCKED',
  'BROWSER_NOT_FOUND',
  'WHATSAPP_UNREACHABLE',
  'READY_TIMEOUT',
  'AUTH_FAILURE',
  'CONNECTION_LOST',
] as const;

export type RecordErrorCode = (typeof RECORD_ERROR_CODES)[number];

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function reasonPhrase(statusCode: number): string {
  return REASON_PHRASES[statusCode] ?? (statusCode >= 500 ? 'Internal Server Error' : 'Bad Request');
}

export interface ErrorDetail {
  path: string;
  message: string;
}

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  details: ErrorDetail[];
}

export class AppError extends Error {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = ERROR_CODES[code];
    this.headers = headers;
  }

  toBody(): ErrorBody {
    return {
      statusCode: this.statusCode,
      code: this.code,
      error: reasonPhrase(this.statusCode),
      message: this.message,
      details: this.details,
    };
  }
}

export const sessionNotFound = (id: string): AppError => new AppError('SESSION_NOT_FOUND', `Session '${id}' does not exist`);

import { AppError } from '../errors.js';

/**
 * Stable codes of a failed media fetch. The first two are also HTTP errors of the contract
 * (`MEDIA_URL_FORBIDDEN` 422, `MEDIA_TOO_LARGE` 413); all three are record error codes.
 */
export type MediaFetchErrorCode = 'MEDIA_URL_FORBIDDEN' | 'MEDIA_TOO_LARGE' | 'MEDIA_FETCH_FAILED';

export class MediaFetchError extends Error {
  constructor(
    readonly code: MediaFetchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MediaFetchError';
  }

  /**
   * The contract's HTTP error for this failure, or `undefined` for `MEDIA_FETCH_FAILED`
   * (which only ever ends a record `failed`).
   */
  toAppError(): AppError | undefined {
    if (this.code === 'MEDIA_FETCH_FAILED') return undefined;
    return new AppError(this.code, this.message);
  }
}

export function isMediaFetchError(error: unknown): error is MediaFetchError {
  return error instanceof MediaFetchError;
}

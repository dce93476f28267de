import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** One-shot hash: no Hash object per request. */
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

/**
 * Returns a matcher that compares a candidate with every configured key in constant time,
 * whatever the lengths: both sides are hashed to 32 bytes first and every key is always compared.
 * The result is a short, non-secret id of the matching key (for rate limiting), or null.
 */
export function createApiKeyMatcher(keys: readonly string[]): (candidate: string) => string | null {
  const digests = keys.map((key) => ({ digest: digest(key), id: digest(`id:${key}`).toString('hex').slice(0, 16) }));
  return (candidate) => {
    const given = digest(candidate);
    let match: string | null = null;
    for (const key of digests) {
      if (timingSafeEqual(given, key.digest) && match === null) match = key.id;
    }
    return match;
  };
}

/** The headers that may carry the key, in the order they are read. */
export function apiKeyHeaderNames(extraHeader: string | undefined): string[] {
  return ['x-api-key', 'x-28web-gateway-key', ...(extraHeader ? [extraHeader] : [])];
}

export function extractApiKey(headers: IncomingHttpHeaders, extraHeader: string | undefined): string | null {
  for (const name of apiKeyHeaderNames(extraHeader)) {
    const value = headers[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1];
  }
  return null;
}

import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** One-shot SHA-256: no Hash object per request. */
const sha256 = (value: string): Buffer => hash('sha256', value, 'buffer');

/**
 * Returns a matcher that compares a candidate with every configured key in constant time,
 * whatever the lengths: both sides are hashed to 32 bytes first and every key is always compared.
 * The result is a short, non-secret id of the matching key (for rate limiting), or null.
 *
 * A candidate that matched is remembered (a Map from the presented key to its id, so at most one
 * entry per configured key): the next request with it is answered without hashing — the SHA-256
 * and the compare were ~3 % of an accepted send's CPU. That lookup hashes the whole string and
 * compares contents only on a hash match, so it says nothing about how much of a wrong key is
 * right; it is faster for a valid key than for a wrong one, which the answer (401 or not) tells
 * anyway. `digest` is for tests.
 */
export function createApiKeyMatcher(keys: readonly string[], digest: (value: string) => Buffer = sha256): (candidate: string) => string | null {
  const digests = keys.map((key) => ({ digest: digest(key), id: digest(`id:${key}`).toString('hex').slice(0, 16) }));
  const matched = new Map<string, string>();
  return (candidate) => {
    const known = matched.get(candidate);
    if (known !== undefined) return known;
    const given = digest(candidate);
    let match: string | null = null;
    for (const key of digests) {
      if (timingSafeEqual(given, key.digest) && match === null) match = key.id;
    }
    if (match !== null) matched.set(candidate, match);
    return match;
  };
}

/** The headers that may carry the key, read in this order, then API_KEY_HEADER, then `Authorization: Bearer`. */
const STANDARD_HEADERS: readonly string[] = ['x-api-key', 'x-28web-gateway-key'];

export function extractApiKey(headers: IncomingHttpHeaders, extraHeader: string | undefined): string | null {
  for (const name of STANDARD_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  if (extraHeader) {
    const value = headers[extraHeader];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return fromAuthorization(headers.authorization);
}

function fromAuthorization(authorization: string | undefined): string | null {
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1];
  }
  return null;
}

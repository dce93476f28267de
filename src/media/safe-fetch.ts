import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config.js';
import { MediaFetchError } from './media-errors.js';
import { checkUrl, parseIpLiteral, pinnedLookup, UrlGuardError, type ResolveHost, type VettedUrl } from './url-guard.js';

/**
 * Fetches a media URL safely: every hop (the URL and each redirect target) passes the SSRF guard
 * of `url-guard.ts`, and the connection goes to an address the guard vetted (a pinned `lookup`), so
 * a DNS answer that changes between check and connect (DNS rebinding) cannot redirect it. Redirects
 * are followed by hand, at most `maxRedirects`; the size cap is enforced on `Content-Length` and
 * again while streaming (the connection is destroyed as soon as the cap is passed).
 */

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_TOTAL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REDIRECTS = 5;

export interface SafeFetchOptions {
  /** Size cap in bytes (`MEDIA_MAX_BYTES`). */
  readonly maxBytes: number;
  /** Hosts exempt from the address check (`MEDIA_ALLOWED_HOSTS`). */
  readonly allowedHosts?: readonly string[] | undefined;
  /** From the start of a hop's request to the TCP connection; default 5 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** The whole fetch, redirects and body included; default 30 s. */
  readonly timeoutMs?: number | undefined;
  /** Default 5. */
  readonly maxRedirects?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** DNS resolution used by the guard (tests); default `dns.lookup` with `all: true`. */
  readonly resolve?: ResolveHost | undefined;
}

export interface FetchedMedia {
  readonly data: Buffer;
  /** From Content-Type without parameters, lower case; `application/octet-stream` when absent. */
  readonly mimetype: string;
  /** From Content-Disposition, else the last segment of the (final) URL path; null when neither has one. */
  readonly filename: string | null;
  readonly size: number;
}

/** Options of {@link safeFetch} from the gateway's configuration. */
export function mediaFetchOptions(config: Pick<Config, 'media'>): SafeFetchOptions {
  return { maxBytes: config.media.maxBytes, allowedHosts: config.media.allowedHosts };
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

type HopOutcome = { kind: 'redirect'; location: string } | { kind: 'media'; media: FetchedMedia };

export async function safeFetch(input: string | URL, options: SafeFetchOptions): Promise<FetchedMedia> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new MediaFetchError('MEDIA_FETCH_FAILED', `media fetch timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const outer = options.signal;
  const onOuterAbort = (): void => controller.abort(new MediaFetchError('MEDIA_FETCH_FAILED', 'media fetch aborted', { cause: outer?.reason }));
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });

  try {
    let current: string | URL = input;
    for (let redirects = 0; ; redirects++) {
      const target = await abortable(vet(current, options), controller.signal);
      const outcome = await fetchHop(target, options, controller.signal);
      if (outcome.kind === 'media') return outcome.media;
      if (redirects >= maxRedirects) throw new MediaFetchError('MEDIA_FETCH_FAILED', `more than ${maxRedirects} redirects`);
      try {
        current = new URL(outcome.location, target.url);
      } catch (error) {
        throw new MediaFetchError('MEDIA_FETCH_FAILED', 'redirect to an invalid Location', { cause: error });
      }
    }
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

async function vet(url: string | URL, options: SafeFetchOptions): Promise<VettedUrl> {
  try {
    return await checkUrl(url, { allowedHosts: options.allowedHosts, resolve: options.resolve });
  } catch (error) {
    if (error instanceof UrlGuardError) {
      throw error.kind === 'forbidden'
        ? new MediaFetchError('MEDIA_URL_FORBIDDEN', `media URL refused: ${error.message}`, { cause: error })
        : new MediaFetchError('MEDIA_FETCH_FAILED', `media fetch failed: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function abortReason(signal: AbortSignal): MediaFetchError {
  const reason: unknown = signal.reason;
  return reason instanceof MediaFetchError ? reason : new MediaFetchError('MEDIA_FETCH_FAILED', 'media fetch aborted', { cause: reason });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function fetchHop(target: VettedUrl, options: SafeFetchOptions, signal: AbortSignal): Promise<HopOutcome> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  const { url } = target;
  const maxBytes = options.maxBytes;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const isHttps = url.protocol === 'https:';
  const isIp = parseIpLiteral(target.hostname) !== null;

  return new Promise<HopOutcome>((resolve, reject) => {
    let settled = false;
    const requestOptions: https.RequestOptions = {
      protocol: url.protocol,
      hostname: target.hostname,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: {
        accept: '*/*',
        'accept-encoding': 'identity',
        'user-agent': 'whatsapp-gateway/media-fetch',
        ...options.headers,
      },
      agent: false,
      lookup: pinnedLookup(target.addresses),
    };
    if (url.port !== '') requestOptions.port = Number(url.port);
    if (isHttps && !isIp) requestOptions.servername = target.hostname;
    const req = isHttps ? https.request(requestOptions) : http.request(requestOptions);

    const connectTimer = setTimeout(() => {
      fail(new MediaFetchError('MEDIA_FETCH_FAILED', `connecting to ${target.hostname} timed out after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    const onAbort = (): void => fail(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });

    function cleanup(): void {
      clearTimeout(connectTimer);
      signal.removeEventListener('abort', onAbort);
    }
    function fail(error: MediaFetchError): void {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(error);
    }
    function succeed(outcome: HopOutcome): void {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(outcome);
    }

    req.on('socket', (socket) => {
      if (socket.connecting) socket.once('connect', () => clearTimeout(connectTimer));
      else clearTimeout(connectTimer);
    });
    req.on('error', (error) => {
      fail(new MediaFetchError('MEDIA_FETCH_FAILED', `media fetch failed: ${error.message}`, { cause: error }));
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        const location = res.headers.location;
        req.destroy();
        if (location === undefined || location === '') fail(new MediaFetchError('MEDIA_FETCH_FAILED', `redirect ${status} without Location`));
        else succeed({ kind: 'redirect', location });
        return;
      }
      if (status < 200 || status > 299) {
        fail(new MediaFetchError('MEDIA_FETCH_FAILED', `media fetch failed: HTTP ${status}`));
        return;
      }
      const declared = res.headers['content-length'];
      if (declared !== undefined && Number(declared) > maxBytes) {
        fail(new MediaFetchError('MEDIA_TOO_LARGE', `media is ${declared} bytes, more than the cap of ${maxBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > maxBytes) {
          fail(new MediaFetchError('MEDIA_TOO_LARGE', `media is more than the cap of ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (error) => {
        fail(new MediaFetchError('MEDIA_FETCH_FAILED', `media fetch failed: ${error.message}`, { cause: error }));
      });
      res.on('close', () => {
        if (!res.complete) fail(new MediaFetchError('MEDIA_FETCH_FAILED', 'connection closed before the body was complete'));
      });
      res.on('end', () => {
        const data = Buffer.concat(chunks, size);
        succeed({
          kind: 'media',
          media: {
            data,
            mimetype: mimetypeOf(res.headers['content-type']),
            filename: filenameFromContentDisposition(res.headers['content-disposition']) ?? filenameFromUrl(url),
            size,
          },
        });
      });
    });
    req.end();
  });
}

/** `image/png; charset=x` → `image/png`; absent or empty → `application/octet-stream`. */
export function mimetypeOf(contentType: string | undefined): string {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === '' ? 'application/octet-stream' : type;
}

function sanitizeFilename(name: string): string | null {
  // eslint-disable-next-line no-control-regex
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base === '' || base === '.' || base === '..' ? null : base;
}

/** `filename*=UTF-8''…` (RFC 5987) first, then `filename="…"` or a bare token; only the base name is kept. */
export function filenameFromContentDisposition(header: string | undefined): string | null {
  if (header === undefined) return null;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  const encoded = extended?.[2];
  if (encoded !== undefined) {
    try {
      const name = sanitizeFilename(decodeURIComponent(encoded.trim().replace(/^"|"$/g, '')));
      if (name !== null) return name;
    } catch {
      // malformed percent-encoding: fall back to filename=
    }
  }
  const quoted = /(?:^|;)\s*filename\s*=\s*"((?:\\.|[^"\\])*)"/i.exec(header)?.[1];
  if (quoted !== undefined) return sanitizeFilename(quoted.replace(/\\(.)/g, '$1'));
  const token = /(?:^|;)\s*filename\s*=\s*([^;\s]+)/i.exec(header)?.[1];
  return token === undefined ? null : sanitizeFilename(token);
}

/** The last segment of the URL path, percent-decoded; null for `/` or an empty segment. */
export function filenameFromUrl(url: URL): string | null {
  const last = url.pathname.split('/').pop() ?? '';
  if (last === '') return null;
  try {
    return sanitizeFilename(decodeURIComponent(last));
  } catch {
    return sanitizeFilename(last);
  }
}

import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { checkHost, classifyAddress, isAllowListed, parseIpLiteral, pinnedLookup, UrlGuardError, type ResolveHost } from '../media/url-guard.js';
import type { DeliveryError } from './delivery.js';
import { signWebhook } from './webhook-signer.js';

/**
 * One delivery attempt over HTTP: a POST of the exact body, signed per Standard Webhooks, through a
 * keep-alive undici Agent. Redirects are never followed (undici's `request` does not follow them;
 * a 3xx is a failed attempt). The whole attempt — connection, headers and body — is bounded by
 * `timeoutMs` (WEBHOOK_TIMEOUT).
 *
 * Guarded targets (URLs set through the API) go through a second Agent whose DNS lookup runs the
 * SSRF guard at every new connection and connects only to the addresses it vetted, so a DNS answer
 * that changes after the URL was accepted (rebinding) cannot reach a private address; IP-literal
 * hosts (no lookup) are checked before each attempt. APP_WEBHOOK_URL is trusted and skips it.
 */

export interface WebhookSenderOptions {
  /** WEBHOOK_TIMEOUT. */
  timeoutMs: number;
  /** WEBHOOK_ALLOWED_HOSTS. */
  allowedHosts: readonly string[];
  /** `user-agent` header. */
  userAgent: string;
  /** WEBHOOK_API_KEY and the header it goes in. */
  apiKey?: { header: string; value: string } | undefined;
  /** DNS resolution used by the guard (tests). */
  resolve?: ResolveHost | undefined;
}

export interface SendRequest {
  url: string;
  /** The envelope id: `webhook-id`. */
  eventId: string;
  /** The exact bytes sent (the serialised envelope). */
  body: string;
  secrets: readonly string[];
  guarded: boolean;
  sendApiKey: boolean;
  /** Aborts the attempt (queue closing): the outcome is then `interrupted`. */
  signal: AbortSignal;
}

export type SendOutcome =
  | { kind: 'delivered'; statusCode: number; durationMs: number }
  | {
      kind: 'failed';
      statusCode: number | null;
      error: DeliveryError;
      /** From `Retry-After` on a 429 or 503 answer, in ms (not capped here). */
      retryAfterMs: number | null;
      /** 410: disable the target. */
      gone: boolean;
      durationMs: number;
    }
  /** The caller's signal aborted: not an attempt. */
  | { kind: 'interrupted' };

/** Bytes of a response body read (and thrown away) before the connection is dropped instead. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const KEEP_ALIVE_MS = 30_000;

/** Parses `Retry-After`: delay-seconds or an HTTP date; ms from `now`, null when absent or invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return null;
  const text = raw.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The first `code` of an error or of its causes (ECONNREFUSED, UND_ERR_…). */
function errorCodeOf(error: unknown): string | null {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = 'code' in current ? current.code : undefined;
    if (typeof code === 'string') return code;
  }
  return null;
}

function guardErrorOf(error: unknown): UrlGuardError | null {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current instanceof UrlGuardError) return current;
  }
  return null;
}

export class WebhookSender {
  private readonly trusted: Agent;
  private readonly guarded: Agent;

  constructor(private readonly options: WebhookSenderOptions) {
    const common = {
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    };
    this.trusted = new Agent({ ...common, connect: { timeout: options.timeoutMs } });
    this.guarded = new Agent({ ...common, connect: { timeout: options.timeoutMs, lookup: this.guardedLookup() } });
  }

  /** A `lookup` for net/tls.connect that only ever yields addresses the SSRF guard accepted (checked per connection). */
  private guardedLookup(): LookupFunction {
    const { allowedHosts, resolve } = this.options;
    return (hostname, options, callback) => {
      checkHost(hostname, { allowedHosts, resolve }).then(
        ({ addresses }) => pinnedLookup(addresses)(hostname, options, callback),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), '', 4),
      );
    };
  }

  /** IP-literal hosts are never looked up: checked here instead. Null when allowed. */
  private forbiddenLiteral(url: URL): string | null {
    const literal = parseIpLiteral(url.hostname);
    if (literal === null || isAllowListed(url.hostname, this.options.allowedHosts)) return null;
    const c = classifyAddress(literal.toString());
    return c.public ? null : `address ${c.address} is not public (${c.range}) and the host is not in WEBHOOK_ALLOWED_HOSTS`;
  }

  async send(input: SendRequest): Promise<SendOutcome> {
    // A function, not `signal.aborted` inline: the compiler would take it as unchanged across awaits.
    const interrupted = (): boolean => input.signal.aborted;
    if (interrupted()) return { kind: 'interrupted' };
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const failed = (error: DeliveryError, statusCode: number | null = null, extra: { retryAfterMs?: number | null; gone?: boolean } = {}): SendOutcome => ({
      kind: 'failed',
      statusCode,
      error,
      retryAfterMs: extra.retryAfterMs ?? null,
      gone: extra.gone ?? false,
      durationMs: elapsed(),
    });

    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      return failed({ code: 'URL_FORBIDDEN', message: 'the target URL does not parse' });
    }
    if (input.guarded) {
      const refused = this.forbiddenLiteral(url);
      if (refused !== null) return failed({ code: 'URL_FORBIDDEN', message: refused });
    }

    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.options.userAgent,
      'webhook-id': input.eventId,
      'webhook-timestamp': String(timestamp),
    };
    if (input.secrets.length > 0) {
      headers['webhook-signature'] = signWebhook({ id: input.eventId, timestamp, body: input.body, secrets: input.secrets })['webhook-signature'];
    }
    if (input.sendApiKey && this.options.apiKey) headers[this.options.apiKey.header] = this.options.apiKey.value;

    // One controller per attempt, its timer cleared at the end: a timeout signal combined with the
    // lane's signal would keep each attempt's signals (and the timer) alive for the whole
    // WEBHOOK_TIMEOUT, long enough to reach the old generation at hundreds of deliveries a second.
    const controller = new AbortController();
    const { signal } = controller;
    const deadline = { passed: false };
    const timer = setTimeout(() => {
      deadline.passed = true;
      controller.abort();
    }, this.options.timeoutMs);
    const forward = (): void => controller.abort();
    input.signal.addEventListener('abort', forward, { once: true });
    try {
      const response = await request(url, {
        method: 'POST',
        headers,
        body: input.body,
        signal,
        dispatcher: input.guarded ? this.guarded : this.trusted,
      });
      const statusCode = response.statusCode;
      // Read (and drop) what the target answered, so that the connection can be reused; a body too
      // long or too slow only costs the connection, not the outcome.
      await response.body.dump({ limit: MAX_RESPONSE_BYTES, signal }).catch(() => undefined);
      if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode, durationMs: elapsed() };
      if (interrupted()) return { kind: 'interrupted' };
      if (statusCode >= 300 && statusCode < 400) {
        return failed({ code: 'REDIRECT_NOT_FOLLOWED', message: `HTTP ${statusCode}: redirects are not followed${response.headers.location ? ' (Location given)' : ''}` }, statusCode);
      }
      if (statusCode === 410) return failed({ code: 'GONE', message: 'HTTP 410 Gone: target disabled' }, statusCode, { gone: true });
      const retryAfterMs = statusCode === 429 || statusCode === 503 ? parseRetryAfter(response.headers['retry-after']) : null;
      return failed({ code: 'HTTP_ERROR', message: `HTTP ${statusCode}` }, statusCode, { retryAfterMs });
    } catch (error) {
      if (interrupted()) return { kind: 'interrupted' };
      if (deadline.passed) return failed({ code: 'TIMEOUT', message: `no answer within ${this.options.timeoutMs} ms` });
      const guard = guardErrorOf(error);
      if (guard?.kind === 'forbidden') return failed({ code: 'URL_FORBIDDEN', message: guard.message });
      const code = errorCodeOf(error);
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        return failed({ code: 'TIMEOUT', message: `no answer within ${this.options.timeoutMs} ms` });
      }
      const message = guard ? guard.message : error instanceof Error ? error.message : String(error);
      return failed({ code: 'CONNECTION_ERROR', message: code && !message.includes(code) ? `${code}: ${message}` : message || (code ?? 'connection failed') });
    } finally {
      clearTimeout(timer);
      input.signal.removeEventListener('abort', forward);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.trusted.close(), this.guarded.close()]);
  }
}

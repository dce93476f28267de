/**
 * Standard Webhooks signing (standardwebhooks.com), as the contract's "Events and webhooks"
 * section asks: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per active secret, space-separated
 * during rotation). Secrets are `whsec_<base64>`; the HMAC key is the decoded bytes.
 *
 * The signature covers the exact bytes sent: pass the body exactly as it goes on the wire
 * (the serialised string, or the Buffer), never a re-serialisation of it.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** Bytes of key material in a generated secret (the spec recommends 24 to 64). */
const GENERATED_SECRET_BYTES = 24;

/** Canonical, padded standard base64 (the alphabet the spec and its libraries use; not base64url). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Printable ASCII without spaces: anything else could not travel safely in a header. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

export class WebhookSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSecretError';
  }
}

export interface WebhookSignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export interface SignWebhookInput {
  /** The message id (the envelope's `id`), identical on every retry. */
  id: string;
  /** Unix seconds of the attempt. */
  timestamp: number;
  /** The exact body sent: a string (signed as UTF-8) or its bytes. */
  body: string | Uint8Array;
  /** Active `whsec_` secrets; one signature each, in this order. */
  secrets: readonly string[];
}

/**
 * Decodes a `whsec_<base64>` secret into its HMAC key. Throws {@link WebhookSecretError} for
 * a missing prefix, anything but canonical padded base64 after it, or an empty key.
 */
export function parseWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new WebhookSecretError(`webhook secret must start with "${WEBHOOK_SECRET_PREFIX}" (whsec_<base64>)`);
  }
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (encoded === '') {
    throw new WebhookSecretError('webhook secret is empty after "whsec_"');
  }
  if (!BASE64.test(encoded)) {
    throw new WebhookSecretError(
      'webhook secret must be whsec_ followed by standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters)',
    );
  }
  const key = Buffer.from(encoded, 'base64');
  // Node ignores non-zero trailing bits; refuse them so one key has exactly one spelling.
  if (key.toString('base64') !== encoded) {
    throw new WebhookSecretError('webhook secret is not canonical base64 (non-zero trailing bits)');
  }
  return key;
}

/** Whether {@link parseWebhookSecret} accepts `secret`. */
export function isValidWebhookSecret(secret: string): boolean {
  try {
    parseWebhookSecret(secret);
    return true;
  } catch {
    return false;
  }
}

/** A fresh secret: `whsec_` + 24 random bytes in base64. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(GENERATED_SECRET_BYTES).toString('base64');
}

/** The bytes covered by the signature: `${id}.${timestamp}.` followed by the body's exact bytes. */
function signedContent(id: string, timestamp: number, body: string | Uint8Array): Buffer {
  const prefix = Buffer.from(`${id}.${timestamp}.`, 'utf8');
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([prefix, bodyBytes]);
}

/** One `v1,<base64>` signature of `content` with the decoded `key`. */
function signV1(key: Buffer, content: Buffer): string {
  return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
}

/**
 * Signs one delivery attempt. Returns the three Standard Webhooks headers; `webhook-signature`
 * holds one `v1,<sig>` per secret, space-separated. Throws on an invalid id, timestamp or secret,
 * or when no secret is given.
 */
export function signWebhook(input: SignWebhookInput): WebhookSignatureHeaders {
  const { id, timestamp, body, secrets } = input;
  if (!HEADER_TOKEN.test(id)) {
    throw new TypeError('webhook id must be a non-empty string of printable ASCII without spaces');
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError(`webhook timestamp must be a non-negative integer of Unix seconds, got ${String(timestamp)}`);
  }
  if (secrets.length === 0) {
    throw new WebhookSecretError('at least one webhook secret is needed to sign');
  }
  const keys = secrets.map(parseWebhookSecret);
  const content = signedContent(id, timestamp, body);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': keys.map((key) => signV1(key, content)).join(' '),
  };
}

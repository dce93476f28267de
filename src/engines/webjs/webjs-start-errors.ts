import type { RecordErrorCode } from '../../errors.js';

/** Chromium network errors that mean "WhatsApp Web cannot be loaded from here". */
const UNREACHABLE = /net::ERR_(NAME_NOT_RESOLVED|INTERNET_DISCONNECTED|CONNECTION_\w+|ADDRESS_UNREACHABLE|NETWORK_\w+|TIMED_OUT|PROXY_\w+|TUNNEL_\w+|SSL_\w+|CERT_\w+|EMPTY_RESPONSE|ABORTED)|Navigation timeout|auth timeout|ready timeout/i;
const NO_BROWSER = /ENOENT|EACCES|Browser was not found|Could not find (Chrome|Chromium|browser)/i;

/** Turns what launching Chromium or whatsapp-web.js's initialize() threw into a stable code. */
export function classifyStartError(error: unknown): { code: RecordErrorCode; message: string } {
  // whatsapp-web.js throws bare strings ('auth timeout') as well as Errors.
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0]?.slice(0, 300) ?? message;
  if (UNREACHABLE.test(message)) return { code: 'WHATSAPP_UNREACHABLE', message: `WhatsApp Web is not reachable: ${firstLine}` };
  if (NO_BROWSER.test(message)) return { code: 'BROWSER_NOT_FOUND', message: firstLine };
  return { code: 'ENGINE_ERROR', message: firstLine };
}

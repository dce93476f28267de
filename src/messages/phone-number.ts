/**
 * Phone numbers and chat ids as the contract accepts them: a number in international form
 * (digits, optional leading +, spaces, dashes, dots and parentheses ignored, 8–15 digits), or a
 * WhatsApp chat id (`<digits>@c.us`, `<id>@g.us`, `<id>@lid`, `<id>@newsletter`).
 */

const SEPARATORS = /[\s\-.()]/g;

/** Digits of a phone number, or null when it is not one (8–15 digits after cleaning). */
export function normalizePhone(input: string): string | null {
  const cleaned = input.trim().replace(SEPARATORS, '');
  const digits = cleaned.startsWith('+') ? cleaned.slice(1) : cleaned;
  return /^\d{8,15}$/.test(digits) ? digits : null;
}

const CHAT_ID = /^(?:\d{5,20}@c\.us|[\d-]{5,40}@g\.us|\d{5,25}@lid|\d{5,25}@newsletter)$/;

export function isChatId(input: string): boolean {
  return CHAT_ID.test(input);
}

export type Recipient = { kind: 'phone'; phone: string } | { kind: 'chat'; chatId: string };

/** Parses a `to`: a phone number (to be resolved with getNumberId) or a chat id used as is. */
export function parseRecipient(input: string): Recipient | null {
  const trimmed = input.trim();
  if (isChatId(trimmed)) return { kind: 'chat', chatId: trimmed };
  const phone = normalizePhone(trimmed);
  return phone ? { kind: 'phone', phone } : null;
}

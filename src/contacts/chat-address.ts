import { z } from 'zod';
import type { Engine } from '../engines/engine.js';
import { AppError } from '../errors.js';
import { normalizePhone, parseRecipient, type Recipient } from '../messages/phone-number.js';
import type { NumberLookupCache } from './number-lookup-cache.js';

export const ADDRESS_MAX_LENGTH = 64;

const PHONE_RULE = 'must be a phone number in international form (8–15 digits; +, spaces, dashes, dots and parentheses ignored)';
const ADDRESS_RULE = `${PHONE_RULE} or a chat id (<digits>@c.us, <id>@g.us, <id>@lid, <id>@newsletter)`;

/**
 * Path parameters naming a phone or a chat. Their format is checked by {@link parsePhoneParam} /
 * {@link parseAddressParam} in the handler rather than by the params schema: Fastify validates
 * params before the body, and a body error must be reported with its own field whatever the path
 * holds. Both answer the same 400 VALIDATION_ERROR a schema would.
 */
export const PhoneParam = z.string().min(1).max(ADDRESS_MAX_LENGTH).describe(`Phone number: ${PHONE_RULE}`);
export const AddressParam = z.string().min(1).max(ADDRESS_MAX_LENGTH).describe(`Phone number or chat id: ${ADDRESS_RULE}`);

const invalid = (name: string, rule: string): AppError => new AppError('VALIDATION_ERROR', `Invalid request: params.${name} ${rule}`, [{ path: `params.${name}`, message: rule }]);

/** The digits of a phone path parameter; 400 VALIDATION_ERROR otherwise. */
export function parsePhoneParam(name: string, value: string): string {
  const phone = normalizePhone(value);
  if (phone === null) throw invalid(name, PHONE_RULE);
  return phone;
}

/** A phone or chat id path parameter; 400 VALIDATION_ERROR otherwise. */
export function parseAddressParam(name: string, value: string): Recipient {
  const recipient = parseRecipient(value);
  if (recipient === null) throw invalid(name, ADDRESS_RULE);
  return recipient;
}

/**
 * The chat id an address stands for: a chat id as it is, a phone resolved to WhatsApp's canonical
 * id (through the short-lived lookup cache); null when the phone is not on WhatsApp.
 */
export async function resolveAddress(address: Recipient, sessionId: string, engine: Engine, numbers: NumberLookupCache): Promise<string | null> {
  if (address.kind === 'chat') return address.chatId;
  return numbers.resolve(sessionId, address.phone, (phone) => engine.getNumberId(phone));
}

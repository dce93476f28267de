import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

export const ErrorResponse = z
  .object({
    statusCode: z.number().int(),
    code: z.string().describe('Stable error code (see the table in the API description)'),
    error: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .meta({
    id: 'Error',
    examples: [{ statusCode: 404, code: 'SESSION_NOT_FOUND', error: 'Not Found', message: "Session 'sales' does not exist", details: [] }],
  });

/** Codes every authenticated route can answer (503: the shutdown gate and load shedding). */
const COMMON: ErrorCode[] = ['VALIDATION_ERROR', 'UNAUTHORIZED', 'RATE_LIMITED', 'INTERNAL_ERROR', 'SHUTTING_DOWN', 'OVERLOADED'];

/** Response schemas for the given error codes, grouped by status, each described by its codes. */
export function errorResponses(...codes: ErrorCode[]): Record<number, z.ZodType> {
  const byStatus = new Map<number, Set<string>>();
  for (const code of [...COMMON, ...codes]) {
    const status = ERROR_CODES[code];
    const set = byStatus.get(status) ?? new Set<string>();
    set.add(code);
    byStatus.set(status, set);
  }
  const out: Record<number, z.ZodType> = {};
  for (const [status, set] of byStatus) out[status] = ErrorResponse.describe([...set].join(' | '));
  return out;
}

/** Error responses of the open routes (no auth). */
export function publicErrorResponses(...codes: ErrorCode[]): Record<number, z.ZodType> {
  const out: Record<number, z.ZodType> = {};
  for (const code of codes) out[ERROR_CODES[code]] = ErrorResponse.describe(code);
  return out;
}

export const PaginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size, 1–200'),
  cursor: z.string().max(512).optional().describe('nextCursor of the previous page'),
});

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page') });

/**
 * Keyset pagination over items ordered by a unique, sortable key; the cursor (opaque to clients)
 * is the key of the last item returned, so a page resumes correctly even when that item is gone.
 */
export function paginate<T>(items: readonly T[], keyOf: (item: T) => string, limit: number, cursor: string | undefined): { data: T[]; nextCursor: string | null } {
  const sorted = [...items].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  const after = cursor === undefined ? null : Buffer.from(cursor, 'base64url').toString('utf8');
  const start = after === null ? 0 : sorted.findIndex((item) => compareKeys(keyOf(item), after) > 0);
  const from = start === -1 ? sorted.length : start;
  const data = sorted.slice(from, from + limit);
  const last = data[data.length - 1];
  const nextCursor = from + limit < sorted.length && last !== undefined ? Buffer.from(keyOf(last), 'utf8').toString('base64url') : null;
  return { data, nextCursor };
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

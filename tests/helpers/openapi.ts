import type { FastifyInstance } from 'fastify';
import { AUTH } from './test-app.js';

export interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path, e.g. `/api/v1/sessions/{id}`. */
  path: string;
  /** True when the operation declares `security: []`. */
  public: boolean;
  hasBody: boolean;
  responses: Record<string, unknown>;
  requestBody: unknown;
  parameters: { name: string; in: string }[];
}

interface OpenApiDoc {
  paths: Record<string, Record<string, { security?: unknown[]; requestBody?: unknown; responses?: Record<string, unknown>; parameters?: { name: string; in: string }[] }>>;
}

/** Every operation of the app's own OpenAPI document — tests enumerate routes from it, not from a hand-written list. */
export async function operationsOf(app: FastifyInstance): Promise<{ doc: OpenApiDoc; operations: Operation[] }> {
  const res = await app.inject({ method: 'GET', url: '/docs/json', headers: AUTH });
  if (res.statusCode !== 200) throw new Error(`/docs/json answered ${res.statusCode}`);
  const doc = res.json<OpenApiDoc>();
  const operations: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      operations.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        public: Array.isArray(op.security) && op.security.length === 0,
        hasBody: op.requestBody !== undefined,
        responses: op.responses ?? {},
        requestBody: op.requestBody,
        parameters: op.parameters ?? [],
      });
    }
  }
  return { doc, operations };
}

/** Fills path parameters: `{id}` → the given value (default a valid, unknown id). */
export function urlOf(path: string, params: Record<string, string> = {}): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? 'unknown_session'));
}

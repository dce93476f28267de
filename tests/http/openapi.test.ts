import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsOf, type Operation } from '../helpers/openapi.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

type Schemas = Record<string, unknown>;

const hasExample = (value: unknown, schemas: Schemas, seen = new Set<unknown>()): boolean => {
  if (value === null || typeof value !== 'object' || seen.has(value)) return false;
  seen.add(value);
  const record = value as Record<string, unknown>;
  if (Array.isArray(record.examples) && record.examples.length > 0) return true;
  // OpenAPI's media-type form: `examples: { name: { value } }`.
  if (record.examples !== null && typeof record.examples === 'object' && Object.values(record.examples).some((e) => typeof e === 'object' && e !== null && 'value' in e)) return true;
  if (record.example !== undefined) return true;
  if (typeof record.$ref === 'string') return hasExample(schemas[record.$ref.split('/').pop() ?? ''], schemas, seen);
  return Object.values(record).some((inner) => hasExample(inner, schemas, seen));
};

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: Awaited<ReturnType<typeof operationsOf>>['doc'] & { openapi?: string; components?: { securitySchemes?: Record<string, unknown>; schemas?: Schemas } };
  let operations: Operation[];

  beforeAll(async () => {
    t = await startTestApp();
    ({ doc, operations } = await operationsOf(t.app));
  });
  afterAll(() => t.close());

  it('is OpenAPI 3.1 with the three ways to pass the key', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual(['apiKey', 'bearer', 'gatewayKey']);
  });

  it('gives every operation a success response with an example, and every protected one its 400/401/429/500 errors', () => {
    for (const op of operations) {
      const label = `${op.method} ${op.path}`;
      const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      expect(success.length, label).toBeGreaterThan(0);
      const schemas = doc.components?.schemas ?? {};
      const noContent = success.every(([status]) => status === '204');
      const documented = noContent || success.some(([, response]) => hasExample(response, schemas)) || hasExample(op.requestBody, schemas);
      expect(documented, `${label} has no example`).toBe(true);
      if (!op.public) for (const status of ['400', '401', '429', '500']) expect(op.responses, `${label} lacks ${status}`).toHaveProperty(status);
      if (op.path.includes('{id}') && !op.public) expect(op.responses, `${label} lacks 404`).toHaveProperty('404');
    }
  });

  it('gives every request body an example', () => {
    for (const op of operations) {
      const body = (doc.paths[op.path]?.[op.method.toLowerCase()] as { requestBody?: { content?: Record<string, unknown> } } | undefined)?.requestBody;
      if (body) expect(hasExample(body.content, doc.components?.schemas ?? {}), `${op.method} ${op.path} request body`).toBe(true);
    }
  });

  it('documents every route of the contract (contract-routes tool)', async () => {
    const file = join(t.config.sessionsPath, 'openapi.json');
    await writeFile(file, JSON.stringify(doc));
    const tool = new URL('../../../shared/tools/contract-routes.mjs', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)('node', [tool, file]).catch((error: unknown) => ({ stdout: (error as { stdout: string }).stdout }));
    const missing = stdout.split('\n').filter((l) => l.startsWith('missing'));
    expect(missing).toEqual([]);
    expect(stdout).toMatch(/(\d+) of \1 contract routes documented/);
    expect(stdout).not.toMatch(/not in contract/);
  });
});

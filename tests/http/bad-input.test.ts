import { BODY_LIMIT_BYTES } from '../../src/app.js';
import { sendBodyLimit } from '../../src/messages/messages.routes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsOf, urlOf, type Operation } from '../helpers/openapi.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  maxLength?: number;
  maxItems?: number;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
}

type Doc = Awaited<ReturnType<typeof operationsOf>>['doc'] & { components?: { schemas?: Record<string, JsonSchema> } };

function resolve(doc: Doc, schema: JsonSchema | undefined): JsonSchema | undefined {
  if (!schema?.$ref) return schema;
  const name = schema.$ref.split('/').pop() ?? '';
  return doc.components?.schemas?.[name];
}

function bodySchema(doc: Doc, op: Operation): JsonSchema | undefined {
  const body = op.requestBody as { content?: Record<string, { schema?: JsonSchema }> } | undefined;
  return resolve(doc, body?.content?.['application/json']?.schema);
}

function wrongValueFor(schema: JsonSchema): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return 12345;
    case 'number':
    case 'integer':
      return 'not-a-number';
    case 'boolean':
      return 'yes';
    case 'array':
      return 'not-an-array';
    case 'object':
      return 'not-an-object';
    default:
      return { unexpected: [1, 2, 3] };
  }
}

const BAD_IDS = ['has space', 'x'.repeat(65), 'dots.not.allowed', 'ü', 'semi;colon', '%00'];

/** Every body, param and query of the OpenAPI document, fed bad input: a 4xx in the error shape, never a 5xx. */
describe('bad input on every route', () => {
  let t: TestApp;
  let doc: Doc;
  let operations: Operation[];

  beforeAll(async () => {
    t = await startTestApp();
    ({ doc, operations } = await operationsOf(t.app));
  });
  afterAll(() => t.close());

  const expectClientError = (res: { statusCode: number; json: () => unknown }, label: string, status?: number): void => {
    if (status !== undefined) expect(res.statusCode, label).toBe(status);
    expect(res.statusCode, label).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, label).toBeLessThan(500);
    const body = res.json() as Record<string, unknown>;
    expect(Object.keys(body).sort(), label).toEqual(['code', 'details', 'error', 'message', 'statusCode']);
    expect(body.statusCode, label).toBe(res.statusCode);
  };

  it('refuses malformed session ids in every path with 400 VALIDATION_ERROR', async () => {
    let checked = 0;
    for (const op of operations.filter((o) => o.path.includes('{id}'))) {
      for (const id of BAD_IDS) {
        const res = await t.app.inject({ method: op.method, url: urlOf(op.path, { id }), headers: AUTH, ...(op.hasBody ? { payload: {} } : {}) });
        expectClientError(res, `${op.method} ${op.path} id=${id}`, 400);
        expect(res.json<{ code: string }>().code).toBe('VALIDATION_ERROR');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('refuses malformed JSON, non-objects, unknown fields, wrong content types and oversize bodies', async () => {
    for (const op of operations.filter((o) => o.hasBody)) {
      const url = urlOf(op.path, { id: 'some_session' });
      const label = `${op.method} ${op.path}`;
      const json = { ...AUTH, 'content-type': 'application/json' };
      for (const payload of ['{not json', '[]', '"a string"', '42', 'null']) {
        const res = await t.app.inject({ method: op.method, url, headers: json, payload });
        expectClientError(res, `${label} ${payload}`, 400);
      }
      const unknown = await t.app.inject({ method: op.method, url, headers: AUTH, payload: { surelyNotAField: 1 } });
      expectClientError(unknown, `${label} unknown field`, 400);
      const text = await t.app.inject({ method: op.method, url, headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'hello' });
      expectClientError(text, `${label} text/plain`, 415);
      // The send route takes base64 media up to MEDIA_MAX_BYTES; every other route 1 MiB.
      const limit = op.path === '/api/v1/sessions/{id}/messages' ? sendBodyLimit(t.config.media.maxBytes) : BODY_LIMIT_BYTES;
      const huge = await t.app.inject({ method: op.method, url, headers: json, payload: JSON.stringify({ id: 'x'.repeat(limit + 10) }) });
      expectClientError(huge, `${label} > ${limit} bytes`, 413);
      expect(huge.json<{ code: string }>().code).toBe('PAYLOAD_TOO_LARGE');
    }
  });

  it('refuses a wrong type and an oversize value for every body field, naming the field in details', async () => {
    let checked = 0;
    for (const op of operations.filter((o) => o.hasBody)) {
      const schema = bodySchema(doc, op);
      for (const [field, fieldSchema] of Object.entries(schema?.properties ?? {})) {
        const url = urlOf(op.path, { id: 'some_session' });
        const res = await t.app.inject({ method: op.method, url, headers: AUTH, payload: { [field]: wrongValueFor(fieldSchema) } });
        expectClientError(res, `${op.method} ${op.path} ${field}`, 400);
        const details = res.json<{ details: { path: string }[] }>().details;
        expect(details.some((d) => d.path.startsWith(`body.${field}`)), `${op.method} ${op.path} ${field}: ${JSON.stringify(details)}`).toBe(true);
        if (fieldSchema.maxLength !== undefined) {
          const long = await t.app.inject({ method: op.method, url, headers: AUTH, payload: { [field]: 'a'.repeat(fieldSchema.maxLength + 1) } });
          expectClientError(long, `${op.method} ${op.path} ${field} too long`, 400);
        }
        if (fieldSchema.maxItems !== undefined) {
          const many = await t.app.inject({ method: op.method, url, headers: AUTH, payload: { [field]: Array.from({ length: fieldSchema.maxItems + 1 }, () => ({})) } });
          expectClientError(many, `${op.method} ${op.path} ${field} too many`, 400);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(8);
  });

  it('refuses bad query values', async () => {
    const cases = ['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'status=bogus', `cursor=${'c'.repeat(600)}`];
    for (const op of operations.filter((o) => o.parameters.some((p) => p.in === 'query'))) {
      const names = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name));
      // Pages are 1–200 but for the event log (1–1000): one above the documented maximum.
      const limitMax = (op.parameters.find((p) => p.in === 'query' && p.name === 'limit') as { schema?: { maximum?: number } } | undefined)?.schema?.maximum ?? 200;
      for (const query of cases.map((c) => (c === 'limit=201' ? `limit=${limitMax + 1}` : c)).filter((c) => names.has(c.split('=')[0] ?? ''))) {
        const res = await t.app.inject({ method: op.method, url: `${urlOf(op.path, { id: 'some_session' })}?${query}`, headers: AUTH });
        expectClientError(res, `${op.method} ${op.path}?${query}`, 400);
      }
    }
  });

  it('gives specific messages for nested webhook and metadata problems', async () => {
    const cases: [unknown, string][] = [
      [{ webhooks: [{ url: 'ftp://example.com/x' }] }, 'body.webhooks.0.url'],
      [{ webhooks: [{ url: 'https://example.com/x', secret: 'plain' }] }, 'body.webhooks.0.secret'],
      [{ webhooks: [{ url: 'https://example.com/x', events: [] }] }, 'body.webhooks.0.events'],
      [{ metadata: { k: 'v'.repeat(1025) } }, 'body.metadata.k'],
      [{ metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }, 'body.metadata'],
      [{ engine: 'baileys' }, 'body.engine'],
      [{ start: 'yes' }, 'body.start'],
    ];
    for (const [payload, path] of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: payload as Record<string, unknown> });
      expectClientError(res, path, 400);
      expect(res.json<{ details: { path: string }[] }>().details.map((d) => d.path), path).toContain(path);
    }
    expect(t.app.gateway.sessions.list()).toHaveLength(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsOf, urlOf, type Operation } from '../helpers/openapi.js';
import { TEST_API_KEY, startTestApp, type TestApp } from '../helpers/test-app.js';

const OPEN_ROUTES = ['GET /health', 'GET /health/live', 'GET /health/ready'];

describe('API-key auth on every route of the OpenAPI document', () => {
  let t: TestApp;
  let operations: Operation[];

  beforeAll(async () => {
    t = await startTestApp({ env: { API_KEYS: 'second-key,third-key', API_KEY_HEADER: 'x-custom-key' } });
    ({ operations } = await operationsOf(t.app));
  });
  afterAll(() => t.close());

  it('documents the open probes as public and nothing else', () => {
    const open = operations.filter((o) => o.public).map((o) => `${o.method} ${o.path}`);
    expect(open.sort()).toEqual([...OPEN_ROUTES].sort());
    expect(operations.length).toBeGreaterThan(15);
  });

  it('answers 401 UNAUTHORIZED on every protected route without a key, before validating the body', async () => {
    for (const op of operations.filter((o) => !o.public)) {
      const body = op.hasBody ? { payload: '{not json', headers: { 'content-type': 'application/json' } } : {};
      const res = await t.app.inject({ method: op.method, url: urlOf(op.path, { id: 'not a valid id!' }), ...body });
      expect(res.statusCode, `${op.method} ${op.path}`).toBe(401);
      expect(res.json(), `${op.method} ${op.path}`).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', details: [] });
    }
  });

  it('answers 401 on every protected route with a wrong key, in every accepted header', async () => {
    const wrong = [
      { 'x-api-key': 'wrong' },
      { 'x-28web-gateway-key': `${TEST_API_KEY}x` },
      { authorization: 'Bearer nope' },
      { 'x-custom-key': TEST_API_KEY.slice(0, -1) },
      { authorization: TEST_API_KEY },
    ];
    for (const op of operations.filter((o) => !o.public)) {
      for (const headers of wrong) {
        const res = await t.app.inject({ method: op.method, url: urlOf(op.path), headers });
        expect(res.statusCode, `${op.method} ${op.path} ${Object.keys(headers).join()}`).toBe(401);
      }
    }
  });

  it('accepts the key in x-api-key, x-28web-gateway-key, Bearer and API_KEY_HEADER, and every key of API_KEYS', async () => {
    const good = [
      { 'x-api-key': TEST_API_KEY },
      { 'x-28web-gateway-key': TEST_API_KEY },
      { authorization: `Bearer ${TEST_API_KEY}` },
      { authorization: `bearer second-key` },
      { 'x-custom-key': 'third-key' },
    ];
    // The SSE stream never ends, which inject cannot read: tests/http/event-stream.test.ts checks each header on it over HTTP.
    const streams = (o: Operation): boolean => 'text/event-stream' in ((o.responses['200'] as { content?: Record<string, unknown> } | undefined)?.content ?? {});
    for (const op of operations.filter((o) => !o.public && !streams(o))) {
      for (const headers of good) {
        const res = await t.app.inject({ method: op.method, url: urlOf(op.path), headers, ...(op.hasBody ? { payload: {} } : {}) });
        expect(res.statusCode, `${op.method} ${op.path}`).not.toBe(401);
      }
    }
  });

  it('serves the open probes without a key', async () => {
    for (const route of OPEN_ROUTES) {
      const [method, url] = route.split(' ') as ['GET', string];
      const res = await t.app.inject({ method, url });
      expect(res.statusCode, route).toBe(200);
    }
  });

  it('needs a key for unknown routes too (401 without, 404 NOT_FOUND with)', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' })).statusCode).toBe(401);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: { 'x-api-key': TEST_API_KEY } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND', error: 'Not Found' });
  });

  it('protects /docs unless DOCS_PUBLIC=true', async () => {
    expect((await t.app.inject({ url: '/docs/json' })).statusCode).toBe(401);
    const open = await startTestApp({ env: { DOCS_PUBLIC: 'true' } });
    try {
      expect((await open.app.inject({ url: '/docs/json' })).statusCode).toBe(200);
      expect((await open.app.inject({ url: '/api/v1/sessions' })).statusCode).toBe(401);
    } finally {
      await open.close();
    }
  });

  it('opens everything with AUTH_DISABLED=true and no key configured', async () => {
    const open = await startTestApp({ env: { API_KEY: '', AUTH_DISABLED: 'true' } });
    try {
      expect((await open.app.inject({ url: '/api/v1/sessions' })).statusCode).toBe(200);
    } finally {
      await open.close();
    }
  });
});

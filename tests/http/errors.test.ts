import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { AUTH, STORAGE_MODES, startTestApp, testConfig } from '../helpers/test-app.js';

describe('error shape', () => {
  it('hides internals of an unexpected error behind 500 INTERNAL_ERROR, with the request id', async () => {
    const config = await testConfig();
    const app = await buildApp(config);
    app.get('/api/v1/boom', async () => {
      throw new Error('db password is hunter2 at /srv/secret.ts:42');
    });
    await app.ready();
    try {
      const res = await app.inject({ url: '/api/v1/boom', headers: { ...AUTH, 'x-request-id': 'req-123' } });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({
        statusCode: 500,
        code: 'INTERNAL_ERROR',
        error: 'Internal Server Error',
        message: expect.any(String) as unknown,
        details: [],
      });
      expect(res.body).not.toMatch(/hunter2|secret\.ts|at /);
      expect(res.headers['x-request-id']).toBe('req-123');
    } finally {
      await app.close();
      await rm(config.sessionsPath, { recursive: true, force: true });
    }
  });

  it('turns a plugin\'s own 503 into 503 OVERLOADED with retry-after, not a 500', async () => {
    const config = await testConfig();
    const app = await buildApp(config);
    app.get('/api/v1/busy', async () => {
      throw Object.assign(new Error('queue full at /srv/secret.ts:42'), { statusCode: 503 });
    });
    await app.ready();
    try {
      const res = await app.inject({ url: '/api/v1/busy', headers: AUTH });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ statusCode: 503, code: 'OVERLOADED', details: [] });
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).not.toMatch(/secret\.ts/);
    } finally {
      await app.close();
      await rm(config.sessionsPath, { recursive: true, force: true });
    }
  });

  it('answers 404 NOT_FOUND for an unknown route and method', async () => {
    const t = await startTestApp();
    try {
      const res = await t.app.inject({ method: 'PUT', url: '/api/v1/sessions', headers: AUTH, payload: {} });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', details: [] });
    } finally {
      await t.close();
    }
  });
});

describe.each(STORAGE_MODES)('rate limit (%s)', (mode) => {
  it('limits each API key to RATE_LIMIT_MAX per window with 429 RATE_LIMITED and headers; probes are never limited', async () => {
    const t = await startTestApp({ mode, env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '1m', API_KEYS: 'other-key' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await t.app.inject({ url: '/api/v1/sessions', headers: AUTH })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await t.app.inject({ url: '/api/v1/sessions', headers: AUTH });
      expect(limited.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['x-ratelimit-limit']).toBe('3');
      expect(limited.headers['x-ratelimit-remaining']).toBe('0');
      // Another key has its own bucket.
      expect((await t.app.inject({ url: '/api/v1/sessions', headers: { 'x-api-key': 'other-key' } })).statusCode).toBe(200);
      for (let i = 0; i < 5; i++) expect((await t.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
      // Callers without a valid key are limited per IP: guessing keys is limited too.
      const guesses: number[] = [];
      for (let i = 0; i < 4; i++) guesses.push((await t.app.inject({ url: '/api/v1/sessions', headers: { 'x-api-key': `guess-${i}` } })).statusCode);
      expect(guesses).toEqual([401, 401, 401, 429]);
    } finally {
      await t.close();
    }
  });
});

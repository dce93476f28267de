import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/messaging.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

/** Keeps the event loop busy for `ms`: one event-loop delay sample far over any limit. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describe('load shedding (@fastify/under-pressure)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('answers 503 OVERLOADED in the error shape with retry-after while the event loop lags, but never on the probes', async () => {
    t = await startTestApp({
      env: { UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: '10ms', UNDER_PRESSURE_SAMPLE_INTERVAL: '500ms', UNDER_PRESSURE_RETRY_AFTER: '2500ms' },
    });
    const app = t.app;
    blockEventLoop(1_500);
    // The next sample (one is overdue) sees the block; no event tells when, so the state is polled.
    await eventually(async () => (app.isUnderPressure() ? true : null));

    const [shed, unknownRoute, live, health, ready] = await Promise.all([
      app.inject({ method: 'GET', url: '/api/v1/sessions', headers: AUTH }),
      app.inject({ method: 'GET', url: '/api/v1/nope', headers: AUTH }),
      app.inject({ method: 'GET', url: '/health/live' }),
      app.inject({ method: 'GET', url: '/health' }),
      app.inject({ method: 'GET', url: '/health/ready' }),
    ]);
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('3');
    expect(shed.json()).toEqual({
      statusCode: 503,
      code: 'OVERLOADED',
      error: 'Service Unavailable',
      message: 'The gateway is overloaded (event-loop delay); retry after 3 s',
      details: [],
    });
    expect(unknownRoute.statusCode).toBe(503);
    expect(live.statusCode).toBe(200);
    expect(health.statusCode).toBe(200);
    expect(ready.statusCode).toBe(200);
  });

  it('sheds nothing when every limit is 0 (off)', async () => {
    t = await startTestApp({ env: { UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: '0', UNDER_PRESSURE_SAMPLE_INTERVAL: '50ms' } });
    const app = t.app;
    blockEventLoop(300);
    // Measured (a limit of 10 ms would shed now), and ignored.
    await eventually(async () => (app.memoryUsage().eventLoopDelay > 10 ? true : null));
    const res = await app.inject({ method: 'GET', url: '/api/v1/sessions', headers: AUTH });
    expect(res.statusCode).toBe(200);
  });

  it('sheds on heap used over UNDER_PRESSURE_MAX_HEAP_BYTES', async () => {
    t = await startTestApp({ env: { UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: '0', UNDER_PRESSURE_MAX_HEAP_BYTES: '1', UNDER_PRESSURE_SAMPLE_INTERVAL: '20ms' } });
    const app = t.app;
    await eventually(async () => (app.isUnderPressure() ? true : null));
    const res = await app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'shed' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'OVERLOADED', message: 'The gateway is overloaded (heap used); retry after 10 s' });
    expect(res.headers['retry-after']).toBe('10');
    expect(app.gateway.sessions.has('shed')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { AUTH, startTestApp } from '../helpers/test-app.js';

const gauge = (text: string, line: string): number | null => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? null : Number(found.slice(line.length + 1));
};

describe('/metrics', () => {
  it('needs the key by default and exposes sessions by status and process metrics', async () => {
    const t = await startTestApp();
    try {
      expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(401);
      for (const id of ['m1', 'm2']) await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id } });
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'm3', start: false } });
      await t.app.gateway.sessions.waitForStatus('m1', ['qr'], 2_000);
      await t.app.gateway.sessions.waitForStatus('m2', ['qr'], 2_000);
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions/m1/simulator/scan', headers: AUTH, payload: {} });
      const res = await t.app.inject({ url: '/metrics', headers: AUTH });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(gauge(res.body, 'wagw_sessions{status="ready"}')).toBe(1);
      expect(gauge(res.body, 'wagw_sessions{status="qr"}')).toBe(1);
      expect(gauge(res.body, 'wagw_sessions{status="stopped"}')).toBe(1);
      expect(gauge(res.body, 'wagw_process_resident_memory_bytes')).toBeGreaterThan(0);
      // The simulator runs nothing outside the gateway.
      expect(res.body).not.toMatch(/^wagw_engine_pss_bytes\{/m);
    } finally {
      await t.close();
    }
  });

  it('is open with METRICS_PUBLIC=true', async () => {
    const t = await startTestApp({ env: { METRICS_PUBLIC: 'true' } });
    try {
      expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { AUTH, STORAGE_MODES, startTestApp } from '../helpers/test-app.js';

describe.each(STORAGE_MODES)('smoke (%s)', (mode) => {
  it('creates a simulator session that shows a QR', async () => {
    const t = await startTestApp({ mode });
    try {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'a' } });
      expect(res.statusCode).toBe(201);
      const s = await t.app.gateway.sessions.waitForStatus('a', ['qr'], 2000);
      expect(s.status).toBe('qr');
    } finally {
      await t.close();
    }
  });
});

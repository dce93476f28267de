import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { AUTH, startTestApp } from '../helpers/test-app.js';

/**
 * Opt-in, for a machine that reaches WhatsApp: `WEBJS_LIVE=1 npm run test:live`. Creates a webjs
 * session, prints its QR in the terminal, waits (up to 5 min) for you to scan it with WhatsApp >
 * Linked devices, then sends a text to the linked number itself. Not part of `npm test`.
 */
describe('webjs live', () => {
  it('links a real phone and sends a text to itself', { timeout: 6 * 60_000 }, async () => {
    expect(process.env.WEBJS_LIVE, 'set WEBJS_LIVE=1 to run the live test').toBe('1');
    const t = await startTestApp({ env: { WHATSAPP_QR_TIMEOUT: '60s', WHATSAPP_QR_MAX_RETRIES: '5', WHATSAPP_READY_TIMEOUT: '3m' } });
    try {
      t.app.gateway.bus.subscribe((event) => {
        if (event.event === 'qr_code' && typeof event.data.raw === 'string') {
          void QRCode.toString(event.data.raw, { type: 'terminal', small: true }).then((art) => process.stdout.write(`\nScan with WhatsApp > Linked devices:\n${art}\n`));
        }
        if (event.event === 'session.status') process.stdout.write(`session: ${JSON.stringify(event.data)}\n`);
      });
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'live', engine: 'webjs' } });
      expect(created.statusCode).toBe(201);
      const session = await t.app.gateway.sessions.waitForStatus('live', ['ready', 'failed', 'stopped'], 5 * 60_000);
      expect(session.status).toBe('ready');
      const me = session.me;
      if (!me) throw new Error('ready without me');
      const engine = t.app.gateway.sessions.engineOf('live');
      if (!engine) throw new Error('no engine');
      const sent = await engine.send(me.id, { type: 'text', text: `whatsapp-gateway live test ${new Date().toISOString()}` }, {});
      process.stdout.write(`sent ${sent.waMessageId}\n`);
      expect(sent.waMessageId).toMatch(/^true_/);
    } finally {
      await t.close();
    }
  });
});

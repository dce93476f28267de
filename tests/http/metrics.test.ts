import { afterEach, describe, expect, it } from 'vitest';
import { MessageStatusLog, accepted, eventually, readySession } from '../helpers/messaging.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { inbound, webhookEnv } from '../helpers/webhooks.js';

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

describe('/metrics: HTTP, sends, queues, webhooks, event loop', () => {
  let t: TestApp | undefined;
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await t?.close();
    await receiver?.stop();
    t = undefined;
    receiver = undefined;
  });

  const scrape = async (app: TestApp): Promise<string> => {
    const res = await app.app.inject({ url: '/metrics', headers: AUTH });
    expect(res.statusCode).toBe(200);
    return res.body;
  };

  it('times HTTP requests by route pattern, method and status code, never by raw URL', async () => {
    t = await startTestApp();
    await readySession(t, 'raw-id-1');
    expect((await t.app.inject({ url: '/api/v1/sessions/raw-id-1', headers: AUTH })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/sessions/raw-id-2', headers: AUTH })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/no/such/route-xyz', headers: AUTH })).statusCode).toBe(404);
    const body = await scrape(t);
    expect(gauge(body, 'wagw_http_request_duration_seconds_count{route="/api/v1/sessions/:id",method="GET",status_code="200"}')).toBe(1);
    expect(gauge(body, 'wagw_http_request_duration_seconds_count{route="/api/v1/sessions/:id",method="GET",status_code="404"}')).toBe(1);
    expect(gauge(body, 'wagw_http_request_duration_seconds_count{route="/api/v1/sessions",method="POST",status_code="201"}')).toBe(1);
    expect(gauge(body, 'wagw_http_request_duration_seconds_count{route="(unmatched)",method="GET",status_code="404"}')).toBe(1);
    expect(body).toMatch(/^wagw_http_request_duration_seconds_bucket\{le="0\.005",route="\/api\/v1\/sessions\/:id",method="GET",status_code="200"\} \d+$/m);
    expect(body).not.toContain('raw-id-');
    expect(body).not.toContain('route-xyz');
  });

  it('counts sends by status, times them (accepted → sent, processing by outcome) and reads the queue depth at scrape', async () => {
    t = await startTestApp({ env: { SEND_RETRY_DELAY: '20ms' } });
    const log = new MessageStatusLog(t.app.gateway.bus);
    try {
      await readySession(t, 's1');
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions/s1/simulator/faults', headers: AUTH, payload: { failNextSends: 1 } });
      const retried = await accepted(t, 's1', { type: 'text', to: '5511911112222', text: 'first try fails' });
      const notOnWhatsApp = await accepted(t, 's1', { type: 'text', to: '5511955550000', text: 'x' });
      await log.status(retried.id, 'sent');
      await log.status(notOnWhatsApp.id, 'failed');
      let body = await scrape(t);
      expect(gauge(body, 'wagw_sends_total{status="queued"}')).toBe(2);
      expect(gauge(body, 'wagw_sends_total{status="sent"}')).toBe(1);
      expect(gauge(body, 'wagw_sends_total{status="failed"}')).toBe(1);
      expect(gauge(body, 'wagw_send_latency_seconds_count')).toBe(1);
      expect(gauge(body, 'wagw_send_latency_seconds_sum')).toBeGreaterThanOrEqual(0.02);
      expect(gauge(body, 'wagw_send_processing_seconds_count{outcome="done"}')).toBe(2);
      expect(gauge(body, 'wagw_send_processing_seconds_count{outcome="retry"}')).toBe(1);
      expect(gauge(body, 'wagw_send_queue_jobs{state="waiting"}')).toBe(0);
      expect(gauge(body, 'wagw_send_queue_jobs{state="active"}')).toBe(0);

      // A session waiting for its scan holds its sends: the depth is read at scrape.
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'q1' } });
      await t.app.gateway.sessions.waitForStatus('q1', ['qr'], 2_000);
      await accepted(t, 'q1', { type: 'text', to: '5511911112222', text: 'a' });
      await accepted(t, 'q1', { type: 'text', to: '5511911112222', text: 'b' });
      body = await scrape(t);
      expect((gauge(body, 'wagw_send_queue_jobs{state="waiting"}') ?? 0) + (gauge(body, 'wagw_send_queue_jobs{state="active"}') ?? 0)).toBe(2);
      expect(gauge(body, 'wagw_webhook_queue_jobs{state="waiting"}')).toBe(0);
    } finally {
      log.close();
    }
  });

  it('counts webhook attempts by outcome (delivered, failed, dead) and times them', async () => {
    // "keep": failed once, then delivered; "drop": failed on both attempts, then dead.
    receiver = await WebhookReceiver.start((request, nth) => ({ status: request.body.includes('"drop"') || nth === 1 ? 500 : 200 }));
    t = await startTestApp({ env: webhookEnv(receiver, { WEBHOOK_RETRY_SCHEDULE: '0,20ms' }) });
    await readySession(t, 'w1');
    inbound(t, 'w1', 'keep');
    inbound(t, 'w1', 'drop');
    const body = await eventually(async () => {
      const scraped = await scrape(t as TestApp);
      return gauge(scraped, 'wagw_webhook_attempts_total{outcome="dead"}') === 1 ? scraped : null;
    });
    expect(gauge(body, 'wagw_webhook_attempts_total{outcome="delivered"}')).toBe(1);
    expect(gauge(body, 'wagw_webhook_attempts_total{outcome="failed"}')).toBe(2);
    expect(gauge(body, 'wagw_webhook_attempt_duration_seconds_count')).toBe(4);
    expect(gauge(body, 'wagw_webhook_attempt_duration_seconds_bucket{le="+Inf"}')).toBe(4);
  });

  it('exposes the event-loop delay (monitorEventLoopDelay, with the process metrics): a blocked loop shows in max', async () => {
    t = await startTestApp();
    // The sampler ticks every 10 ms; a few ticks' wait orders us after its next tick (it is not a
    // wait for an outcome). A scrape resets the histogram, and the first tick after a reset only
    // starts the next measurement — on a loaded machine that tick can come late and swallow the
    // block, so the block is repeated (a few times at most) until a window sees it.
    const afterSamples = (): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, 30));
    let body = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      await scrape(t);
      await afterSamples();
      const blockedUntil = performance.now() + 100;
      while (performance.now() < blockedUntil) {
        // Busy: the event loop cannot turn.
      }
      await afterSamples();
      body = await scrape(t);
      if ((gauge(body, 'wagw_nodejs_eventloop_lag_max_seconds') ?? 0) >= 0.05) break;
    }
    for (const family of ['p50', 'p99', 'max']) expect(body).toContain(`# TYPE wagw_nodejs_eventloop_lag_${family}_seconds gauge`);
    expect(gauge(body, 'wagw_nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.05);
  });
});

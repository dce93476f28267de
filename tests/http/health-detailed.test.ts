import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { DetailedHealthResponse, PerformanceHealthResponse, SessionHealthResponse, SessionsHealthResponse, SystemHealthResponse } from '../../src/health/health-detail.schemas.js';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { MessageStatusLog, accepted, eventually, readySession } from '../helpers/messaging.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { AUTH, STORAGE_MODES, startTestApp, type TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { inbound, webhookEnv } from '../helpers/webhooks.js';

type Detailed = z.infer<typeof DetailedHealthResponse>;
type Performance = z.infer<typeof PerformanceHealthResponse>;
type System = z.infer<typeof SystemHealthResponse>;
type SessionHealth = z.infer<typeof SessionHealthResponse>;

const ROUTES = ['/health/detailed', '/health/sessions', '/health/system', '/health/performance', '/health/sessions/h1'];

async function get<T>(t: TestApp, url: string, status = 200): Promise<T> {
  const res = await t.app.inject({ url, headers: AUTH });
  expect(res.statusCode, `${url}: ${res.body}`).toBe(status);
  return res.json<T>();
}

const text = (to: string, body = 'hello'): Record<string, unknown> => ({ type: 'text', to, text: body });

/** The first background check that ends with `probe` true (each check is awaited, never slept for); fails after `timeoutMs`. */
async function checkWhere(t: TestApp, probe: (snapshot: HealthSnapshot) => boolean, timeoutMs = 10_000): Promise<HealthSnapshot> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no background check matched within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    for (;;) {
      const snapshot = await Promise.race([t.app.gateway.health.nextCheck(), deadline]);
      if (probe(snapshot)) return snapshot;
    }
  } finally {
    clearTimeout(timer);
  }
}

describe('keyed health routes', () => {
  let t: TestApp | undefined;
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await t?.close();
    await receiver?.stop();
    t = undefined;
    receiver = undefined;
  });

  it('need the API key: 401 UNAUTHORIZED without one or with a wrong one', async () => {
    t = await startTestApp();
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'h1', start: false } });
    for (const url of ROUTES) {
      const missing = await t.app.inject({ url });
      expect(missing.statusCode, url).toBe(401);
      expect(missing.json(), url).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', details: [] });
      expect((await t.app.inject({ url, headers: { 'x-api-key': 'wrong-key-0123456789' } })).statusCode, url).toBe(401);
      expect((await t.app.inject({ url, headers: AUTH })).statusCode, url).toBe(200);
    }
  });

  describe.each(STORAGE_MODES)('%s storage', (mode) => {
    it('answers every component, the session totals, the system, performance and one session', async () => {
      t = await startTestApp({ mode });
      await readySession(t, 'ready1');
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'qr1' } });
      await t.app.gateway.sessions.waitForStatus('qr1', ['qr'], 2_000);
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'off1', start: false } });

      const detailed = DetailedHealthResponse.parse(await get<Detailed>(t, '/health/detailed'));
      expect(detailed.status).toBe('ok');
      expect(detailed.performanceMonitoring).toBe(false);
      expect(detailed.checkedAt).not.toBeNull();
      const { redis, sendQueue, webhookQueue, engines, sessions } = detailed.components;
      expect(redis.status).toBe('ok');
      expect(redis.details.mode).toBe(mode === 'redis' ? 'redis' : 'embedded');
      if (mode === 'redis') expect(redis.details.latencyMs).toBeGreaterThanOrEqual(0);
      else expect(redis.details.latencyMs).toBeNull();
      expect(sendQueue).toEqual({ status: 'ok', details: { driver: mode === 'redis' ? 'bullmq' : 'memory', waiting: 0, active: 0, error: null } });
      expect(webhookQueue).toMatchObject({ status: 'ok', details: { waiting: 0, active: 0, appTarget: null, delivered: 0, error: null } });
      expect(engines).toEqual({ status: 'ok', details: { available: ['webjs', 'simulator'], running: 2, byEngine: { simulator: 2 }, resources: { collected: false } } });
      const totals = {
        totalSessions: 3,
        activeSessions: 2,
        connectedSessions: 1,
        qrPendingSessions: 1,
        disconnectedSessions: 0,
        failedSessions: 0,
        stoppedSessions: 1,
        byStatus: { starting: 0, qr: 1, authenticated: 0, ready: 1, disconnected: 0, failed: 0, stopped: 1 },
      };
      expect(sessions).toEqual({ status: 'ok', details: totals });

      expect(await get(t, '/health/sessions')).toEqual(totals);
      SessionsHealthResponse.parse(totals);

      const system = SystemHealthResponse.parse(await get<System>(t, '/health/system'));
      expect(system).toMatchObject({ performanceMonitoring: false, diskUsage: { collected: false }, collectedAt: null, error: null });
      expect(system.cpuUsage).toMatchObject({ systemPercent: null, collected: false });
      expect(system.cpuUsage.cores).toBeGreaterThan(0);
      expect(system.cpuUsage.loadAverage).toHaveLength(3);
      expect(system.memoryUsage.totalBytes).toBeGreaterThan(system.memoryUsage.freeBytes);
      expect(system.memoryUsage.process.rssBytes).toBeGreaterThan(0);
      expect(system.memoryUsage.engines).toEqual({ collected: false });
      expect(system.uptime).toBeGreaterThanOrEqual(0);

      const performance = PerformanceHealthResponse.parse(await get<Performance>(t, '/health/performance'));
      expect(performance).toMatchObject({ queuedMessages: 0, activeMessages: 0, acceptedMessages: 0, processedMessages: 0, failedMessages: 0, averageProcessingTimeMs: null });
      expect(performance.webhooks).toEqual({ queued: 0, delivered: 0, failedAttempts: 0, dead: 0, latencyMs: { count: 0, mean: null, p50: null, p99: null } });
      expect(Date.parse(performance.since)).toBeLessThanOrEqual(Date.now());

      const one = SessionHealthResponse.parse(await get<SessionHealth>(t, '/health/sessions/ready1'));
      expect(one).toMatchObject({ id: 'ready1', engine: 'simulator', status: 'ready', healthy: true, queuedMessages: 0, activeMessages: 0, lastError: null, recentErrors: [], resources: { collected: false } });
      expect(one.uptime).toBeGreaterThanOrEqual(0);
      expect(Date.parse(one.lastEventAt ?? '')).toBeGreaterThanOrEqual(Date.parse(one.connectedAt ?? ''));
      expect(await get(t, '/health/sessions/qr1')).toMatchObject({ status: 'qr', healthy: false, uptime: null, connectedAt: null });
      expect(await get(t, '/health/sessions/off1')).toMatchObject({ status: 'stopped', healthy: false, lastEventAt: null });

      const missing = await t.app.inject({ url: '/health/sessions/nope', headers: AUTH });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ statusCode: 404, code: 'SESSION_NOT_FOUND', error: 'Not Found', message: "Session 'nope' does not exist", details: [] });
    });

    it('counts sends processed and failed through the simulator, with processing time and accepted → sent latency', async () => {
      t = await startTestApp({ mode, env: { SEND_RETRY_DELAY: '20ms' } });
      const log = new MessageStatusLog(t.app.gateway.bus);
      try {
        await readySession(t, 's1');
        const faults = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/s1/simulator/faults', headers: AUTH, payload: { failNextSends: 1 } });
        expect(faults.statusCode, faults.body).toBe(200);
        const retried = await accepted(t, 's1', text('5511911112222', 'first try fails'));
        const good = await accepted(t, 's1', text('5511933334444'));
        const notOnWhatsApp = await accepted(t, 's1', text('5511955550000'));
        await log.allReach([retried.id, good.id], ['sent']);
        await log.status(notOnWhatsApp.id, 'failed');

        const performance = await get<Performance>(t, '/health/performance');
        expect(performance).toMatchObject({ acceptedMessages: 3, processedMessages: 2, failedMessages: 1 });
        // Jobs that ended: the two sent and the failed one (the failed attempt returned `retry`).
        expect(performance.processingTimeMs.count).toBe(3);
        expect(performance.averageProcessingTimeMs).toBe(performance.processingTimeMs.mean);
        expect(performance.averageProcessingTimeMs).toBeGreaterThan(0);
        expect(performance.sendLatencyMs.count).toBe(2);
        // The retried send waited for its retry delay before it was sent.
        expect(performance.sendLatencyMs.p99).toBeGreaterThanOrEqual(20);

        const one = await get<SessionHealth>(t, '/health/sessions/s1');
        expect(one.recentErrors).toEqual([{ source: 'send', code: 'NUMBER_NOT_ON_WHATSAPP', message: '5511955550000 is not on WhatsApp', at: expect.any(String) as unknown, ref: notOnWhatsApp.id }]);
        expect(one.stats).toMatchObject({ sent: 2, failed: 1 });
      } finally {
        log.close();
      }
    });

    it('refreshes the snapshot on HEALTH_CHECK_INTERVAL: queue depths follow queued sends', async () => {
      t = await startTestApp({ mode, env: { HEALTH_CHECK_INTERVAL: '100ms' } });
      const log = new MessageStatusLog(t.app.gateway.bus);
      try {
        const before = (await get<Detailed>(t, '/health/detailed')).checkedAt;
        const next = await checkWhere(t, () => true);
        expect(next.checks).toBeGreaterThan(1);
        const after = (await get<Detailed>(t, '/health/detailed')).checkedAt;
        expect(Date.parse(after ?? '')).toBeGreaterThan(Date.parse(before ?? ''));

        // Waiting for its QR scan: sends are accepted and wait (the first one holds its lane).
        await t.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'q1' } });
        await t.app.gateway.sessions.waitForStatus('q1', ['qr'], 2_000);
        const first = await accepted(t, 'q1', text('5511911112222'));
        const second = await accepted(t, 'q1', text('5511933334444'));
        const live = await get<SessionHealth>(t, '/health/sessions/q1');
        expect((live.queuedMessages ?? 0) + (live.activeMessages ?? 0)).toBe(2);
        await checkWhere(t, (s) => s.sendQueue.counts?.waiting === 1 && s.sendQueue.counts.active === 1);
        expect(await get(t, '/health/performance')).toMatchObject({ queuedMessages: 1, activeMessages: 1, acceptedMessages: 2, processedMessages: 0 });
        expect((await get<Detailed>(t, '/health/detailed')).components.sendQueue.details).toMatchObject({ waiting: 1, active: 1 });

        await t.app.inject({ method: 'POST', url: '/api/v1/sessions/q1/simulator/scan', headers: AUTH, payload: {} });
        await log.allReach([first.id, second.id], ['sent']);
        await checkWhere(t, (s) => s.sendQueue.counts?.waiting === 0 && s.sendQueue.counts.active === 0);
        expect(await get(t, '/health/performance')).toMatchObject({ queuedMessages: 0, activeMessages: 0, processedMessages: 2 });
      } finally {
        log.close();
      }
    });
  });

  it('reports the event-loop delay of the last check interval: a blocked loop shows in max', async () => {
    t = await startTestApp({ env: { HEALTH_CHECK_INTERVAL: '100ms' } });
    const blockLoop = (ms: number): void => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // Busy: the event loop cannot turn.
      }
    };
    // Blocked inside a window (not at its start: the sampler's first tick after a reset only starts measuring).
    await checkWhere(t, (s) => {
      if ((s.eventLoop.max ?? 0) >= 50) return true;
      setTimeout(() => blockLoop(60), 25);
      return false;
    });
    const { eventLoopDelayMs } = await get<Performance>(t, '/health/performance');
    expect(eventLoopDelayMs.max).toBeGreaterThanOrEqual(50);
    expect(eventLoopDelayMs.windowMs).toBeGreaterThanOrEqual(100);
    expect(eventLoopDelayMs.p50).toBeLessThanOrEqual(eventLoopDelayMs.max ?? 0);
  });

  it('reports webhook attempts and their latency after deliveries to a real receiver; the app URL shows without its query', async () => {
    // Each event's first attempt is answered 500, the second 200.
    receiver = await WebhookReceiver.start((_request, nth) => ({ status: nth === 1 ? 500 : 200 }));
    const appUrl = `${receiver.url('/app')}?token=s3cret-token`;
    t = await startTestApp({ env: webhookEnv(receiver, { APP_WEBHOOK_URL: appUrl, WEBHOOK_RETRY_SCHEDULE: '0,20ms' }) });
    await readySession(t, 'w1');
    inbound(t, 'w1', 'one');
    inbound(t, 'w1', 'two');
    await receiver.delivered('/app?token=s3cret-token', 2, 'message');
    const performance = await eventually(async () => {
      const body = await get<Performance>(t as TestApp, '/health/performance');
      return body.webhooks.delivered === 2 ? body : null;
    });
    expect(performance.webhooks).toMatchObject({ delivered: 2, failedAttempts: 2, dead: 0 });
    expect(performance.webhooks.latencyMs.count).toBe(4);
    expect(performance.webhooks.latencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(performance.webhooks.latencyMs.p99).toBeGreaterThanOrEqual(performance.webhooks.latencyMs.p50 ?? Infinity);

    const one = await get<SessionHealth>(t, '/health/sessions/w1');
    expect(one.recentErrors.map((e) => [e.source, e.code, e.message])).toEqual([
      ['webhook', 'HTTP_ERROR', 'HTTP 500'],
      ['webhook', 'HTTP_ERROR', 'HTTP 500'],
    ]);

    const res = await t.app.inject({ url: '/health/detailed', headers: AUTH });
    expect(res.body).not.toContain('s3cret');
    expect(res.json<Detailed>().components.webhookQueue.details).toMatchObject({ appTarget: { url: receiver.url('/app'), disabled: false }, delivered: 2, failedAttempts: 2 });
  });

  it('turns degraded when a session fails or the app webhook is disabled by a 410, with the reason in the session health', async () => {
    receiver = await WebhookReceiver.start(() => ({ status: 410 }));
    t = await startTestApp({ env: webhookEnv(receiver) });
    await readySession(t, 'ok1');
    await readySession(t, 'banned', '5511966665555');
    const disconnect = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/banned/simulator/disconnect', headers: AUTH, payload: { reason: 'TOS_BLOCK' } });
    expect(disconnect.statusCode, disconnect.body).toBe(202);
    await t.app.gateway.sessions.waitForStatus('banned', ['failed'], 2_000);

    const detailed = await get<Detailed>(t, '/health/detailed');
    expect(detailed.status).toBe('degraded');
    expect(detailed.components.sessions).toMatchObject({ status: 'degraded', details: { failedSessions: 1, connectedSessions: 1 } });
    expect(detailed.components.webhookQueue.status).toBe('ok');
    const one = await get<SessionHealth>(t, '/health/sessions/banned');
    expect(one).toMatchObject({ status: 'failed', healthy: false, lastError: { code: 'BANNED' } });
    expect(one.recentErrors[0]).toMatchObject({ source: 'session', code: 'BANNED', ref: null });

    inbound(t, 'ok1', 'hello');
    await receiver.requests('/app', 1);
    const gone = await eventually(async () => {
      const body = await get<Detailed>(t as TestApp, '/health/detailed');
      return body.components.webhookQueue.details.appTarget?.disabled === true ? body : null;
    });
    expect(gone.components.webhookQueue).toMatchObject({ status: 'degraded', details: { dead: 1, error: expect.stringContaining('410') as unknown } });
  });

  it('answers 503 with redis down once a background check found Redis unreachable, and 200 when it is back', async () => {
    const redis = await startRedisServer();
    let restarted = redis;
    try {
      t = await startTestApp({ env: { REDIS_URL: redis.url, REDIS_PREFIX: 'health-down', HEALTH_CHECK_INTERVAL: '100ms' } });
      expect((await get<Detailed>(t, '/health/detailed')).components.redis.status).toBe('ok');
      await redis.stop();
      await checkWhere(t, (s) => s.redis.status === 'down');
      const down = await t.app.inject({ url: '/health/detailed', headers: AUTH });
      expect(down.statusCode).toBe(503);
      const body = down.json<Detailed>();
      expect(body.status).toBe('down');
      expect(body.components.redis).toMatchObject({ status: 'down', details: { mode: 'redis', latencyMs: null, error: expect.any(String) as unknown } });
      restarted = await startRedisServer({ port: redis.port });
      await checkWhere(t, (s) => s.redis.status === 'ok' && s.sendQueue.status === 'ok' && s.webhookQueue.status === 'ok');
      expect((await t.app.inject({ url: '/health/detailed', headers: AUTH })).statusCode).toBe(200);
    } finally {
      await t?.close();
      t = undefined;
      await restarted.stop();
    }
  });

  it('with PERFORMANCE_MONITORING=true collects machine CPU load, the disk of SESSIONS_PATH and engine usage', async () => {
    t = await startTestApp({ env: { PERFORMANCE_MONITORING: 'true', HEALTH_CHECK_INTERVAL: '100ms' } });
    await readySession(t, 'p1');
    // The first check ran before the session existed: take one that saw its engine.
    await checkWhere(t, (s) => s.engines !== null && s.system !== null);
    const system = SystemHealthResponse.parse(await get<System>(t, '/health/system'));
    expect(system.performanceMonitoring).toBe(true);
    expect(system.cpuUsage.collected).toBe(true);
    expect(system.cpuUsage.systemPercent).toBeGreaterThanOrEqual(0);
    expect(system.cpuUsage.systemPercent).toBeLessThanOrEqual(100);
    expect(system.diskUsage.collected).toBe(true);
    expect(system.diskUsage.sizeBytes).toBeGreaterThan(0);
    expect(resolve(t.config.sessionsPath).startsWith(system.diskUsage.mount ?? '\0')).toBe(true);
    expect(system.memoryUsage.engines).toEqual({ collected: true, processes: 0, pssBytes: 0, rssBytes: 0 });
    expect(system.collectedAt).not.toBeNull();
    expect(system.error).toBeNull();

    const detailed = await get<Detailed>(t, '/health/detailed');
    expect(detailed.performanceMonitoring).toBe(true);
    expect(detailed.components.engines.details.resources).toMatchObject({ collected: true, processes: 0, error: null });
    expect((await get<SessionHealth>(t, '/health/sessions/p1')).resources).toMatchObject({ collected: true, processes: 0 });
  });
});

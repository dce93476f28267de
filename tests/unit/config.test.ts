import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARS, ConfigError, DEFAULT_CHROME_ARGS, loadConfig } from '../../src/config.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
};

describe('config', () => {
  it('applies the contract defaults', () => {
    const c = loadConfig({ API_KEY: 'k' });
    expect(c).toMatchObject({
      port: 3001,
      host: '0.0.0.0',
      nodeEnv: 'production',
      logLevel: 'info',
      apiKeys: ['k'],
      authDisabled: false,
      redis: undefined,
      redisPrefix: 'wagw',
      defaultEngine: 'webjs',
      sessionsPath: './sessions',
      wwebjs: { authPath: './sessions/auth' },
      webhook: { appEvents: ['*'], timeoutMs: 10_000, retryScheduleMs: [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000], apiKeyHeader: 'x-28web-gateway-key' },
      health: { checkIntervalMs: 30_000, performanceMonitoring: false },
      whatsapp: { maxSessions: 10, sessionTimeoutMs: 0, qrTimeoutMs: 60_000, qrMaxRetries: 5, readyTimeoutMs: 120_000, maxReconnects: 3 },
      send: { maxAttempts: 5, ttlMs: 86_400_000, minIntervalMs: 1000, jitterMs: 2000, messageTtlMs: 30 * 86_400_000 },
      media: { maxBytes: 16_777_216, ttlMs: 86_400_000 },
      rateLimit: { max: 300, windowMs: 60_000 },
      metricsPublic: false,
      docsPublic: false,
      shutdownTimeoutMs: 25_000,
      simulator: { enabled: true, ackDelaysMs: [50, 100, 200] },
    });
    expect(c.chrome).toEqual({ executablePath: '/usr/bin/chromium', args: DEFAULT_CHROME_ARGS.split(' '), headless: true });
    expect(c.wwebjs).toEqual({ authPath: './sessions/auth', webVersion: undefined, webVersionCache: 'local', webVersionRemotePath: undefined });
    expect(Object.isFrozen(c) && Object.isFrozen(c.whatsapp)).toBe(true);
  });

  it('accepts integer milliseconds or a number with a unit for every duration', () => {
    const c = loadConfig({ API_KEY: 'k', WEBHOOK_TIMEOUT: '500ms', WHATSAPP_QR_TIMEOUT: '1500', SEND_TTL: '2h', MESSAGE_TTL: '7d', SHUTDOWN_TIMEOUT: '1.5s', SHUTDOWN_DELAY: '0.5s', WEBHOOK_RETRY_SCHEDULE: '0, 1s,2m' });
    expect([c.webhook.timeoutMs, c.whatsapp.qrTimeoutMs, c.send.ttlMs, c.send.messageTtlMs, c.shutdownTimeoutMs, c.shutdownDelayMs]).toEqual([500, 1500, 7_200_000, 604_800_000, 1500, 500]);
    expect(c.webhook.retryScheduleMs).toEqual([0, 1000, 120_000]);
  });

  it('keeps SHUTDOWN_DELAY (1 s by default) shorter than the drain share of SHUTDOWN_TIMEOUT', () => {
    expect(loadConfig({ API_KEY: 'k' }).shutdownDelayMs).toBe(1_000);
    expect(loadConfig({ API_KEY: 'k', SHUTDOWN_DELAY: '0' }).shutdownDelayMs).toBe(0);
    // 25 s: the drain gets 15 s, the close 10 s.
    expect(loadConfig({ API_KEY: 'k', SHUTDOWN_DELAY: '14.9s' }).shutdownDelayMs).toBe(14_900);
    const tooLong = problemsOf({ API_KEY: 'k', SHUTDOWN_DELAY: '15s' });
    expect(tooLong).toHaveLength(1);
    expect(tooLong[0]).toMatch(/^SHUTDOWN_DELAY: must be shorter than the drain share of SHUTDOWN_TIMEOUT \(15000 ms/);
    // 1.5 s: the drain gets 900 ms, so the default delay does not fit.
    const shortTimeout = problemsOf({ API_KEY: 'k', SHUTDOWN_TIMEOUT: '1.5s' });
    expect(shortTimeout).toHaveLength(1);
    expect(shortTimeout[0]).toMatch(/^SHUTDOWN_DELAY: .*\(900 ms/);
  });

  it('collects every invalid value, one line each naming the variable', () => {
    const problems = problemsOf({ API_KEY: 'k', PORT: 'http', WEBHOOK_TIMEOUT: 'soon', AUTH_DISABLED: 'maybe', REDIS_URL: 'not a url', DEFAULT_ENGINE: 'baileys', WEBHOOK_SECRET: 'plain', LOG_LEVEL: 'loud' });
    expect(problems).toHaveLength(7);
    for (const name of ['PORT', 'WEBHOOK_TIMEOUT', 'AUTH_DISABLED', 'REDIS_URL', 'DEFAULT_ENGINE', 'WEBHOOK_SECRET', 'LOG_LEVEL']) {
      expect(problems.filter((p) => p.startsWith(`${name}:`)), name).toHaveLength(1);
    }
    expect(problems.every((p) => !p.includes('\n'))).toBe(true);
  });

  it('refuses to start without an API key unless AUTH_DISABLED=true', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^API_KEY: no API key configured/) as unknown]);
    expect(loadConfig({ AUTH_DISABLED: 'true' }).apiKeys).toEqual([]);
    expect(loadConfig({ API_KEY: 'a', API_KEYS: 'b, c,,' }).apiKeys).toEqual(['a', 'b', 'c']);
  });

  it('lists every variable in .env.example (with its default) and in the README', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const [name, spec] of Object.entries(CONFIG_VARS)) {
      const line = example.split('\n').find((l) => new RegExp(`^#?\\s*${name}=`).test(l));
      expect(line, `.env.example lacks ${name}`).toBeDefined();
      if ('default' in spec) expect(line, name).toBe(`${name}=${spec.default}`);
      expect(readme, `README lacks ${name}`).toContain(name);
    }
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { buildApp, type BuildOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';

export const TEST_API_KEY = 'test-key-0123456789';
export const AUTH = { 'x-api-key': TEST_API_KEY } as const;

export type StorageMode = 'memory' | 'redis';
export const STORAGE_MODES: readonly StorageMode[] = ['memory', 'redis'];

export interface TestEnvOptions {
  mode?: StorageMode;
  env?: Record<string, string>;
  /** Reuse a sessions dir / Redis prefix (restart tests). */
  sessionsPath?: string;
  redisPrefix?: string;
}

/** A config for tests: simulator by default, silent logs, its own sessions dir and Redis prefix. */
export async function testConfig(options: TestEnvOptions = {}): Promise<Config> {
  const sessionsPath = options.sessionsPath ?? (await mkdtemp(join(tmpdir(), 'wagw-sessions-')));
  const env: Record<string, string> = {
    API_KEY: TEST_API_KEY,
    LOG_LEVEL: 'silent',
    SESSIONS_PATH: sessionsPath,
    DEFAULT_ENGINE: 'simulator',
    SIMULATOR_ACK_DELAYS_MS: '5,10,15',
    WHATSAPP_MAX_SESSIONS: '100',
    RATE_LIMIT_MAX: '100000',
    // No pacing unless a test asks for it.
    SEND_MIN_INTERVAL_MS: '0',
    SEND_JITTER_MS: '0',
    // No load shedding unless a test asks for it: parallel test files on 2 cores stall event loops
    // past the default 1 s now and then, which would turn an unrelated answer into 503 OVERLOADED.
    UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: '0',
    ...(options.mode === 'redis' ? { REDIS_URL: inject('redisUrl'), REDIS_PREFIX: options.redisPrefix ?? `t${randomBytes(6).toString('hex')}` } : {}),
    ...options.env,
  };
  return loadConfig(env);
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  close(): Promise<void>;
}

/** Builds and readies the real app (no listening; use app.inject). */
export async function startTestApp(options: TestEnvOptions = {}, build: BuildOptions = {}): Promise<TestApp> {
  const config = await testConfig(options);
  const app = await buildApp(config, build);
  await app.ready();
  return {
    app,
    config,
    close: async () => {
      await app.close();
      if (!options.sessionsPath) await rm(config.sessionsPath, { recursive: true, force: true });
    },
  };
}

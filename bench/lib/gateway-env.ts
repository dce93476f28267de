/** Environment of a gateway started by a benchmark: the contract's variables only, nothing inherited but PATH/HOME. */

export const BENCH_API_KEY = 'bench-key-0123456789abcdef';

export interface GatewayEnvOptions {
  sessionsPath: string;
  redis?: { url: string; prefix: string } | undefined;
  extra?: Record<string, string> | undefined;
}

/** A clean env: no REDIS_URL unless asked (embedded mode), silent logs, simulator by default. */
export function gatewayEnv(options: GatewayEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    API_KEY: BENCH_API_KEY,
    LOG_LEVEL: 'silent',
    SESSIONS_PATH: options.sessionsPath,
    DEFAULT_ENGINE: 'simulator',
    WHATSAPP_MAX_SESSIONS: '2000',
    RATE_LIMIT_MAX: '10000000',
    ...options.extra,
  };
  if (options.redis) {
    env.REDIS_URL = options.redis.url;
    env.REDIS_PREFIX = options.redis.prefix;
  }
  return env;
}

import { z } from 'zod';
import { parseDuration } from './duration.js';
import { closeReserveMs } from './lifecycle/graceful-shutdown.js';
import { isValidWebhookSecret } from './webhooks/webhook-signer.js';

/**
 * The one place that reads `process.env`. Every variable of the contract is declared here with its
 * default and a one-line description; `.env.example` and the README's table list the same names
 * (a test keeps them in step).
 */

const duration = (name: string) =>
  z.string().transform((raw, ctx) => {
    const ms = parseDuration(raw);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `${name}: '${raw}' is not a duration (e.g. 500ms, 5s, 5m, 2h, 30d or integer ms)` });
      return z.NEVER;
    }
    return ms;
  });

const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `${name}: '${raw}' must be an integer from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

const bool = (name: string) =>
  z.string().transform((raw, ctx) => {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no', ''].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: `${name}: '${raw}' must be true or false` });
    return z.NEVER;
  });

const list = () =>
  z.string().transform((raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

const durationList = (name: string) =>
  z.string().transform((raw, ctx) => {
    const out: number[] = [];
    for (const part of raw.split(',')) {
      const ms = parseDuration(part);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `${name}: '${part.trim()}' is not a duration` });
        return z.NEVER;
      }
      out.push(ms);
    }
    return out;
  });

const url = (name: string) =>
  z.string().transform((raw, ctx) => {
    try {
      return new URL(raw).toString();
    } catch {
      ctx.addIssue({ code: 'custom', message: `${name}: '${raw}' is not a URL` });
      return z.NEVER;
    }
  });

const oneOf = <T extends string>(name: string, values: readonly T[]) =>
  z.string().transform((raw, ctx) => {
    const v = raw.trim() as T;
    if (!values.includes(v)) {
      ctx.addIssue({ code: 'custom', message: `${name}: '${raw}' must be one of ${values.join(', ')}` });
      return z.NEVER;
    }
    return v;
  });

/**
 * The flags of the machine's Chromium recipe, plus three measured to cut a session's Chromium PSS
 * from ~376 to ~299 MB (first session) and each additional one from ~154 to ~100 MB without
 * breaking whatsapp-web.js (docs/benchmarks.md, "Chromium memory per session"): no omnibox-popup
 * WebUI renderer and no spare renderer (both useless headless), no software rasterizer (WebGL off;
 * canvas still works).
 */
/** The flags of the machine's Chromium recipe (what the benchmark calls "plain"). */
export const RECIPE_CHROME_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DEFAULT_CHROME_ARGS = [
  ...RECIPE_CHROME_ARGS,
  '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,SpareRendererForSitePerProcess',
  '--disable-software-rasterizer',
].join(' ');

interface VarSpec<T> {
  schema: z.ZodType<T, string>;
  default?: string;
  doc: string;
}
function v<T>(schema: z.ZodType<T, string>, doc: string): VarSpec<T>;
function v<T>(schema: z.ZodType<T, string>, doc: string, def: string): VarSpec<T> & { default: string };
function v<T>(schema: z.ZodType<T, string>, doc: string, def?: string): VarSpec<T> {
  return def === undefined ? { schema, doc } : { schema, doc, default: def };
}

/** Every environment variable the gateway reads, in the order `.env.example` lists them. */
export const CONFIG_VARS = {
  PORT: v(int('PORT', 0, 65535), 'HTTP port', '3001'),
  HOST: v(z.string().min(1), 'HTTP bind address', '0.0.0.0'),
  NODE_ENV: v(z.string().min(1), 'production | development | test', 'production'),
  LOG_LEVEL: v(oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'pino log level', 'info'),
  API_KEY: v(z.string(), 'API key accepted in x-api-key, x-28web-gateway-key, Authorization: Bearer or API_KEY_HEADER'),
  API_KEYS: v(list(), 'more API keys, comma-separated (rotation)'),
  API_KEY_HEADER: v(z.string().trim().toLowerCase(), 'an extra header name that carries the API key'),
  AUTH_DISABLED: v(bool('AUTH_DISABLED'), 'true runs without any key (development only; logged loudly)', 'false'),
  REDIS_URL: v(url('REDIS_URL'), 'redis://host:port/db; unset = embedded in-memory drivers'),
  REDIS_PASSWORD: v(z.string(), 'Redis password when not in REDIS_URL'),
  REDIS_PREFIX: v(z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/, 'REDIS_PREFIX: letters, digits, _ : . - only (1–64)'), 'key prefix; one gateway instance per prefix', 'wagw'),
  DATABASE_URL: v(z.string(), "seed 002's optional database: accepted and unused (the store is Redis)"),
  DEFAULT_ENGINE: v(oneOf('DEFAULT_ENGINE', ['webjs', 'simulator'] as const), 'engine of a session created without one', 'webjs'),
  CHROME_EXECUTABLE_PATH: v(z.string().min(1), 'Chromium used by whatsapp-web.js (never a downloaded browser)', '/usr/bin/chromium'),
  CHROME_ARGS: v(z.string(), 'Chromium flags, space-separated', DEFAULT_CHROME_ARGS),
  CHROME_HEADLESS: v(bool('CHROME_HEADLESS'), 'run Chromium headless (false needs a display)', 'true'),
  SESSIONS_PATH: v(z.string().min(1), 'runtime data: registry (embedded mode), auth data, inbound media', './sessions'),
  WWEBJS_AUTH_PATH: v(z.string().min(1), 'whatsapp-web.js LocalAuth data; default <SESSIONS_PATH>/auth'),
  WWEBJS_WEB_VERSION: v(z.string().min(1), 'pin a WhatsApp Web version (webVersionCache)'),
  WWEBJS_WEB_VERSION_CACHE: v(oneOf('WWEBJS_WEB_VERSION_CACHE', ['local', 'remote', 'none'] as const), 'where whatsapp-web.js keeps WhatsApp Web versions: local (under SESSIONS_PATH), remote, none', 'local'),
  WWEBJS_WEB_VERSION_REMOTE_PATH: v(z.string().min(1), 'URL template of a remote version cache (with WWEBJS_WEB_VERSION_CACHE=remote)'),
  FFMPEG_PATH: v(z.string().min(1), 'ffmpeg for video stickers'),
  APP_WEBHOOK_URL: v(url('APP_WEBHOOK_URL'), "the monolith's webhook endpoint (all sessions)"),
  APP_WEBHOOK_EVENTS: v(list(), 'events sent to APP_WEBHOOK_URL, comma-separated; * = all', '*'),
  WEBHOOK_SECRET: v(
    z.string().refine((raw) => raw.split(/[\s,]+/).filter((s) => s !== '').every(isValidWebhookSecret), 'WEBHOOK_SECRET: must be whsec_<padded standard base64> (several, space- or comma-separated, while rotating)'),
    'Standard Webhooks signing secret (whsec_<base64>); several space- or comma-separated sign with each (rotation)',
  ),
  WEBHOOK_TIMEOUT: v(duration('WEBHOOK_TIMEOUT'), 'one delivery attempt', '10s'),
  WEBHOOK_RETRY_SCHEDULE: v(durationList('WEBHOOK_RETRY_SCHEDULE'), 'delays before each attempt (with jitter)', '0,5s,5m,30m,2h,5h,10h,10h'),
  WEBHOOK_API_KEY: v(z.string(), 'static key sent with every webhook'),
  WEBHOOK_API_KEY_HEADER: v(z.string().trim().toLowerCase(), 'header carrying WEBHOOK_API_KEY', 'x-28web-gateway-key'),
  WEBHOOK_ALLOWED_HOSTS: v(list(), 'hosts allowed as webhook targets despite private addresses'),
  HEALTH_CHECK_INTERVAL: v(duration('HEALTH_CHECK_INTERVAL'), 'background health checks', '30s'),
  PERFORMANCE_MONITORING: v(bool('PERFORMANCE_MONITORING'), 'turn on the costlier collectors', 'false'),
  WHATSAPP_MAX_SESSIONS: v(int('WHATSAPP_MAX_SESSIONS', 1), 'sessions this instance holds', '10'),
  WHATSAPP_SESSION_TIMEOUT: v(duration('WHATSAPP_SESSION_TIMEOUT'), 'stop a session idle this long (auth kept); 0 = never', '0'),
  WHATSAPP_QR_TIMEOUT: v(duration('WHATSAPP_QR_TIMEOUT'), 'advertised life of one QR code', '60s'),
  WHATSAPP_QR_MAX_RETRIES: v(int('WHATSAPP_QR_MAX_RETRIES', 1, 100), 'QR codes shown before the session fails with QR_TIMEOUT', '5'),
  WHATSAPP_READY_TIMEOUT: v(duration('WHATSAPP_READY_TIMEOUT'), 'from scan (or restore) to ready; past it the client restarts', '120s'),
  WHATSAPP_MAX_RECONNECTS: v(int('WHATSAPP_MAX_RECONNECTS', 0, 1000), 'reconnect attempts before failed', '3'),
  WHATSAPP_RECONNECT_DELAY: v(duration('WHATSAPP_RECONNECT_DELAY'), 'first reconnect delay; doubles each attempt, capped at 5m', '2s'),
  SEND_MAX_ATTEMPTS: v(int('SEND_MAX_ATTEMPTS', 1, 100), 'attempts of one send', '5'),
  SEND_TTL: v(duration('SEND_TTL'), 'a send not possible by then fails SEND_EXPIRED', '24h'),
  SEND_MIN_INTERVAL_MS: v(int('SEND_MIN_INTERVAL_MS', 0), 'minimum gap between two sends of a session', '1000'),
  SEND_JITTER_MS: v(int('SEND_JITTER_MS', 0), 'random extra gap between two sends', '2000'),
  SEND_RETRY_DELAY: v(duration('SEND_RETRY_DELAY'), 'first retry delay of a failed send, doubling per attempt (capped at 5 min)', '2s'),
  SEND_TYPING_MS: v(int('SEND_TYPING_MS', 0, 25_000), 'show typing this long before a text send (0 = off)', '0'),
  MESSAGE_TTL: v(duration('MESSAGE_TTL'), 'message record retention in Redis', '30d'),
  MEDIA_MAX_BYTES: v(int('MEDIA_MAX_BYTES', 1), 'media size cap', '16777216'),
  MEDIA_ALLOWED_HOSTS: v(list(), 'hosts allowed as media URLs despite private addresses'),
  MEDIA_TTL: v(duration('MEDIA_TTL'), 'inbound media kept this long', '24h'),
  MEDIA_STORE_MAX_BYTES: v(int('MEDIA_STORE_MAX_BYTES', 0), 'bound on the inbound media kept on disk (0 = no bound); past it new media is not stored', '2147483648'),
  RATE_LIMIT_MAX: v(int('RATE_LIMIT_MAX', 1), 'requests per key (or IP) per window', '300'),
  RATE_LIMIT_WINDOW: v(duration('RATE_LIMIT_WINDOW'), 'rate-limit window', '1m'),
  METRICS_PUBLIC: v(bool('METRICS_PUBLIC'), '/metrics without a key', 'false'),
  DOCS_PUBLIC: v(bool('DOCS_PUBLIC'), '/docs without a key', 'false'),
  SHUTDOWN_TIMEOUT: v(duration('SHUTDOWN_TIMEOUT'), 'graceful shutdown bound: drain, then close; a hard exit (code 1) past it', '25s'),
  SHUTDOWN_DELAY: v(duration('SHUTDOWN_DELAY'), 'after a signal, keep listening at least this long (readiness 503, new work 503 SHUTTING_DOWN) even with nothing to drain, so that clients still routed here get a 503, not a refused connection; shorter than the drain share of SHUTDOWN_TIMEOUT', '1s'),
  UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY: v(duration('UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY'), 'mean event-loop delay over one sample above which requests get 503 OVERLOADED; 0 = off', '1s'),
  UNDER_PRESSURE_MAX_HEAP_BYTES: v(int('UNDER_PRESSURE_MAX_HEAP_BYTES', 0), 'V8 heap used above which requests get 503 OVERLOADED; 0 = off', '0'),
  UNDER_PRESSURE_MAX_RSS_BYTES: v(int('UNDER_PRESSURE_MAX_RSS_BYTES', 0), 'resident memory of the Node process (not Chromium) above which requests get 503 OVERLOADED; 0 = off', '0'),
  UNDER_PRESSURE_SAMPLE_INTERVAL: v(duration('UNDER_PRESSURE_SAMPLE_INTERVAL'), 'how often the event-loop delay and memory are sampled', '1s'),
  UNDER_PRESSURE_RETRY_AFTER: v(duration('UNDER_PRESSURE_RETRY_AFTER'), 'Retry-After of a 503 OVERLOADED (rounded up to whole seconds)', '10s'),
  SIMULATOR_ENABLED: v(bool('SIMULATOR_ENABLED'), 'allow engine "simulator"', 'true'),
  SIMULATOR_ACK_DELAYS_MS: v(durationList('SIMULATOR_ACK_DELAYS_MS'), 'simulated server,device,read ack delays', '50,100,200'),
} as const;

type Vars = typeof CONFIG_VARS;
export type ConfigVarName = keyof Vars;
type Parsed<K extends ConfigVarName> = Vars[K] extends VarSpec<infer T> ? T : never;
type WithDefault<K extends ConfigVarName> = Vars[K] extends { default: string } ? Parsed<K> : Parsed<K> | undefined;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly nodeEnv: string;
  readonly logLevel: WithDefault<'LOG_LEVEL'>;
  readonly apiKeys: readonly string[];
  readonly apiKeyHeader: string | undefined;
  readonly authDisabled: boolean;
  readonly redis: { readonly url: string; readonly password: string | undefined; readonly prefix: string } | undefined;
  readonly redisPrefix: string;
  readonly databaseUrl: string | undefined;
  readonly defaultEngine: WithDefault<'DEFAULT_ENGINE'>;
  readonly chrome: { readonly executablePath: string; readonly args: readonly string[]; readonly headless: boolean };
  readonly sessionsPath: string;
  readonly wwebjs: {
    readonly authPath: string;
    readonly webVersion: string | undefined;
    readonly webVersionCache: WithDefault<'WWEBJS_WEB_VERSION_CACHE'>;
    readonly webVersionRemotePath: string | undefined;
  };
  readonly ffmpegPath: string | undefined;
  readonly webhook: {
    readonly appUrl: string | undefined;
    readonly appEvents: readonly string[];
    readonly secret: string | undefined;
    readonly timeoutMs: number;
    readonly retryScheduleMs: readonly number[];
    readonly apiKey: string | undefined;
    readonly apiKeyHeader: string;
    readonly allowedHosts: readonly string[];
  };
  readonly health: { readonly checkIntervalMs: number; readonly performanceMonitoring: boolean };
  readonly whatsapp: {
    readonly maxSessions: number;
    readonly sessionTimeoutMs: number;
    readonly qrTimeoutMs: number;
    readonly qrMaxRetries: number;
    readonly readyTimeoutMs: number;
    readonly maxReconnects: number;
    readonly reconnectDelayMs: number;
  };
  readonly send: {
    readonly maxAttempts: number;
    readonly ttlMs: number;
    readonly minIntervalMs: number;
    readonly jitterMs: number;
    readonly retryDelayMs: number;
    readonly typingMs: number;
    readonly messageTtlMs: number;
  };
  readonly media: { readonly maxBytes: number; readonly allowedHosts: readonly string[]; readonly ttlMs: number; /** MEDIA_STORE_MAX_BYTES; 0 = no bound. */ readonly storeMaxBytes: number };
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  readonly metricsPublic: boolean;
  readonly docsPublic: boolean;
  readonly shutdownTimeoutMs: number;
  /** SHUTDOWN_DELAY: the least time the server keeps listening after a signal. */
  readonly shutdownDelayMs: number;
  /** Load shedding (@fastify/under-pressure): a limit of 0 is off. */
  readonly underPressure: {
    readonly maxEventLoopDelayMs: number;
    readonly maxHeapUsedBytes: number;
    readonly maxRssBytes: number;
    readonly sampleIntervalMs: number;
    readonly retryAfterMs: number;
  };
  readonly simulator: { readonly enabled: boolean; readonly ackDelaysMs: readonly number[] };
}

/** Thrown by {@link loadConfig}; `problems` has one line per invalid variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

type RawEnv = Readonly<Record<string, string | undefined>>;

function parseAll(env: RawEnv): { values: { [K in ConfigVarName]: WithDefault<K> }; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(CONFIG_VARS) as [ConfigVarName, VarSpec<unknown>][]) {
    const given = env[name];
    const raw = given === undefined || given === '' ? spec.default : given;
    if (raw === undefined) {
      values[name] = undefined;
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (result.success) values[name] = result.data;
    else for (const issue of result.error.issues) problems.push(issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`);
  }
  return { values: values as { [K in ConfigVarName]: WithDefault<K> }, problems };
}

/** Parses and validates the environment once; throws {@link ConfigError} listing every problem. */
export function loadConfig(env: RawEnv = process.env): Config {
  const { values: e, problems } = parseAll(env);
  const apiKeys = [...(e.API_KEY ? [e.API_KEY] : []), ...(e.API_KEYS ?? [])];
  if (apiKeys.length === 0 && !e.AUTH_DISABLED && problems.length === 0) {
    problems.push('API_KEY: no API key configured (set API_KEY or API_KEYS, or AUTH_DISABLED=true for development)');
  }
  if (e.WEBHOOK_RETRY_SCHEDULE.length === 0) problems.push('WEBHOOK_RETRY_SCHEDULE: needs at least one delay');
  if (e.SIMULATOR_ACK_DELAYS_MS.length !== 3) problems.push('SIMULATOR_ACK_DELAYS_MS: needs three delays (server,device,read)');
  if (e.WWEBJS_WEB_VERSION_CACHE === 'remote' && !e.WWEBJS_WEB_VERSION_REMOTE_PATH) problems.push('WWEBJS_WEB_VERSION_REMOTE_PATH: required with WWEBJS_WEB_VERSION_CACHE=remote');
  if (e.DEFAULT_ENGINE === 'simulator' && !e.SIMULATOR_ENABLED) problems.push('DEFAULT_ENGINE: simulator is disabled by SIMULATOR_ENABLED=false');
  if (e.UNDER_PRESSURE_SAMPLE_INTERVAL < 10) problems.push('UNDER_PRESSURE_SAMPLE_INTERVAL: must be at least 10ms');
  const drainShareMs = e.SHUTDOWN_TIMEOUT - closeReserveMs(e.SHUTDOWN_TIMEOUT);
  if (e.SHUTDOWN_DELAY >= drainShareMs) problems.push(`SHUTDOWN_DELAY: must be shorter than the drain share of SHUTDOWN_TIMEOUT (${drainShareMs} ms: 60 %, or all but 10 s)`);
  if (problems.length > 0) throw new ConfigError(problems);

  const sessionsPath = e.SESSIONS_PATH;
  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    apiKeys,
    apiKeyHeader: e.API_KEY_HEADER || undefined,
    authDisabled: e.AUTH_DISABLED,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, password: e.REDIS_PASSWORD || undefined, prefix: e.REDIS_PREFIX } : undefined,
    redisPrefix: e.REDIS_PREFIX,
    databaseUrl: e.DATABASE_URL,
    defaultEngine: e.DEFAULT_ENGINE,
    chrome: { executablePath: e.CHROME_EXECUTABLE_PATH, args: e.CHROME_ARGS.split(/\s+/).filter((a) => a.length > 0), headless: e.CHROME_HEADLESS },
    sessionsPath,
    wwebjs: {
      authPath: e.WWEBJS_AUTH_PATH ?? `${sessionsPath.replace(/\/$/, '')}/auth`,
      webVersion: e.WWEBJS_WEB_VERSION,
      webVersionCache: e.WWEBJS_WEB_VERSION_CACHE,
      webVersionRemotePath: e.WWEBJS_WEB_VERSION_REMOTE_PATH,
    },
    ffmpegPath: e.FFMPEG_PATH,
    webhook: {
      appUrl: e.APP_WEBHOOK_URL,
      appEvents: e.APP_WEBHOOK_EVENTS.length > 0 ? e.APP_WEBHOOK_EVENTS : ['*'],
      secret: e.WEBHOOK_SECRET,
      timeoutMs: e.WEBHOOK_TIMEOUT,
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
      apiKey: e.WEBHOOK_API_KEY,
      apiKeyHeader: e.WEBHOOK_API_KEY_HEADER,
      allowedHosts: e.WEBHOOK_ALLOWED_HOSTS ?? [],
    },
    health: { checkIntervalMs: e.HEALTH_CHECK_INTERVAL, performanceMonitoring: e.PERFORMANCE_MONITORING },
    whatsapp: {
      maxSessions: e.WHATSAPP_MAX_SESSIONS,
      sessionTimeoutMs: e.WHATSAPP_SESSION_TIMEOUT,
      qrTimeoutMs: e.WHATSAPP_QR_TIMEOUT,
      qrMaxRetries: e.WHATSAPP_QR_MAX_RETRIES,
      readyTimeoutMs: e.WHATSAPP_READY_TIMEOUT,
      maxReconnects: e.WHATSAPP_MAX_RECONNECTS,
      reconnectDelayMs: e.WHATSAPP_RECONNECT_DELAY,
    },
    send: {
      maxAttempts: e.SEND_MAX_ATTEMPTS,
      ttlMs: e.SEND_TTL,
      minIntervalMs: e.SEND_MIN_INTERVAL_MS,
      jitterMs: e.SEND_JITTER_MS,
      retryDelayMs: e.SEND_RETRY_DELAY,
      typingMs: e.SEND_TYPING_MS,
      messageTtlMs: e.MESSAGE_TTL,
    },
    media: { maxBytes: e.MEDIA_MAX_BYTES, allowedHosts: e.MEDIA_ALLOWED_HOSTS ?? [], ttlMs: e.MEDIA_TTL, storeMaxBytes: e.MEDIA_STORE_MAX_BYTES },
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW },
    metricsPublic: e.METRICS_PUBLIC,
    docsPublic: e.DOCS_PUBLIC,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    shutdownDelayMs: e.SHUTDOWN_DELAY,
    underPressure: {
      maxEventLoopDelayMs: e.UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY,
      maxHeapUsedBytes: e.UNDER_PRESSURE_MAX_HEAP_BYTES,
      maxRssBytes: e.UNDER_PRESSURE_MAX_RSS_BYTES,
      sampleIntervalMs: e.UNDER_PRESSURE_SAMPLE_INTERVAL,
      retryAfterMs: e.UNDER_PRESSURE_RETRY_AFTER,
    },
    simulator: { enabled: e.SIMULATOR_ENABLED, ackDelaysMs: e.SIMULATOR_ACK_DELAYS_MS },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

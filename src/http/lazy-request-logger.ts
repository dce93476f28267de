import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const METHOD_LEVELS: Record<LevelName, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 };
const LEVELS = new Map<string, number>([...Object.entries(METHOD_LEVELS), ['silent', Number.POSITIVE_INFINITY]]);

/**
 * A request's logger that becomes a pino child (bindings `reqId`) only when a line is written
 * through it at a level its route logs. Fastify makes one child per request, and pino serialises
 * (and redacts) the bindings at once: on the hot send route that cost more than the route's own
 * logging, which at LOG_LEVEL warn and above is nothing unless a request fails. (At info, Fastify's
 * own two lines per request — incoming, completed — make the child anyway.)
 */
class LazyRequestLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | null = null;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.real?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {
    // nothing: pino's `silent` method logs nothing either
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options);
  }

  private logger(): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings, this.options);
    return this.real;
  }

  private write(level: LevelName, args: unknown[]): void {
    if (METHOD_LEVELS[level] < (LEVELS.get(this.level) ?? 0)) return;
    const logger = this.logger();
    Reflect.apply(logger[level], logger, args);
  }
}

/** Fastify's `childLoggerFactory`: a {@link LazyRequestLogger} per request. */
export function lazyRequestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options);
}

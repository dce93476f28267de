import { pino } from 'pino';
import type { Logger } from '../../src/logger.js';
import { AwaitableLog } from './awaitable-log.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines (parsed) are kept and can be awaited — to see what the gateway logged. */
export class LogCapture extends AwaitableLog<LogLine> {
  readonly logger: Logger;

  constructor(level: pino.LevelWithSilent = 'debug') {
    super();
    this.logger = pino({ level }, { write: (line: string) => this.record(JSON.parse(line) as LogLine) });
  }

  protected summary(): string {
    return this.events.map((l) => l.msg).join(' | ');
  }

  /** The first line whose message includes `text`, waiting for it. */
  async line(text: string, timeoutMs = 5_000): Promise<LogLine> {
    return this.until(() => this.events.find((l) => l.msg.includes(text)), timeoutMs, `a log line with "${text}"`);
  }

  lines(text: string): LogLine[] {
    return this.events.filter((l) => l.msg.includes(text));
  }
}

import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { lazyRequestLogger } from '../../src/http/lazy-request-logger.js';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

interface Harness {
  app: FastifyInstance;
  lines: Record<string, unknown>[];
  /** Children made of the app's logger so far (one per request that logged something). */
  children: () => number;
}

async function harness(level: string): Promise<Harness> {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line: unknown = JSON.parse(chunk.toString());
      // Fastify's own per-request lines are not what these tests look at.
      if (isRecord(line) && line.msg !== 'incoming request' && line.msg !== 'request completed') lines.push(line);
      done();
    },
  });
  let made = 0;
  const logger: FastifyBaseLogger = pino(
    {
      level,
      onChild: () => {
        made += 1;
      },
    },
    stream,
  );
  const app = Fastify({ loggerInstance: logger, childLoggerFactory: lazyRequestLogger });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/info', async (request) => {
    request.log.info({ thing: 1 }, 'info line');
    return { ok: true };
  });
  app.get('/warn', async (request) => {
    request.log.warn('warn line');
    return { level: request.log.level };
  });
  app.get('/strict', { logLevel: 'error' }, async (request) => {
    request.log.warn('not at this route');
    request.log.error('error line');
    return { level: request.log.level };
  });
  app.get('/child', async (request) => {
    request.log.child({ part: 'nested' }).warn('from a child');
    return { ok: true };
  });
  await app.ready();
  // Fastify makes children of its own while starting: count from here.
  const base = made;
  return { app, lines, children: () => made - base };
}

describe('lazy request logger', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });
  const open = async (level: string): Promise<Harness> => {
    const h = await harness(level);
    apps.push(h.app);
    return h;
  };

  it('makes no pino child for a request that logs nothing at an enabled level', async () => {
    const h = await open('warn');
    await h.app.inject({ url: '/quiet' });
    await h.app.inject({ url: '/info' });
    expect(h.children()).toBe(0);
    expect(h.lines).toEqual([]);
  });

  it('writes an enabled line through a child bound to the request id, with its fields', async () => {
    const h = await open('info');
    const reply = await h.app.inject({ url: '/info' });
    expect(reply.statusCode).toBe(200);
    expect(h.children()).toBe(1);
    expect(h.lines).toHaveLength(1);
    expect(h.lines[0]).toMatchObject({ level: 30, msg: 'info line', thing: 1 });
    expect(typeof h.lines[0]?.reqId).toBe('string');
  });

  it('follows the route log level: lines below it are dropped, the level is reported', async () => {
    const h = await open('info');
    const strict = await h.app.inject({ url: '/strict' });
    expect(strict.json()).toEqual({ level: 'error' });
    const warn = await h.app.inject({ url: '/warn' });
    expect(warn.json()).toEqual({ level: 'info' });
    expect(h.lines.map((l) => l.msg)).toEqual(['error line', 'warn line']);
    expect(new Set(h.lines.map((l) => l.reqId)).size).toBe(2);
  });

  it('gives children of the request logger the request id too', async () => {
    const h = await open('info');
    await h.app.inject({ url: '/child' });
    expect(h.lines).toHaveLength(1);
    expect(h.lines[0]).toMatchObject({ msg: 'from a child', part: 'nested' });
    expect(typeof h.lines[0]?.reqId).toBe('string');
  });
});

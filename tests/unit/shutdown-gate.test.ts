import { request as httpRequest, type IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/http/error-handler.js';
import { InFlightRequests, shutdownGate } from '../../src/lifecycle/shutdown-gate.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}
const deferred = (): Deferred => {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/** A real listening Fastify with the gate: a slow route, a hijacked stream, a work route and an open probe. */
async function gatedServer() {
  const inFlight = new InFlightRequests();
  const state = { shuttingDown: false };
  const slowEntered = deferred();
  const slowRelease = deferred();
  // undici opens a spare connection after an aborted fetch; closing must not wait for it.
  const app: FastifyInstance = Fastify({ logger: false, return503OnClosing: false, forceCloseConnections: true });
  await app.register(errorHandler);
  await app.register(shutdownGate, { inFlight, isShuttingDown: () => state.shuttingDown });
  app.get('/slow', async () => {
    slowEntered.resolve();
    await slowRelease.promise;
    return { done: true };
  });
  app.post('/work', async () => ({ accepted: true }));
  app.get('/health/ready', { config: { public: true } }, async () => ({ status: 'ready' }));
  app.get('/stream', async (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write(': connected\n\n');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, inFlight, state, slowEntered, slowRelease, base: `http://127.0.0.1:${port}`, port };
}

/** Opens a GET whose response headers have arrived (the body may stay open). */
function openGet(port: number, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, resolve);
    req.on('error', reject);
    req.end();
  });
}

describe('shutdown gate and in-flight requests', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('refuses new work with 503 SHUTTING_DOWN while listening, answers the open probes, and is idle once the requests in flight are answered — streams not counted', async () => {
    const s = await gatedServer();
    app = s.app;
    const stream = await openGet(s.port, '/stream');
    expect(stream.headers['content-type']).toBe('text/event-stream');
    const slow = fetch(`${s.base}/slow`);
    await s.slowEntered.promise;
    expect(s.inFlight.count).toBe(1);

    s.state.shuttingDown = true;
    let idle: boolean | null = null;
    const idled = s.inFlight.idle(new AbortController().signal).then((result) => (idle = result));

    const refused = await fetch(`${s.base}/work`, { method: 'POST' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({
      statusCode: 503,
      code: 'SHUTTING_DOWN',
      error: 'Service Unavailable',
      message: 'The gateway is shutting down; retry on another instance',
      details: [],
    });
    const probe = await fetch(`${s.base}/health/ready`);
    expect(probe.status).toBe(200);
    expect(probe.headers.get('connection')).toBe('close');
    expect(idle).toBeNull();

    s.slowRelease.resolve();
    const answered = await slow;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ done: true });
    // The request in flight before the signal still finishes normally, and its connection is not kept.
    expect(answered.headers.get('connection')).toBe('close');
    await idled;
    expect(idle).toBe(true);
    expect(s.inFlight.count).toBe(0);
    stream.destroy();
  });

  it('gives up waiting when the signal aborts', async () => {
    const s = await gatedServer();
    app = s.app;
    const slow = fetch(`${s.base}/slow`);
    await s.slowEntered.promise;
    const budget = new AbortController();
    const idle = s.inFlight.idle(budget.signal);
    budget.abort();
    expect(await idle).toBe(false);
    s.slowRelease.resolve();
    expect((await slow).status).toBe(200);
    expect(await s.inFlight.idle(new AbortController().signal)).toBe(true);
  });

  it('stops counting a request whose client went away', async () => {
    const s = await gatedServer();
    app = s.app;
    const client = new AbortController();
    const slow = fetch(`${s.base}/slow`, { signal: client.signal }).catch((error: unknown) => error);
    await s.slowEntered.promise;
    expect(s.inFlight.count).toBe(1);
    const idle = s.inFlight.idle(new AbortController().signal);
    client.abort();
    expect(await idle).toBe(true);
    await slow;
    s.slowRelease.resolve();
  });

  it('counts requests in flight across waves that reuse the freed places', async () => {
    const inFlight = new InFlightRequests();
    const waves = Fastify({ logger: false });
    app = waves;
    let entered = 0;
    let allIn = deferred();
    let release = deferred();
    const size = { wave: 0 };
    await waves.register(errorHandler);
    await waves.register(shutdownGate, { inFlight, isShuttingDown: () => false });
    waves.get('/hold', async () => {
      entered += 1;
      if (entered === size.wave) allIn.resolve();
      await release.promise;
      return { ok: true };
    });
    await waves.listen({ port: 0, host: '127.0.0.1' });
    const address = waves.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    for (const wave of [30, 5, 40]) {
      entered = 0;
      size.wave = wave;
      allIn = deferred();
      release = deferred();
      const responses = Array.from({ length: wave }, () => openGet(port, '/hold'));
      await allIn.promise;
      expect(inFlight.count).toBe(wave);
      release.resolve();
      const answered = await Promise.all(responses);
      expect(answered.map((r) => r.statusCode)).toEqual(Array.from({ length: wave }, () => 200));
      await Promise.all(answered.map((r) => new Promise((resolve) => r.resume().on('end', resolve))));
      expect(await inFlight.idle(new AbortController().signal)).toBe(true);
      expect(inFlight.count).toBe(0);
    }
  });
});

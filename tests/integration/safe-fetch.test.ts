import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaFetchError, type MediaFetchErrorCode } from '../../src/media/media-errors.js';
import { mediaFetchOptions, safeFetch, type SafeFetchOptions } from '../../src/media/safe-fetch.js';
import type { ResolvedAddress } from '../../src/media/url-guard.js';

/**
 * Real node:http servers on 127.0.0.1. Loopback is refused by design, so the positive cases
 * allow the test host through the allow-list; the refusal cases run without it.
 */

interface SeenRequest {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

interface TestServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly requests: SeenRequest[];
}

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

const servers: Server[] = [];

async function startServer(handler: Handler): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    void Promise.resolve(handler(req, res)).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, origin: `http://127.0.0.1:${port}`, requests };
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** Resolves when the response's connection is gone; tells whether the body was sent completely. */
function closed(res: ServerResponse): Promise<{ finished: boolean }> {
  return new Promise((resolve) => res.once('close', () => resolve({ finished: res.writableFinished })));
}

/** Writes `total` bytes in 16 KiB chunks, honouring backpressure; stops when the connection closes. */
async function streamBytes(res: ServerResponse, total: number, progress: { written: number }): Promise<void> {
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  while (progress.written < total && !res.destroyed) {
    const ok = res.write(chunk);
    progress.written += chunk.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}

async function fetchError(promise: Promise<unknown>): Promise<MediaFetchError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof MediaFetchError)) throw new Error(`expected a MediaFetchError, got ${String(error)}`);
  return error;
}

async function expectCode(promise: Promise<unknown>, code: MediaFetchErrorCode): Promise<MediaFetchError> {
  const error = await fetchError(promise);
  expect(error.code).toBe(code);
  return error;
}

const LOCAL: SafeFetchOptions = { maxBytes: 1024 * 1024, allowedHosts: ['127.0.0.1'] };
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('safeFetch: fetching', () => {
  it('returns the body, the mimetype without parameters, a filename from the URL path and the size', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'Image/PNG; charset=binary' });
      res.end(PNG);
    });
    const media = await safeFetch(`${server.origin}/pics/My%20Photo.png?x=1`, LOCAL);
    expect(media).toEqual({ data: PNG, mimetype: 'image/png', filename: 'My Photo.png', size: PNG.length });
    expect(server.requests.map((r) => r.url)).toEqual(['/pics/My%20Photo.png?x=1']);
    expect(server.requests[0]?.headers.host).toBe(`127.0.0.1:${server.port}`);
  });

  it('takes the filename from Content-Disposition (filename*, quoted, token; base name only)', async () => {
    const dispositions: Record<string, string> = {
      '/a': `attachment; filename="report final.pdf"`,
      '/b': `attachment; filename="fallback.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`,
      '/c': 'inline; filename=plain.txt',
      '/d': 'attachment; filename="../../etc/passwd"',
    };
    const server = await startServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-disposition': dispositions[req.url ?? ''] ?? '' });
      res.end('%PDF');
    });
    const names = [];
    for (const path of ['/a', '/b', '/c', '/d']) names.push((await safeFetch(`${server.origin}${path}`, LOCAL)).filename);
    expect(names).toEqual(['report final.pdf', 'résumé.pdf', 'plain.txt', 'passwd']);
  });

  it('without Content-Type or a path segment: application/octet-stream and a null filename', async () => {
    const server = await startServer((_req, res) => {
      res.removeHeader('content-type');
      res.end('raw');
    });
    const media = await safeFetch(`${server.origin}/`, LOCAL);
    expect(media.mimetype).toBe('application/octet-stream');
    expect(media.filename).toBeNull();
    expect(media.data.toString()).toBe('raw');
  });

  it('accepts a streamed body of exactly the cap', async () => {
    const server = await startServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      await streamBytes(res, 64 * 1024, { written: 0 });
    });
    const media = await safeFetch(`${server.origin}/blob.bin`, { ...LOCAL, maxBytes: 64 * 1024 });
    expect(media.size).toBe(64 * 1024);
    expect(media.data.length).toBe(64 * 1024);
  });

  it('follows redirects (relative and absolute, every status) to an allowed host; filename from the final URL', async () => {
    const server = await startServer((req, res) => {
      const hops: Record<string, [number, string]> = {
        '/start': [301, '/two'],
        '/two': [302, 'three'],
        '/three': [303, `http://127.0.0.1:${String((req.socket.address() as AddressInfo).port)}/four`],
        '/four': [307, '/five'],
        '/five': [308, '/final/image.jpg'],
      };
      const hop = hops[req.url ?? ''];
      if (hop) {
        res.writeHead(hop[0], { location: hop[1] });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end('jpeg');
    });
    const media = await safeFetch(`${server.origin}/start`, LOCAL);
    expect(media).toMatchObject({ mimetype: 'image/jpeg', filename: 'image.jpg', size: 4 });
    expect(server.requests.map((r) => r.url)).toEqual(['/start', '/two', '/three', '/four', '/five', '/final/image.jpg']);
  });

  it('refuses a sixth redirect (at most 5 are followed)', async () => {
    const server = await startServer((req, res) => {
      const n = Number((req.url ?? '/0').slice(1));
      res.writeHead(302, { location: `/${n + 1}` });
      res.end();
    });
    const error = await expectCode(safeFetch(`${server.origin}/0`, LOCAL), 'MEDIA_FETCH_FAILED');
    expect(error.message).toMatch(/redirects/);
    expect(server.requests).toHaveLength(6);
  });

  it('fails MEDIA_FETCH_FAILED on an HTTP error status and on a redirect without Location', async () => {
    const server = await startServer((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 302;
      res.end('nope');
    });
    expect((await expectCode(safeFetch(`${server.origin}/missing`, LOCAL), 'MEDIA_FETCH_FAILED')).message).toMatch(/404/);
    await expectCode(safeFetch(`${server.origin}/nowhere`, LOCAL), 'MEDIA_FETCH_FAILED');
  });

  it('fails MEDIA_FETCH_FAILED when the connection is refused or the host does not resolve', async () => {
    const server = await startServer((_req, res) => res.end());
    const port = server.port;
    servers.splice(0).forEach((s) => s.close());
    await expectCode(safeFetch(`http://127.0.0.1:${port}/`, LOCAL), 'MEDIA_FETCH_FAILED');
    const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    const error = await expectCode(safeFetch('http://does-not-exist.invalid/', { maxBytes: 10, resolve }), 'MEDIA_FETCH_FAILED');
    expect(error.message).toMatch(/could not be resolved/);
  });

  it('the allow-list is an exact, case-insensitive host name: localhost via real DNS', async () => {
    const server = await startServer((_req, res) => res.end('ok'));
    const media = await safeFetch(`http://LocalHost:${server.port}/ok.txt`, { maxBytes: 10, allowedHosts: ['localhost'] });
    expect(media.data.toString()).toBe('ok');
    expect(server.requests[0]?.headers.host).toBe(`localhost:${server.port}`);
  });

  it('connects to the address that was resolved once: no second DNS lookup at connect time (rebinding)', async () => {
    const server = await startServer((_req, res) => res.end('pinned'));
    const answers: ResolvedAddress[][] = [[{ address: '127.0.0.1', family: 4 }], [{ address: '10.9.9.9', family: 4 }]];
    const asked: string[] = [];
    const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
      asked.push(hostname);
      return answers.shift() ?? [];
    };
    const media = await safeFetch(`http://media.test:${server.port}/f`, { maxBytes: 100, allowedHosts: ['media.test'], resolve });
    expect(media.data.toString()).toBe('pinned');
    expect(asked).toEqual(['media.test']);
    expect(server.requests[0]?.headers.host).toBe(`media.test:${server.port}`);
  });

  it('reads its options from the configuration', () => {
    expect(mediaFetchOptions({ media: { maxBytes: 5, allowedHosts: ['a.example'], ttlMs: 1, storeMaxBytes: 0 } })).toEqual({ maxBytes: 5, allowedHosts: ['a.example'] });
  });

  it('toAppError maps to the contract: 422 MEDIA_URL_FORBIDDEN, 413 MEDIA_TOO_LARGE, none for MEDIA_FETCH_FAILED', () => {
    expect(new MediaFetchError('MEDIA_URL_FORBIDDEN', 'x').toAppError()?.statusCode).toBe(422);
    expect(new MediaFetchError('MEDIA_TOO_LARGE', 'x').toAppError()?.statusCode).toBe(413);
    expect(new MediaFetchError('MEDIA_FETCH_FAILED', 'x').toAppError()).toBeUndefined();
  });
});

describe('safeFetch: SSRF refusals (no allow-list)', () => {
  it.each([
    (p: number) => `http://127.0.0.1:${p}/`,
    (p: number) => `http://localhost:${p}/`,
    (p: number) => `http://2130706433:${p}/`,
    (p: number) => `http://0x7f000001:${p}/`,
    (p: number) => `http://0177.0.0.1:${p}/`,
    (p: number) => `http://127.1:${p}/`,
    (p: number) => `http://0x7f.1:${p}/`,
    (p: number) => `http://[::ffff:127.0.0.1]:${p}/`,
    (p: number) => `http://[::ffff:7f00:1]:${p}/`,
    (p: number) => `http://[::1]:${p}/`,
    (p: number) => `http://0.0.0.0:${p}/`,
    (p: number) => `http://[::]:${p}/`,
    (p: number) => `https://127.0.0.1:${p}/`,
    () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    () => 'http://[::ffff:169.254.169.254]/latest/meta-data/',
    () => 'http://2852039166/latest/meta-data/',
    () => 'http://[fd00:ec2::254]/latest/meta-data/',
    () => 'http://metadata.google.internal/computeMetadata/v1/',
    () => 'http://100.100.100.200/latest/meta-data/',
    () => 'http://10.0.0.1/',
    () => 'http://172.16.0.1/',
    () => 'http://192.168.1.1/',
    () => 'http://100.64.0.1/',
    () => 'http://[fe80::1]/',
    () => 'http://[fc00::1]/',
    () => 'http://224.0.0.1/',
    () => 'http://255.255.255.255/',
    () => 'http://240.0.0.1/',
    (p: number) => `ftp://127.0.0.1:${p}/`,
    () => 'file:///etc/passwd',
    () => 'gopher://example.com/',
    () => 'not a url',
  ])('refuses vector #%# with MEDIA_URL_FORBIDDEN without connecting', async (vector) => {
    const server = await startServer((_req, res) => res.end('secret'));
    await expectCode(safeFetch(vector(server.port), { maxBytes: 1024 }), 'MEDIA_URL_FORBIDDEN');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a host whose DNS answer holds one private address among public ones', async () => {
    const resolve = async (): Promise<ResolvedAddress[]> => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    await expectCode(safeFetch('http://rebind.example/', { maxBytes: 10, resolve }), 'MEDIA_URL_FORBIDDEN');
  });

  it('the allow-list of one host does not cover another address of the same machine', async () => {
    const server = await startServer((_req, res) => res.end('secret'));
    await expectCode(safeFetch(`http://127.0.0.1:${server.port}/`, { maxBytes: 10, allowedHosts: ['localhost'] }), 'MEDIA_URL_FORBIDDEN');
    expect(server.requests).toHaveLength(0);
  });
});

describe('safeFetch: redirects re-checked on every hop', () => {
  it.each([
    (p: number) => `http://127.0.0.1:${p}/secret`,
    (p: number) => `http://[::ffff:127.0.0.1]:${p}/secret`,
    (p: number) => `http://0x7f000001:${p}/secret`,
    (p: number) => `http://2130706433:${p}/secret`,
    () => 'http://169.254.169.254/latest/meta-data/',
    () => 'http://[fd00:ec2::254]/latest/meta-data/',
    () => 'http://metadata.google.internal/computeMetadata/v1/',
    () => 'http://10.0.0.1/',
    () => 'file:///etc/passwd',
  ])('a redirect from an allowed host to private target #%# is refused, never requested', async (target) => {
    const server = await startServer((req, res) => {
      if (req.url === '/secret') {
        res.end('secret');
        return;
      }
      res.writeHead(302, { location: target((req.socket.address() as AddressInfo).port) });
      res.end();
    });
    const origin = `http://localhost:${server.port}`;
    await expectCode(safeFetch(`${origin}/start`, { maxBytes: 1024, allowedHosts: ['localhost'] }), 'MEDIA_URL_FORBIDDEN');
    expect(server.requests.map((r) => r.url)).toEqual(['/start']);
  });

  it('a redirect to a name that resolves to a private address is refused', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(307, { location: 'http://innocent.example/x' });
      res.end();
    });
    const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
      expect(hostname).toBe('innocent.example');
      return [{ address: '192.168.0.10', family: 4 }];
    };
    await expectCode(safeFetch(`${server.origin}/`, { ...LOCAL, resolve }), 'MEDIA_URL_FORBIDDEN');
  });
});

describe('safeFetch: size cap', () => {
  it('aborts a streamed body as soon as it passes the cap: the server sees the connection closed early', async () => {
    const total = 8 * 1024 * 1024;
    const progress = { written: 0 };
    let serverClosed: Promise<{ finished: boolean }> | undefined;
    const server = await startServer(async (_req, res) => {
      serverClosed = closed(res);
      res.writeHead(200, { 'content-type': 'video/mp4' });
      await streamBytes(res, total, progress);
    });
    const error = await expectCode(safeFetch(`${server.origin}/big.mp4`, { ...LOCAL, maxBytes: 100 * 1024 }), 'MEDIA_TOO_LARGE');
    expect(error.toAppError()?.statusCode).toBe(413);
    expect(serverClosed).toBeDefined();
    const { finished } = await (serverClosed ?? Promise.reject(new Error('no response')));
    expect(finished).toBe(false);
    expect(progress.written).toBeLessThan(total);
  });

  it('refuses a Content-Length above the cap without reading the body', async () => {
    let serverClosed: Promise<{ finished: boolean }> | undefined;
    const server = await startServer((_req, res) => {
      serverClosed = closed(res);
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(50 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
      // never finishes: only the refusal can end this exchange
    });
    const started = Date.now();
    const error = await expectCode(safeFetch(`${server.origin}/huge.png`, { ...LOCAL, maxBytes: 1024 * 1024, timeoutMs: 10_000 }), 'MEDIA_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.message).toMatch(/52428800/);
    const { finished } = await (serverClosed ?? Promise.reject(new Error('no response')));
    expect(finished).toBe(false);
  });

  it('a Content-Length that lies below the cap is still caught while streaming', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.alloc(2048));
    });
    await expectCode(safeFetch(`${server.origin}/x.png`, { ...LOCAL, maxBytes: 2047 }), 'MEDIA_TOO_LARGE');
  });
});

describe('safeFetch: timeouts and abort', () => {
  it('a slow body hits the total timeout; the connection is closed', async () => {
    let serverClosed: Promise<{ finished: boolean }> | undefined;
    const server = await startServer((_req, res) => {
      serverClosed = closed(res);
      res.writeHead(200, { 'content-type': 'audio/ogg' });
      res.write('first bytes, then nothing');
    });
    const started = Date.now();
    const error = await expectCode(safeFetch(`${server.origin}/slow.ogg`, { ...LOCAL, timeoutMs: 300 }), 'MEDIA_FETCH_FAILED');
    const elapsed = Date.now() - started;
    expect(error.message).toMatch(/timed out after 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5_000);
    expect((await (serverClosed ?? Promise.reject(new Error('no response')))).finished).toBe(false);
  });

  it('a server that never answers hits the total timeout', async () => {
    const server = await startServer(() => undefined);
    const error = await expectCode(safeFetch(`${server.origin}/silent`, { ...LOCAL, timeoutMs: 200 }), 'MEDIA_FETCH_FAILED');
    expect(error.message).toMatch(/timed out/);
  });

  it('the total timeout spans redirects', async () => {
    const server = await startServer((req, res) => {
      if (req.url === '/start') {
        res.writeHead(302, { location: '/hang' });
        res.end();
      }
    });
    const error = await expectCode(safeFetch(`${server.origin}/start`, { ...LOCAL, timeoutMs: 250 }), 'MEDIA_FETCH_FAILED');
    expect(error.message).toMatch(/timed out/);
    expect(server.requests.map((r) => r.url)).toEqual(['/start', '/hang']);
  });

  it('an aborted signal stops the fetch', async () => {
    const controller = new AbortController();
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      res.write('partial');
      controller.abort();
    });
    const error = await expectCode(safeFetch(`${server.origin}/x`, { ...LOCAL, signal: controller.signal }), 'MEDIA_FETCH_FAILED');
    expect(error.message).toMatch(/aborted/);
    await expectCode(safeFetch(`${server.origin}/x`, { ...LOCAL, signal: AbortSignal.abort() }), 'MEDIA_FETCH_FAILED');
  });
});

/**
 * The webhook-latency benchmark's receiver, in a worker thread of its own: a `node:http` server on
 * loopback that stamps when each POST's body is complete and answers 200. It runs off the
 * gateway's event loop, as the monolith's receiver does in production (before, it shared the
 * gateway's thread, and its own work delayed the deliveries it was timing).
 *
 * Times are wall-clock milliseconds with sub-millisecond resolution
 * (`performance.timeOrigin + performance.now()`), comparable with the main thread's.
 * Messages to the parent: `{ type: 'ready', port }`, then `{ type: 'received', seq, at }` on each
 * first reception; `{ type: 'stats' }` from the parent is answered with `{ type: 'stats', ... }`;
 * `{ type: 'close' }` closes the server and ends the thread.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { Webhook } from 'standardwebhooks';

interface ReceiverData {
  secret: string;
  verifyEvery: number;
}

export interface ReceiverStats {
  duplicates: number;
  unparsed: number;
  verified: number;
  verifyFailures: number;
  bodyBytes: number[];
  /** The last gateway body seen (the bare side's template). */
  sample: string | null;
}

export type ReceiverMessage = { type: 'ready'; port: number } | { type: 'received'; seq: number; at: number } | ({ type: 'stats' } & ReceiverStats);

const port = parentPort;
if (!port) throw new Error('webhook-receiver.worker.ts runs as a worker thread');
const { secret, verifyEvery } = workerData as ReceiverData;
const wh = new Webhook(secret);
const seen = new Set<number>();
const stats: ReceiverStats = { duplicates: 0, unparsed: 0, verified: 0, verifyFailures: 0, bodyBytes: [], sample: null };
const post = (message: ReceiverMessage): void => {
  port.postMessage(message);
};

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    const body = Buffer.concat(chunks).toString('utf8');
    let seq = Number.NaN;
    try {
      const envelope = JSON.parse(body) as { data?: { body?: unknown } };
      seq = Number(envelope.data?.body);
    } catch {
      // counted below
    }
    if (!Number.isSafeInteger(seq)) {
      stats.unparsed += 1;
      return;
    }
    if (seen.has(seq)) {
      stats.duplicates += 1;
      return;
    }
    seen.add(seq);
    if (stats.bodyBytes.length < 1_000) stats.bodyBytes.push(Buffer.byteLength(body));
    if (req.url === '/hook') stats.sample = body;
    if (seq % verifyEvery === 0) {
      try {
        wh.verify(body, {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
        stats.verified += 1;
      } catch {
        stats.verifyFailures += 1;
      }
    }
    post({ type: 'received', seq, at });
  });
});
server.keepAliveTimeout = 60_000;

port.on('message', (message: { type: 'stats' | 'close' }) => {
  if (message.type === 'stats') post({ type: 'stats', ...stats });
  else {
    server.closeAllConnections();
    server.close(() => {
      port.close();
    });
  }
});

server.listen(0, '127.0.0.1', () => {
  post({ type: 'ready', port: (server.address() as AddressInfo).port });
});

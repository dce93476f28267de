import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** What every QR image of the gateway uses: low error correction (WhatsApp's codes are long), a 2-module margin. */
export interface QrImageOptions {
  /** Width in pixels; default: 4 pixels per module. */
  width?: number;
}

interface Waiting {
  /** The thread rendering it: when that one dies, this render fails (not those of its successor). */
  worker: Worker;
  resolve: (image: string | Uint8Array) => void;
  reject: (error: Error) => void;
}

/**
 * The worker's code (CommonJS, evaluated): renders with `qrcode`, loaded from the path the main
 * thread resolved, so that the worker finds it whatever the working directory.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const QRCode = require(workerData.qrcode);
parentPort.on('message', (request) => {
  const options = { errorCorrectionLevel: 'L', margin: 2, ...(request.width ? { width: request.width } : {}) };
  const rendered = request.format === 'png' ? QRCode.toBuffer(request.qr, { ...options, type: 'png' }) : QRCode.toDataURL(request.qr, options);
  rendered.then(
    (image) => parentPort.postMessage({ id: request.id, image }),
    (error) => parentPort.postMessage({ id: request.id, error: String((error && error.message) || error) }),
  );
});
`;

function isReply(value: unknown): value is { id: number; image?: unknown; error?: unknown } {
  return typeof value === 'object' && value !== null && 'id' in value && typeof value.id === 'number';
}

/**
 * Renders QR codes on a worker thread. One render costs 4–6 ms of CPU (2.5 ms of it the PNG
 * encoding): on the event loop that stalls every request that long, for every QR of every session
 * waiting for its scan (docs/benchmarks.md §12). One thread for the process, started on first use;
 * it keeps the process alive while renders are in flight and not once they are done. When it dies,
 * the renders it held fail and the next render starts another.
 */
export class QrRenderer {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  /** A `data:image/png;base64,…` URL of the code. */
  async dataUrl(qr: string, options: QrImageOptions = {}): Promise<string> {
    const image = await this.render(qr, 'dataUrl', options);
    if (typeof image !== 'string') throw new Error('the QR renderer answered a data URL with bytes');
    return image;
  }

  /** The PNG bytes of the code. */
  async png(qr: string, options: QrImageOptions = {}): Promise<Buffer> {
    const image = await this.render(qr, 'png', options);
    if (typeof image === 'string') throw new Error('the QR renderer answered PNG bytes with text');
    return Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  }

  /** Stops the thread (tests: a thread that died is replaced). Renders it held fail. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private render(qr: string, format: 'dataUrl' | 'png', options: QrImageOptions): Promise<string | Uint8Array> {
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { worker, resolve, reject });
      worker.postMessage({ id, qr, format, width: options.width ?? null });
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // No execArgv of the process: the source is CommonJS, and an inherited `--input-type=module`
    // would load it the ESM way (require is not defined).
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { qrcode: createRequire(import.meta.url).resolve('qrcode') } });
    worker.on('message', (reply: unknown) => {
      if (!isReply(reply)) return;
      const waiting = this.waiting.get(reply.id);
      if (!waiting) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (typeof reply.image === 'string' || reply.image instanceof Uint8Array) waiting.resolve(reply.image);
      else waiting.reject(new Error(`rendering a QR code failed: ${String(reply.error)}`));
    });
    const gone = (error: Error): void => {
      if (this.worker === worker) this.worker = null;
      for (const [id, waiting] of this.waiting) {
        if (waiting.worker !== worker) continue;
        this.waiting.delete(id);
        waiting.reject(error);
      }
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`the QR renderer thread exited (code ${code})`)));
    // After the listeners: adding a 'message' listener refs the worker's port again, and a ref'd
    // port keeps the process alive once everything else has ended (a process that embeds the app
    // and rendered a QR code would never exit by itself). render() refs it while renders wait.
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** The process's renderer. */
export const qrRenderer = new QrRenderer();

import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { QrRenderer } from '../../src/sessions/qr-renderer.js';
import { decodeQrPng } from '../helpers/qr-decode.js';

const fromDataUrl = (url: string): Buffer => Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');

describe('QR renderer (worker thread)', () => {
  const renderer = new QrRenderer();
  afterAll(() => renderer.stop());

  it('renders data URLs and PNG bytes that a camera reads back, each render its own code', async () => {
    const codes = Array.from({ length: 8 }, (_, i) => `2@ref-${i},${'k'.repeat(43)}=,${'s'.repeat(43)}=,${i}`);
    const urls = await Promise.all(codes.map((code) => renderer.dataUrl(code)));
    expect(urls.every((url) => url.startsWith('data:image/png;base64,'))).toBe(true);
    expect(urls.map((url) => decodeQrPng(fromDataUrl(url)))).toEqual(codes);
    const png = await renderer.png(codes[0] ?? '', { width: 300 });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(decodeQrPng(png)).toBe(codes[0]);
  });

  it('renders on another thread than the event loop: the loop is idle while renders are in flight', async () => {
    // Forty renders of long texts (~5–10 ms of CPU each). Rendered on the main thread they keep its
    // event loop busy the whole time (utilization 1.0 measured); on the worker thread the main loop
    // only posts them and takes the answers (0.004 measured). Compared with a wide margin: no timing.
    const texts = Array.from({ length: 40 }, (_, i) => `2@free-loop-${i},${'x'.repeat(400)}`);
    const before = performance.eventLoopUtilization();
    const urls = await Promise.all(texts.map((text) => renderer.dataUrl(text)));
    const { utilization } = performance.eventLoopUtilization(before);
    expect(urls.map((url) => decodeQrPng(fromDataUrl(url)))).toEqual(texts);
    expect(utilization).toBeLessThan(0.5);
  });

  it('keeps a process alive while a render is in flight, and not once it is done', async () => {
    // The renderer's thread stays up for the next render; a process that embeds the app (tests,
    // benchmarks) must still end on its own. Its port was once ref'd again by a listener added
    // after unref(), and such a process never exited (the benchmark runner hung after its table);
    // unref'd with nothing else, a process waiting for a render only exited before the answer (13,
    // unsettled top-level await). The script awaits one render and then has nothing left to do.
    const script = "import { qrRenderer } from './src/sessions/qr-renderer.ts'; const url = await qrRenderer.dataUrl('2@exit,abc'); process.stdout.write(url.slice(0, 22));";
    const child = promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 20_000 });
    const { stdout } = await child;
    expect(stdout).toBe('data:image/png;base64,');
    expect(child.child.exitCode).toBe(0);
  });

  it('starts a new thread after the old one stopped, and fails the renders the old one held', async () => {
    const held = renderer.dataUrl('2@held,abc');
    await renderer.stop();
    await expect(held).rejects.toThrow(/QR renderer thread exited/);
    expect(decodeQrPng(fromDataUrl(await renderer.dataUrl('2@after,abc')))).toBe('2@after,abc');
  });
});

import { performance } from 'node:perf_hooks';
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

  it('starts a new thread after the old one stopped, and fails the renders the old one held', async () => {
    const held = renderer.dataUrl('2@held,abc');
    await renderer.stop();
    await expect(held).rejects.toThrow(/QR renderer thread exited/);
    expect(decodeQrPng(fromDataUrl(await renderer.dataUrl('2@after,abc')))).toBe('2@after,abc');
  });
});

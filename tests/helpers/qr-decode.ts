import { createRequire } from 'node:module';
import { PNG } from 'pngjs';
import type { QRCode } from 'jsqr';

// jsqr is a UMD bundle whose module.exports is the function itself (its typings say `export default`).
const jsQR = createRequire(import.meta.url)('jsqr') as (data: Uint8ClampedArray, width: number, height: number) => QRCode | null;

/** Decodes the QR code in a PNG, as a phone camera would; null when unreadable. */
export function decodeQrPng(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  const result = jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height);
  return result?.data ?? null;
}

import { join } from 'node:path';
import type { Config } from '../../config.js';

export interface WebjsEngineOptions {
  executablePath: string;
  args: readonly string[];
  headless: boolean;
  /** LocalAuth dataPath: each session keeps its Chromium profile in `<authPath>/session-<id>`. */
  authPath: string;
  webVersion: string | undefined;
  webVersionCache: { type: 'local'; path: string } | { type: 'remote'; remotePath: string } | { type: 'none' };
  qrMaxRetries: number;
  ffmpegPath: string | undefined;
  /** How long client.destroy() may take before the browser's process group is killed. */
  destroyTimeoutMs: number;
  /** How long launching Chromium may take. */
  launchTimeoutMs: number;
}

/** A desktop Chrome user agent: WhatsApp Web refuses headless ones. */
export const WEBJS_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

export function webjsOptionsFrom(config: Config): WebjsEngineOptions {
  const cache = config.wwebjs.webVersionCache;
  return {
    executablePath: config.chrome.executablePath,
    args: config.chrome.args,
    headless: config.chrome.headless,
    authPath: config.wwebjs.authPath,
    webVersion: config.wwebjs.webVersion,
    webVersionCache:
      cache === 'remote' && config.wwebjs.webVersionRemotePath
        ? { type: 'remote', remotePath: config.wwebjs.webVersionRemotePath }
        : cache === 'none'
          ? { type: 'none' }
          : { type: 'local', path: join(config.sessionsPath, 'wwebjs-cache') },
    qrMaxRetries: config.whatsapp.qrMaxRetries,
    ffmpegPath: config.ffmpegPath,
    destroyTimeoutMs: 5_000,
    launchTimeoutMs: 30_000,
  };
}

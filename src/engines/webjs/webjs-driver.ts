import type { EngineContext, EngineDriver } from '../engine.js';
import { profileDirOf, removeProfile } from './browser-profile.js';
import type { WebjsSeams } from './webjs-engine.js';
import type { WebjsEngineOptions } from './webjs-options.js';

/**
 * whatsapp-web.js sessions; their auth data is the Chromium profile LocalAuth keeps under
 * WWEBJS_AUTH_PATH. The engine module (and with it whatsapp-web.js and puppeteer) is loaded on the
 * first webjs session, so a gateway running only simulator sessions does not carry them.
 */
export function createWebjsDriver(options: WebjsEngineOptions, seams?: WebjsSeams): EngineDriver {
  return {
    name: 'webjs',
    create: async (context: EngineContext) => {
      const { WebjsEngine, realWebjsSeams } = await import('./webjs-engine.js');
      return new WebjsEngine(context, options, seams ?? realWebjsSeams);
    },
    removeAuthData: (sessionId: string) => removeProfile(profileDirOf(options.authPath, sessionId)),
  };
}

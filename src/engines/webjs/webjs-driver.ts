import type { EngineContext, EngineDriver } from '../engine.js';
import { profileDirOf, removeProfile } from './browser-profile.js';
import { WebjsEngine, realWebjsSeams, type WebjsSeams } from './webjs-engine.js';
import type { WebjsEngineOptions } from './webjs-options.js';

/** whatsapp-web.js sessions; their auth data is the Chromium profile LocalAuth keeps under WWEBJS_AUTH_PATH. */
export function createWebjsDriver(options: WebjsEngineOptions, seams: WebjsSeams = realWebjsSeams): EngineDriver {
  return {
    name: 'webjs',
    create: (context: EngineContext) => new WebjsEngine(context, options, seams),
    removeAuthData: (sessionId: string) => removeProfile(profileDirOf(options.authPath, sessionId)),
  };
}

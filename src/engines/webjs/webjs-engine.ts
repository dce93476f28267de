import type { ChildProcess } from 'node:child_process';
import puppeteer, { type Browser } from 'puppeteer';
import wwebjs from 'whatsapp-web.js';
import {
  EngineError,
  type Engine,
  type EngineChat,
  type EngineContact,
  type EngineContext,
  type EngineEvent,
  type EngineEventListener,
  type EngineResourceUsage,
  type OutboundContent,
  type PresenceState,
  type SendOptions,
  type SendResult,
} from '../engine.js';
import { EngineEventEmitter } from '../engine-event-emitter.js';
import { isExecutable, prepareProfile, profileDirOf, removeProfile } from './browser-profile.js';
import { browserMemoryOf, findBrowserProcesses, isAlive, killProcessGroup, waitUntilGone } from './process-tree.js';
import type { WebjsClient, WebjsClientOptions } from './webjs-client.js';
import { attachWebjsEvents } from './webjs-event-mapper.js';
import { WebjsOperations } from './webjs-operations.js';
import { WEBJS_USER_AGENT, type WebjsEngineOptions } from './webjs-options.js';
import { classifyStartError } from './webjs-start-errors.js';

/** How long stopping a Chromium left on a profile by a killed gateway may take before the launch gives up. */
const ORPHAN_KILL_TIMEOUT_MS = 5_000;

/** Seams for tests: the browser launcher and the whatsapp-web.js client constructor. */
export interface WebjsSeams {
  launchBrowser: (options: Parameters<typeof puppeteer.launch>[0]) => Promise<Browser>;
  createClient: (options: WebjsClientOptions) => WebjsClient;
}

export const realWebjsSeams: WebjsSeams = {
  launchBrowser: (options) => puppeteer.launch(options),
  createClient: (options) => new wwebjs.Client(options),
};

/**
 * whatsapp-web.js on the system Chromium. The gateway launches Chromium itself (so it owns the
 * process group, sees crashes and can always kill it) and lets whatsapp-web.js connect to it.
 * start() returns once the browser runs; loading WhatsApp Web goes on in the background and its
 * failure arrives as an `engine_failure` event — a hanging page can never hold the session lock.
 */
export class WebjsEngine implements Engine {
  readonly name = 'webjs' as const;
  private readonly events: EngineEventEmitter;
  private readonly operations: WebjsOperations;
  private readonly profileDir: string;
  private browser: Browser | null = null;
  private browserProcess: ChildProcess | null = null;
  private client: WebjsClient | null = null;
  private detachEvents: (() => void) | null = null;
  private ready = false;
  private stopping = false;
  private starting: Promise<void> | null = null;
  private stopped: Promise<void> | null = null;

  constructor(
    private readonly context: EngineContext,
    private readonly options: WebjsEngineOptions,
    private readonly seams: WebjsSeams = realWebjsSeams,
  ) {
    this.events = new EngineEventEmitter((error) => context.logger.error({ err: error }, 'engine event listener failed'));
    this.operations = new WebjsOperations(() => (this.ready ? this.client : null));
    this.profileDir = profileDirOf(options.authPath, context.sessionId);
  }

  onEvent(listener: EngineEventListener): () => void {
    return this.events.onEvent(listener);
  }

  /** The pid of the session's Chromium (its process group leader), while it runs. */
  get browserPid(): number | null {
    return this.browserProcess?.pid ?? null;
  }

  async start(): Promise<void> {
    if (this.browser || this.stopping || this.starting) return;
    this.starting = this.launch();
    try {
      await this.starting;
    } finally {
      this.starting = null;
    }
  }

  private async launch(): Promise<void> {
    if (!(await isExecutable(this.options.executablePath))) {
      throw new EngineError('BROWSER_NOT_FOUND', `No executable Chromium at ${this.options.executablePath} (CHROME_EXECUTABLE_PATH)`);
    }
    // A Chromium still on this profile belongs to a gateway that was killed (its process group
    // outlived it): stop it first, or two browsers would share the profile once its locks are gone.
    const orphans = await findBrowserProcesses(this.profileDir);
    if (orphans.length > 0) {
      this.context.logger.warn({ processes: orphans.length, pids: orphans.map((p) => p.pid) }, 'a Chromium left by a killed gateway still runs on this session\'s profile; stopping it before the launch');
      const left = await waitUntilGone(this.profileDir, ORPHAN_KILL_TIMEOUT_MS);
      if (left.length > 0) throw new EngineError('ENGINE_ERROR', `A Chromium left on this session's profile could not be stopped (pids ${left.map((p) => p.pid).join(', ')})`, true);
    }
    const removed = await prepareProfile(this.profileDir);
    if (removed.length > 0) this.context.logger.warn({ removed }, 'removed stale Chromium locks left by a killed browser');

    let browser: Browser;
    try {
      browser = await this.seams.launchBrowser({
        executablePath: this.options.executablePath,
        headless: this.options.headless,
        userDataDir: this.profileDir,
        args: [...this.options.args, '--disable-blink-features=AutomationControlled', `--user-agent=${WEBJS_USER_AGENT}`],
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: this.options.launchTimeoutMs,
        defaultViewport: null,
      });
    } catch (error) {
      const failure = classifyStartError(error);
      throw new EngineError(failure.code === 'WHATSAPP_UNREACHABLE' ? 'ENGINE_ERROR' : failure.code, `Chromium did not start: ${failure.message}`, failure.code !== 'BROWSER_NOT_FOUND');
    }
    this.browser = browser;
    this.browserProcess = browser.process();
    // stop() during the launch waits for it (see stop()) and then tears down what was launched.
    if (this.stopping) return;
    browser.on('disconnected', () => this.onBrowserGone());

    const client = this.seams.createClient({
      authStrategy: new wwebjs.LocalAuth({ clientId: this.context.sessionId, dataPath: this.options.authPath }),
      puppeteer: { browserWSEndpoint: browser.wsEndpoint() },
      userAgent: WEBJS_USER_AGENT,
      qrMaxRetries: this.options.qrMaxRetries,
      webVersionCache: this.options.webVersionCache,
      ...(this.options.webVersion ? { webVersion: this.options.webVersion } : {}),
      ...(this.options.ffmpegPath ? { ffmpegPath: this.options.ffmpegPath } : {}),
    });
    this.client = client;
    this.detachEvents = attachWebjsEvents(client, (event) => this.onClientEvent(event), {
      onError: (error, event) => this.context.logger.error({ err: error, event }, 'mapping a whatsapp-web.js event failed'),
    });
    client.initialize().catch((error: unknown) => this.onInitializeFailed(error));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ready = false;
    this.stopped ??= (async () => {
      await this.starting?.catch(() => undefined);
      await this.teardown();
    })();
    await this.stopped;
  }

  async logout(): Promise<void> {
    const client = this.ready ? this.client : null;
    // whatsapp-web.js closes the browser itself while logging out: that is not a crash.
    this.stopping = true;
    this.ready = false;
    if (client) {
      await withTimeout(client.logout(), this.options.destroyTimeoutMs).catch((error: unknown) =>
        this.context.logger.warn({ err: error }, 'whatsapp-web.js logout failed; removing auth data anyway'),
      );
    }
    await this.stop();
    await removeProfile(this.profileDir);
  }

  requestPairingCode(phone: string): Promise<string> {
    // Pairing is only possible before the session is linked, while the QR shows (not "ready").
    const client = this.client;
    if (!client || this.stopping) return Promise.reject(new EngineError('ENGINE_ERROR', 'The browser is not running', true));
    return new WebjsOperations(() => client).requestPairingCode(phone);
  }

  getNumberId(phone: string): Promise<string | null> {
    return this.operations.getNumberId(phone);
  }
  send(chatId: string, content: OutboundContent, options: SendOptions): Promise<SendResult> {
    return this.operations.send(chatId, content, options);
  }
  react(waMessageId: string, emoji: string): Promise<void> {
    return this.operations.react(waMessageId, emoji);
  }
  edit(waMessageId: string, text: string): Promise<void> {
    return this.operations.edit(waMessageId, text);
  }
  revoke(waMessageId: string, forEveryone: boolean): Promise<void> {
    return this.operations.revoke(waMessageId, forEveryone);
  }
  markSeen(chatId: string): Promise<void> {
    return this.operations.markSeen(chatId);
  }
  setPresence(chatId: string, state: PresenceState): Promise<void> {
    return this.operations.setPresence(chatId, state);
  }
  getContacts(): Promise<EngineContact[]> {
    return this.operations.getContacts();
  }
  getChats(): Promise<EngineChat[]> {
    return this.operations.getChats();
  }
  getProfilePictureUrl(contactId: string): Promise<string | null> {
    return this.operations.getProfilePictureUrl(contactId);
  }

  async resourceUsage(): Promise<EngineResourceUsage | null> {
    if (!this.browser) return null;
    return browserMemoryOf(this.profileDir);
  }

  // ---- internals ----------------------------------------------------------------------------

  private onClientEvent(event: EngineEvent): void {
    if (this.stopping) return;
    if (event.type === 'ready') this.ready = true;
    if (event.type === 'disconnected') this.ready = false;
    this.events.emit(event);
  }

  private onInitializeFailed(error: unknown): void {
    if (this.stopping) return;
    const failure = classifyStartError(error);
    this.context.logger.warn({ code: failure.code, reason: failure.message }, 'whatsapp-web.js failed to initialize');
    this.ready = false;
    this.events.emit({ type: 'engine_failure', code: failure.code, message: failure.message, reconnectable: failure.code !== 'BROWSER_NOT_FOUND' });
  }

  /** Chromium went away without stop(): a crash or a kill. Reconnectable (contract). */
  private onBrowserGone(): void {
    if (this.stopping) return;
    this.ready = false;
    this.context.logger.warn({ pid: this.browserPid }, 'Chromium disconnected unexpectedly');
    this.events.emit({ type: 'disconnected', reason: 'BROWSER_CRASH' });
  }

  /** Ends with the whole Chromium process group gone, whatever state the browser is in. */
  private async teardown(): Promise<void> {
    this.detachEvents?.();
    this.detachEvents = null;
    const client = this.client;
    const browser = this.browser;
    const child = this.browserProcess;
    this.client = null;
    if (client && browser?.connected) {
      await withTimeout(client.destroy(), this.options.destroyTimeoutMs).catch((error: unknown) =>
        this.context.logger.warn({ err: error }, 'client.destroy() failed or hung; killing the browser'),
      );
    }
    if (child?.pid !== undefined) {
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killProcessGroup(child.pid);
      await withTimeout(exited, this.options.destroyTimeoutMs).catch(() => {
        this.context.logger.error({ pid: child.pid, alive: isAlive(child.pid ?? 0) }, 'Chromium did not exit after SIGKILL');
      });
    }
    // The leader's exit comes before its renderers and zygote are gone: wait until none is left.
    const left = await waitUntilGone(this.profileDir, this.options.destroyTimeoutMs);
    if (left.length > 0) this.context.logger.error({ pids: left.map((p) => p.pid) }, 'Chromium processes survived SIGKILL');
    browser?.removeAllListeners();
    this.browser = null;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

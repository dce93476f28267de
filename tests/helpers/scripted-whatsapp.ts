import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer';
import pkg from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';
import type { WebjsActionableMessage, WebjsChat, WebjsChatActions, WebjsClientOptions, WebjsContact, WebjsSentMessage } from '../../src/engines/webjs/webjs-client.js';
import { FakeChat, FakeWebjsClient, MessageTypes, contactId, fakeMessage } from './fake-webjs-client.js';

/**
 * A scripted WhatsApp: the stand-in for WhatsApp's servers (unreachable from CI) that the webjs
 * engine meets on the real Chromium. One world is shared by the clients of one test. It knows
 * which sessions are linked (the phone's list of linked devices), one number on WhatsApp and one
 * not, and what each linked account sent.
 *
 * Its clients behave like whatsapp-web.js where the engine can tell: they connect to the browser
 * the engine launched, find the session by LocalAuth's clientId, keep their credentials in the
 * session's Chromium profile (so a profile that is gone means a new QR, as with WhatsApp Web),
 * and destroy() and logout() close the browser, as whatsapp-web.js 1.34.7 does (src/Client.js:1277-1303).
 */

export const WORLD_NUMBERS = { onWhatsApp: '5511987654321', notOnWhatsApp: '5511987650000' } as const;

/** Delay of the server ack (1) after a send: a test's quiet period must be longer. */
export const SCRIPTED_ACK_DELAY_MS = 20;

/** What WhatsApp Web keeps in the session's profile once linked (the real one keeps keys in IndexedDB). */
const LINK_FILE = 'scripted-whatsapp-link';

const base64 = (bytes: number): string => randomBytes(bytes).toString('base64');

/** A linked account: WhatsApp's side of a session, with what it sent and the chats it has. */
interface Device {
  phone: string;
  pushname: string;
  messages: Map<string, ScriptedMessage>;
  chats: Map<string, FakeChat>;
}

/** A sent message as getMessageById finds it: react, edit and delete act on it. */
export class ScriptedMessage implements WebjsActionableMessage {
  readonly fromMe = true;
  readonly reactions: string[] = [];
  revoked = false;

  constructor(
    readonly id: WAWebJS.MessageId,
    readonly chatId: string,
    readonly timestamp: number,
    public body: string,
    private readonly isText: boolean,
    private readonly forget: () => void,
  ) {}

  react = async (reaction: string): Promise<void> => {
    this.reactions.push(reaction);
  };

  /** WhatsApp edits text only and never a revoked message: whatsapp-web.js resolves null then. */
  edit = async (content: WAWebJS.MessageContent): Promise<WebjsSentMessage | null> => {
    if (!this.isText || this.revoked || typeof content !== 'string') return null;
    this.body = content;
    return { id: this.id, timestamp: this.timestamp };
  };

  /** For everyone: the message stays, revoked. For me: it is gone from this device. */
  delete = async (everyone?: boolean): Promise<void> => {
    if (!everyone) return this.forget();
    this.revoked = true;
    this.body = '';
  };
}

export class ScriptedWhatsApp {
  readonly numbers = WORLD_NUMBERS;
  /** Linked sessions, by session id. */
  private readonly devices = new Map<string, Device>();
  /** The initialized, not destroyed client of each session. */
  private readonly live = new Map<string, ScriptedClient>();
  private linkedCount = 0;

  /** The `createClient` seam: a client for the session named by LocalAuth's clientId. */
  createClient(options: WebjsClientOptions): ScriptedClient {
    const auth = options.authStrategy;
    if (!(auth instanceof pkg.LocalAuth) || auth.clientId === undefined || auth.dataPath === undefined) {
      throw new Error('the scripted WhatsApp knows sessions by LocalAuth clientId');
    }
    // Read through unknown: whatsapp-web.js types these options with a name puppeteer 24 no longer exports.
    const launch: unknown = options.puppeteer;
    const endpoint = typeof launch === 'object' && launch !== null && 'browserWSEndpoint' in launch ? launch.browserWSEndpoint : undefined;
    if (typeof endpoint !== 'string') throw new Error('the scripted WhatsApp needs the browser the engine launched (puppeteer.browserWSEndpoint)');
    return new ScriptedClient(this, auth.clientId, join(auth.dataPath, `session-${auth.clientId}`), endpoint);
  }

  isLinked(sessionId: string): boolean {
    return this.devices.has(sessionId);
  }

  /** The phone scanning the QR that `sessionId`'s client shows: links the session, and the client logs in. */
  async scan(sessionId: string): Promise<void> {
    const client = this.live.get(sessionId);
    if (!client?.showsQr) throw new Error(`no QR is showing for session ${sessionId}`);
    this.linkedCount += 1;
    const n = String(this.linkedCount).padStart(5, '0');
    const device: Device = { phone: `55119555${n}`, pushname: `Scripted ${n}`, messages: new Map(), chats: new Map() };
    this.devices.set(sessionId, device);
    client.login(device);
  }

  isOnWhatsApp(phone: string): boolean {
    return phone === this.numbers.onWhatsApp || [...this.devices.values()].some((device) => device.phone === phone);
  }

  // ---- for the clients --------------------------------------------------------------------------

  deviceOf(sessionId: string): Device | undefined {
    return this.devices.get(sessionId);
  }

  unlink(sessionId: string): void {
    this.devices.delete(sessionId);
  }

  goLive(client: ScriptedClient): void {
    this.live.set(client.sessionId, client);
  }

  goAway(client: ScriptedClient): void {
    if (this.live.get(client.sessionId) === client) this.live.delete(client.sessionId);
  }
}

/** A whatsapp-web.js client of one session, talking to the scripted WhatsApp. */
export class ScriptedClient extends FakeWebjsClient {
  private browser: Browser | null = null;
  private device: Device | null = null;
  private qrShowing = false;
  private destroyed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly world: ScriptedWhatsApp,
    readonly sessionId: string,
    private readonly profileDir: string,
    private readonly browserWSEndpoint: string,
  ) {
    super();
  }

  get showsQr(): boolean {
    return this.qrShowing && !this.destroyed;
  }

  override async initialize(): Promise<void> {
    await super.initialize();
    const browser = await puppeteer.connect({ browserWSEndpoint: this.browserWSEndpoint, defaultViewport: null });
    this.browser = browser;
    if (this.destroyed) {
      await browser.disconnect();
      return;
    }
    this.world.goLive(this);
    const device = this.world.deviceOf(this.sessionId);
    // Linked only when both sides know it: the phone lists the device and the profile holds its keys.
    if (device && existsSync(this.linkFile)) {
      this.login(device);
    } else {
      this.qrShowing = true;
      this.emitEvent('qr', `2@${base64(16)},${base64(32)},${base64(32)},${base64(16)}`);
    }
  }

  /** The world linked this session: logs in as whatsapp-web.js does (authenticated, info, ready). */
  login(device: Device): void {
    this.qrShowing = false;
    this.device = device;
    writeFileSync(this.linkFile, device.phone);
    this.emitEvent('authenticated');
    this.linkAs(`${device.phone}@c.us`, device.pushname);
    this.emitEvent('ready');
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    this.goAway();
    if (this.browser?.connected) await this.browser.close();
  }

  /** Unlinks the device, closes the browser and drops the keys, like whatsapp-web.js's logout(). */
  override async logout(): Promise<void> {
    await super.logout();
    this.loggedIn();
    this.world.unlink(this.sessionId);
    this.goAway();
    if (this.browser?.connected) await this.browser.close();
    rmSync(this.linkFile, { force: true });
  }

  override async sendMessage(chatId: string, content: WAWebJS.MessageContent, options?: WAWebJS.MessageSendOptions): Promise<WebjsSentMessage> {
    const device = this.loggedIn();
    if (!this.chatOf(chatId)) throw new Error(`No LID for user ${chatId}`);
    const quoted = options?.quotedMessageId;
    if (quoted !== undefined && !device.messages.has(quoted)) throw new Error('Could not get the quoted message.');
    const location = content instanceof pkg.Location ? content : undefined;
    const type = typeof content === 'string' ? MessageTypes.TEXT : location ? MessageTypes.LOCATION : MessageTypes.UNKNOWN;
    const event = fakeMessage({ fromMe: true, from: `${device.phone}@c.us`, to: chatId, body: typeof content === 'string' ? content : '', type, ...(location ? { location } : {}) });
    const id = event.id._serialized;
    const message = new ScriptedMessage(event.id, chatId, event.timestamp, event.body, type === MessageTypes.TEXT, () => device.messages.delete(id));
    device.messages.set(id, message);
    this.emitEvent('message_create', event);
    this.later(() => this.emitEvent('message_ack', event, 1));
    return message;
  }

  override async getMessageById(waMessageId: string): Promise<WebjsActionableMessage | null> {
    return this.loggedIn().messages.get(waMessageId) ?? null;
  }

  override async getNumberId(number: string): Promise<WAWebJS.ContactId | null> {
    this.loggedIn();
    const phone = number.replace(/@c\.us$/, '');
    return this.world.isOnWhatsApp(phone) ? contactId(`${phone}@c.us`) : null;
  }

  override async getChatById(chatId: string): Promise<WebjsChatActions | undefined> {
    return this.chatOf(chatId);
  }

  override async sendSeen(chatId: string): Promise<boolean> {
    return this.chatOf(chatId) !== undefined;
  }

  override async getChats(): Promise<WebjsChat[]> {
    const device = this.loggedIn();
    const sent = [...device.messages.values()];
    return [...device.chats.keys()].map((chatId) => ({
      id: contactId(chatId),
      name: chatId.slice(0, chatId.indexOf('@')),
      isGroup: false,
      unreadCount: 0,
      archived: false,
      pinned: false,
      isMuted: false,
      lastMessage: sent.filter((message) => message.chatId === chatId).at(-1),
    }));
  }

  override async getContacts(): Promise<WebjsContact[]> {
    return [...this.loggedIn().chats.keys()].map((chatId) => {
      const id = contactId(chatId);
      return { id, number: id.user, pushname: '', isBusiness: false, isMyContact: false, isGroup: false };
    });
  }

  // ---- internals --------------------------------------------------------------------------------

  private get linkFile(): string {
    return join(this.profileDir, LINK_FILE);
  }

  private loggedIn(): Device {
    if (!this.device || this.destroyed) throw new Error('WhatsApp Web is not logged in');
    return this.device;
  }

  /** WhatsApp Web finds (or opens) the chat of any account on WhatsApp; there is none for other numbers. */
  private chatOf(chatId: string): FakeChat | undefined {
    const device = this.loggedIn();
    const phone = /^(\d+)@c\.us$/.exec(chatId)?.[1];
    if (phone === undefined || !this.world.isOnWhatsApp(phone)) return undefined;
    const chat = device.chats.get(chatId) ?? new FakeChat();
    device.chats.set(chatId, chat);
    return chat;
  }

  private later(run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.destroyed) run();
    }, SCRIPTED_ACK_DELAY_MS);
    this.timers.add(timer);
  }

  private goAway(): void {
    this.destroyed = true;
    this.device = null;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.world.goAway(this);
  }
}

import { randomBytes, randomInt } from 'node:crypto';
import {
  EngineError,
  type AckLevel,
  type Engine,
  type EngineChat,
  type EngineContact,
  type EngineContext,
  type EngineEventListener,
  type EngineMe,
  type OutboundContent,
  type PresenceState,
  type SendOptions,
  type SendResult,
} from '../engine.js';
import { EngineEventEmitter } from '../engine-event-emitter.js';
import {
  SimulatedPhone,
  describeContent,
  isSimulatedNumberOnWhatsApp,
  simulatedInboundMessage,
  simulatedMessageId,
  type SimulatedInbound,
  type SimulatedMessage,
} from './simulated-phone.js';

export type { SimulatedInbound, SimulatedMessage };

export interface SimulatorOptions {
  /** How often a new QR code replaces the last one while nobody scans. */
  qrRotationMs: number;
  /** Delays of the automatic server, device and read acks of every send. */
  ackDelaysMs: readonly number[];
}

/** What the simulator keeps in the session registry once "scanned" — its equivalent of auth data. */
interface SimulatedLink {
  phone: string;
  pushName: string;
}

export interface SimulatorFaults {
  /** The next n sends fail with a transient ENGINE_ERROR. */
  failNextSends?: number | undefined;
  /** Every send takes this long before WhatsApp "has" it. */
  sendLatencyMs?: number | undefined;
  /** false turns the automatic acks off (drive them with ack()). */
  autoAck?: boolean | undefined;
}

/** The faults in force (setFaults answers them). */
export type ActiveSimulatorFaults = { [K in keyof SimulatorFaults]-?: NonNullable<SimulatorFaults[K]> };

type State = 'idle' | 'qr' | 'linking' | 'ready' | 'closed';

const isLink = (value: unknown): value is SimulatedLink =>
  typeof value === 'object' && value !== null && typeof (value as SimulatedLink).phone === 'string' && typeof (value as SimulatedLink).pushName === 'string';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** An in-process simulated phone behind the engine port, for building integrations without WhatsApp. */
export class SimulatorEngine implements Engine {
  readonly name = 'simulator' as const;
  private readonly events: EngineEventEmitter;
  private readonly phone = new SimulatedPhone();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Wakes the sends held by sendLatencyMs, so that stop() settles them instead of leaving them pending forever. */
  private readonly sleepers = new Set<() => void>();
  private state: State = 'idle';
  private me: EngineMe | null = null;
  private qrTimer: NodeJS.Timeout | null = null;
  private faults: ActiveSimulatorFaults = { failNextSends: 0, sendLatencyMs: 0, autoAck: true };

  constructor(
    private readonly context: EngineContext,
    private readonly options: SimulatorOptions,
  ) {
    this.events = new EngineEventEmitter((error) => context.logger.error({ err: error }, 'engine event listener failed'));
  }

  onEvent(listener: EngineEventListener): () => void {
    return this.events.onEvent(listener);
  }

  get status(): State {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    const link = await this.context.auth.load();
    if (this.isClosed()) return;
    if (isLink(link)) {
      this.state = 'linking';
      this.later(0, () => this.becomeReady(link));
    } else {
      this.state = 'qr';
      this.later(0, () => this.showQr());
    }
  }

  async stop(): Promise<void> {
    this.state = 'closed';
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.qrTimer = null;
    for (const wake of [...this.sleepers]) wake();
    await Promise.resolve();
  }

  async logout(): Promise<void> {
    await this.context.auth.clear();
    await this.stop();
  }

  // ---- simulator controls -------------------------------------------------------------------

  /** Acts as the phone scanning the QR (or entering the pairing code). False when no QR is showing. */
  async scan(input: { phone?: string | undefined; pushName?: string | undefined }): Promise<boolean> {
    if (this.state !== 'qr') return false;
    this.state = 'linking';
    if (this.qrTimer) this.clearTimer(this.qrTimer);
    const link: SimulatedLink = {
      phone: input.phone ?? `5511${randomInt(900_000_000, 999_999_999)}`,
      pushName: input.pushName ?? 'Simulated Phone',
    };
    this.events.emit({ type: 'loading_screen', percent: 0, message: 'WhatsApp' });
    this.events.emit({ type: 'authenticated' });
    await this.context.auth.save(link);
    if (this.isClosed()) return true;
    this.later(0, () => this.becomeReady(link));
    return true;
  }

  /** Drops the connection with a whatsapp-web.js disconnect reason; the engine is closed afterwards. */
  async disconnect(reason: string): Promise<boolean> {
    if (this.isClosed() || this.state === 'idle') return false;
    await this.stop();
    this.events.emit({ type: 'change_state', state: reason });
    this.events.emit({ type: 'disconnected', reason });
    return true;
  }

  /** Changes the given faults, keeps the others; answers the faults now in force. */
  setFaults(faults: SimulatorFaults): ActiveSimulatorFaults {
    this.faults = {
      failNextSends: faults.failNextSends ?? this.faults.failNextSends,
      sendLatencyMs: faults.sendLatencyMs ?? this.faults.sendLatencyMs,
      autoAck: faults.autoAck ?? this.faults.autoAck,
    };
    return { ...this.faults };
  }

  /** A copy of what the simulated phone remembers of a message (either direction), if it does. */
  message(waMessageId: string): SimulatedMessage | undefined {
    const message = this.phone.find(waMessageId);
    return message ? { ...message } : undefined;
  }

  /** A contact writes to us. Returns the WhatsApp id of the new message. */
  receive(input: SimulatedInbound): string {
    const message = simulatedInboundMessage(input, this.requireReady());
    this.phone.addContact(message.chatId, input.pushName ?? null);
    this.phone.remember({ waMessageId: message.waMessageId, chatId: message.chatId, fromMe: false, body: message.body, type: input.type, timestamp: message.timestamp, revoked: false });
    this.events.emit({ type: 'message_create', message });
    this.events.emit({ type: 'message', message });
    return message.waMessageId;
  }

  /** Drives an ack by hand. False when the message is unknown. */
  ack(waMessageId: string, ack: AckLevel): boolean {
    const message = this.phone.find(waMessageId);
    if (!message || this.state !== 'ready') return false;
    this.events.emit({ type: 'message_ack', waMessageId, chatId: message.chatId, ack });
    return true;
  }

  /** A contact edits one of their messages. */
  contactEdits(waMessageId: string, newBody: string): boolean {
    const message = this.phone.find(waMessageId);
    if (!message || message.fromMe || this.state !== 'ready') return false;
    const previousBody = message.body;
    message.body = newBody;
    this.events.emit({ type: 'message_edit', waMessageId, chatId: message.chatId, newBody, previousBody, editedAt: nowSeconds() });
    return true;
  }

  /** A contact revokes one of their messages for everyone. */
  contactRevokes(waMessageId: string): boolean {
    const message = this.phone.find(waMessageId);
    if (!message || message.fromMe || message.revoked || this.state !== 'ready') return false;
    message.revoked = true;
    this.events.emit({ type: 'message_revoke_everyone', waMessageId, chatId: message.chatId, revokedAt: nowSeconds() });
    return true;
  }

  // ---- engine operations --------------------------------------------------------------------

  async requestPairingCode(_phone: string): Promise<string> {
    if (this.state !== 'qr') throw new EngineError('ENGINE_ERROR', 'A pairing code needs a session waiting for its QR scan');
    const raw = randomBytes(4).toString('hex').toUpperCase();
    const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
    this.events.emit({ type: 'pairing_code', code });
    return code;
  }

  async getNumberId(phone: string): Promise<string | null> {
    this.requireReady();
    return isSimulatedNumberOnWhatsApp(phone) ? `${phone}@c.us` : null;
  }

  async send(chatId: string, content: OutboundContent, options: SendOptions): Promise<SendResult> {
    this.requireReady();
    if (this.faults.sendLatencyMs > 0) await this.sleep(this.faults.sendLatencyMs);
    this.requireReady();
    if (this.faults.failNextSends > 0) {
      this.faults.failNextSends -= 1;
      throw new EngineError('ENGINE_ERROR', 'Simulated transient send failure', true);
    }
    const phone = chatId.split('@')[0] ?? '';
    if (chatId.endsWith('@c.us') && !isSimulatedNumberOnWhatsApp(phone)) {
      throw new EngineError('NUMBER_NOT_ON_WHATSAPP', `${phone} is not on WhatsApp`);
    }
    if (options.quotedMessageId !== undefined && !this.phone.find(options.quotedMessageId)) {
      throw new EngineError('QUOTED_MESSAGE_NOT_FOUND', `Quoted message ${options.quotedMessageId} not found`);
    }
    const waMessageId = simulatedMessageId(true, chatId);
    const timestamp = nowSeconds();
    this.phone.remember({ waMessageId, chatId, fromMe: true, body: describeContent(content), type: content.type, timestamp, revoked: false });
    if (this.faults.autoAck) this.scheduleAcks(waMessageId, chatId);
    return { waMessageId, timestamp };
  }

  async react(waMessageId: string, emoji: string): Promise<void> {
    const me = this.requireReady();
    this.requireMessage(waMessageId);
    this.events.emit({ type: 'message_reaction', waMessageId, reaction: emoji, senderId: me.id, timestamp: nowSeconds() });
  }

  async edit(waMessageId: string, text: string): Promise<void> {
    this.requireReady();
    const message = this.requireMessage(waMessageId);
    if (!message.fromMe || message.revoked) throw new EngineError('EDIT_NOT_ALLOWED', 'Only own, not revoked messages can be edited');
    const previousBody = message.body;
    message.body = text;
    this.events.emit({ type: 'message_edit', waMessageId, chatId: message.chatId, newBody: text, previousBody, editedAt: nowSeconds() });
  }

  async revoke(waMessageId: string, forEveryone: boolean): Promise<void> {
    this.requireReady();
    const message = this.requireMessage(waMessageId);
    if (forEveryone && !message.fromMe) throw new EngineError('REVOKE_NOT_ALLOWED', 'Only own messages can be revoked for everyone');
    message.revoked = true;
    if (forEveryone) this.events.emit({ type: 'message_revoke_everyone', waMessageId, chatId: message.chatId, revokedAt: nowSeconds() });
  }

  async markSeen(_chatId: string): Promise<void> {
    this.requireReady();
  }

  async setPresence(_chatId: string, _state: PresenceState): Promise<void> {
    this.requireReady();
  }

  async getContacts(): Promise<EngineContact[]> {
    this.requireReady();
    return this.phone.listContacts();
  }

  async getChats(): Promise<EngineChat[]> {
    this.requireReady();
    return this.phone.listChats();
  }

  async getProfilePictureUrl(_contactId: string): Promise<string | null> {
    this.requireReady();
    return null;
  }

  // ---- internals ----------------------------------------------------------------------------

  private showQr(): void {
    if (this.state !== 'qr') return;
    const part = (n: number): string => randomBytes(n).toString('base64');
    this.events.emit({ type: 'qr', qr: `2@${part(36)},${part(32)},${part(32)},${part(16)}` });
    this.qrTimer = this.later(this.options.qrRotationMs, () => this.showQr());
  }

  private becomeReady(link: SimulatedLink): void {
    if (this.state !== 'linking') return;
    this.state = 'ready';
    this.me = { id: `${link.phone}@c.us`, phone: link.phone, pushName: link.pushName };
    this.events.emit({ type: 'change_state', state: 'CONNECTED' });
    this.events.emit({ type: 'ready', me: this.me });
  }

  private scheduleAcks(waMessageId: string, chatId: string): void {
    const levels: AckLevel[] = [1, 2, 3];
    levels.forEach((ack, i) => {
      this.later(this.options.ackDelaysMs[i] ?? 0, () => {
        if (this.state === 'ready') this.events.emit({ type: 'message_ack', waMessageId, chatId, ack });
      });
    });
  }

  private requireReady(): EngineMe {
    if (this.state !== 'ready' || !this.me) throw new EngineError('ENGINE_ERROR', 'The simulated phone is not connected', true);
    return this.me;
  }

  private requireMessage(waMessageId: string): { chatId: string; fromMe: boolean; body: string; revoked: boolean } {
    const message = this.phone.find(waMessageId);
    if (!message) throw new EngineError('MESSAGE_NOT_FOUND', `Message ${waMessageId} not found`);
    return message;
  }

  /** Resolves after `ms`, or at once when the engine stops (the caller then finds it closed). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.add(wake);
      this.later(ms, wake);
    });
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private clearTimer(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }
}

import type { Logger } from '../logger.js';
import type { Config } from '../config.js';
import { EngineError, type Engine, type EngineEvent } from '../engines/engine.js';
import type { EventBus } from '../events/event-bus.js';
import { classifyDisconnect, connectionStateOf } from './disconnect-reasons.js';
import type { SessionRuntime } from './session-runtime.js';
import { qrRenderer } from './qr-renderer.js';
import { publicConnectionStatus, type SessionRecord, type SessionStatus } from './session.js';

export interface SessionLifecycleDeps {
  config: Config;
  bus: EventBus;
  logger: Logger;
  persist(record: SessionRecord): Promise<void>;
  /** The record's `stats` changed: written soon, coalesced (one registry write per session per second, not one per message). */
  statsChanged(id: string): void;
  dropAuth(record: SessionRecord): Promise<void>;
  withLock(id: string, fn: () => Promise<void>): Promise<void>;
  /** True while `engine` is still the session's running engine (null: no engine running) and the manager is open. */
  isCurrent(id: string, record: SessionRecord, engine: Engine | null): boolean;
  /** Starts a new engine for the session, keeping the reconnect count (caller holds the lock). */
  restart(id: string): Promise<void>;
}

const MAX_RECONNECT_DELAY_MS = 5 * 60_000;

/**
 * Which engine events change the session (applied under its lock, in order) and which are message
 * traffic that only goes to the bus (the message pipeline and webhooks take them from there).
 * A send brings four of the latter (its `message_create` and three acks): taking the lock for
 * each would be four promise chains and a Map entry added and deleted per event, for nothing.
 */
const CHANGES_SESSION: Readonly<Record<EngineEvent['type'], boolean>> = {
  qr: true,
  pairing_code: true,
  loading_screen: true,
  authenticated: true,
  auth_failure: true,
  ready: true,
  change_state: true,
  change_battery: true,
  disconnected: true,
  engine_failure: true,
  message: true,
  message_create: false,
  message_ack: false,
  message_edit: false,
  message_revoke_everyone: false,
  message_reaction: false,
  vote_update: false,
  call: false,
  group_update: false,
};

/**
 * The session state machine: applies engine events to a session record under its lock, and owns
 * the QR, ready-watchdog, reconnect and idle timers. Every status change is persisted and
 * published as `session.status`.
 */
export class SessionLifecycle {
  constructor(private readonly deps: SessionLifecycleDeps) {}

  /** Entry point for every engine event (called synchronously by the engine). */
  onEngineEvent(record: SessionRecord, runtime: SessionRuntime, engine: Engine, event: EngineEvent): void {
    if (!this.deps.isCurrent(record.id, record, engine)) return;
    runtime.lastEventAt = Date.now();
    runtime.refreshTimer('idle');
    this.deps.bus.publishEngineEvent(record.id, event);
    if (!CHANGES_SESSION[event.type]) return;
    this.deps
      .withLock(record.id, async () => {
        if (this.deps.isCurrent(record.id, record, engine)) await this.apply(record, runtime, engine, event);
      })
      .catch((error: unknown) => this.deps.logger.error({ err: error, sessionId: record.id, event: event.type }, 'applying engine event failed'));
  }

  async setStatus(record: SessionRecord, status: SessionStatus, extra: { reason?: string } = {}): Promise<void> {
    const changed = record.status !== status;
    record.status = status;
    record.updatedAt = new Date().toISOString();
    await this.deps.persist(record);
    if (changed || extra.reason) {
      this.publish(record.id, 'session.status', { status: publicConnectionStatus(status), detail: status, ...(extra.reason ? { reason: extra.reason } : {}) });
    }
  }

  /** Gives up on the session: engine stopped, status `failed`, `lastError` says why. */
  async fail(record: SessionRecord, runtime: SessionRuntime, code: string, message: string): Promise<void> {
    runtime.clearAllTimers();
    await runtime.detach()?.stop();
    record.lastError = { code, message, at: new Date().toISOString() };
    await this.setStatus(record, 'failed', { reason: code });
  }

  /** engine.start() rejected: retry when the error is reconnectable (reconnect policy), else give up. */
  async startFailed(record: SessionRecord, runtime: SessionRuntime, engine: Engine, error: unknown): Promise<void> {
    const engineError = error instanceof EngineError ? error : new EngineError('ENGINE_ERROR', error instanceof Error ? error.message : String(error), true);
    this.deps.logger.warn({ sessionId: record.id, code: engineError.code, reason: engineError.message }, 'engine failed to start');
    if (engineError.reconnectable) await this.disconnected(record, runtime, engine, engineError.code, engineError.code, engineError.message);
    else await this.fail(record, runtime, engineError.code, engineError.message);
  }

  /** Applies a disconnect (engine event, start failure or watchdog) with the contract's reconnect policy. */
  async disconnected(record: SessionRecord, runtime: SessionRuntime, engine: Engine, reason: string, code: string | null, detail?: string): Promise<void> {
    const outcome = classifyDisconnect(reason);
    this.publish(record.id, 'disconnected', { reason, isReconnectable: outcome.isReconnectable });
    runtime.clearAllTimers();
    if (runtime.engine === engine) await runtime.detach()?.stop();
    const at = new Date().toISOString();
    if (!outcome.isReconnectable) {
      if (outcome.dropAuth) {
        await this.deps.dropAuth(record);
        record.me = null;
        record.connectedAt = null;
      }
      record.lastError = { code: outcome.code ?? 'CONNECTION_LOST', message: `Disconnected by WhatsApp: ${reason}`, at };
      await this.setStatus(record, outcome.status, { reason });
      return;
    }
    runtime.reconnects += 1;
    const max = this.deps.config.whatsapp.maxReconnects;
    const lastCode = code ?? 'CONNECTION_LOST';
    if (runtime.reconnects > max) {
      record.lastError = { code: lastCode, message: `Gave up after ${max} reconnect attempt(s); last reason: ${detail ?? reason}`, at };
      await this.setStatus(record, 'failed', { reason });
      return;
    }
    record.lastError = { code: lastCode, message: `Disconnected (${detail ?? reason}); reconnect ${runtime.reconnects} of ${max}`, at };
    await this.setStatus(record, 'disconnected', { reason });
    const delay = Math.min(this.deps.config.whatsapp.reconnectDelayMs * 2 ** (runtime.reconnects - 1), MAX_RECONNECT_DELAY_MS);
    runtime.setTimer('reconnect', delay, () => {
      void this.deps
        .withLock(record.id, async () => {
          if (record.status === 'disconnected' && this.deps.isCurrent(record.id, record, null)) await this.deps.restart(record.id);
        })
        .catch((error: unknown) => this.deps.logger.error({ err: error, sessionId: record.id }, 'reconnect failed'));
    });
  }

  /** WHATSAPP_READY_TIMEOUT: a session that does not reach `ready` in time is restarted (a reconnectable disconnect). */
  armReadyTimer(record: SessionRecord, runtime: SessionRuntime, engine: Engine): void {
    runtime.setTimer('ready', this.deps.config.whatsapp.readyTimeoutMs, () => {
      this.runLocked(record, 'ready watchdog', async () => {
        if (!this.deps.isCurrent(record.id, record, engine)) return;
        if (record.status === 'starting' || record.status === 'authenticated') await this.disconnected(record, runtime, engine, 'READY_TIMEOUT', 'READY_TIMEOUT');
      });
    });
  }

  /** WHATSAPP_SESSION_TIMEOUT: stop (auth kept) a session with no activity for that long. */
  armIdleTimer(record: SessionRecord, runtime: SessionRuntime): void {
    const ms = this.deps.config.whatsapp.sessionTimeoutMs;
    if (ms <= 0) return;
    runtime.setTimer('idle', ms, () => {
      this.runLocked(record, 'idle stop', async () => {
        const engine = runtime.engine;
        if (!engine || !this.deps.isCurrent(record.id, record, engine)) return;
        runtime.clearAllTimers();
        await runtime.detach()?.stop();
        await this.setStatus(record, 'stopped', { reason: 'IDLE_TIMEOUT' });
      });
    });
  }

  private async apply(record: SessionRecord, runtime: SessionRuntime, engine: Engine, event: EngineEvent): Promise<void> {
    switch (event.type) {
      case 'qr':
        return this.onQr(record, runtime, event.qr);
      case 'pairing_code':
        this.publish(record.id, 'pairing_code', { code: event.code, expiresAt: Math.floor((Date.now() + this.deps.config.whatsapp.qrTimeoutMs) / 1000) });
        return;
      case 'loading_screen':
      case 'authenticated':
        if (record.status === 'starting' || record.status === 'qr') {
          runtime.clearTimer('qr');
          runtime.lastQr = null;
          await this.setStatus(record, 'authenticated');
          this.armReadyTimer(record, runtime, engine);
        }
        return;
      case 'auth_failure':
        await this.deps.dropAuth(record);
        await this.fail(record, runtime, 'AUTH_FAILURE', `Restoring the session failed: ${event.message}; scan a new QR`);
        return;
      case 'ready':
        runtime.clearTimer('qr');
        runtime.clearTimer('ready');
        runtime.lastQr = null;
        runtime.reconnects = 0;
        record.me = event.me;
        record.connectedAt = new Date().toISOString();
        record.lastError = null;
        await this.setStatus(record, 'ready');
        return;
      case 'change_state':
        this.publish(record.id, 'connection.status', { state: connectionStateOf(event.state), lastSeen: Math.floor((runtime.lastEventAt ?? Date.now()) / 1000), waState: event.state });
        return;
      case 'change_battery':
        this.publish(record.id, 'change_battery', { battery: event.battery, plugged: event.plugged });
        return;
      case 'disconnected':
        await this.disconnected(record, runtime, engine, event.reason, null);
        return;
      case 'engine_failure':
        if (event.reconnectable) await this.disconnected(record, runtime, engine, event.code, event.code, event.message);
        else await this.fail(record, runtime, event.code, event.message);
        return;
      case 'message':
        record.stats.received += 1;
        this.deps.statsChanged(record.id);
        return;
      default:
        // Message events are taken from the bus's engine tap by the message store and webhooks.
        return;
    }
  }

  private async onQr(record: SessionRecord, runtime: SessionRuntime, qr: string): Promise<void> {
    const { qrTimeoutMs, qrMaxRetries } = this.deps.config.whatsapp;
    runtime.qrCount += 1;
    if (runtime.qrCount > qrMaxRetries) {
      await this.fail(record, runtime, 'QR_TIMEOUT', `No scan after ${qrMaxRetries} QR code(s)`);
      return;
    }
    runtime.clearTimer('ready');
    // The PNG first, so that the QR event follows the status change without a gap.
    // On a worker thread: a render is 4–6 ms of CPU that would otherwise stall every request.
    const png = await qrRenderer.dataUrl(qr);
    runtime.lastQr = { qr, expiresAt: Date.now() + qrTimeoutMs };
    if (record.status !== 'qr') await this.setStatus(record, 'qr');
    this.publish(record.id, 'qr_code', { qrCode: png.slice(png.indexOf(',') + 1), timeout: qrTimeoutMs, raw: qr, attempt: runtime.qrCount, maxAttempts: qrMaxRetries });
    runtime.setTimer('qr', qrTimeoutMs, () => {
      this.runLocked(record, 'QR expiry', async () => {
        if (record.status === 'qr' && runtime.qrCount >= qrMaxRetries && this.deps.isCurrent(record.id, record, runtime.engine)) {
          await this.fail(record, runtime, 'QR_TIMEOUT', `No scan after ${qrMaxRetries} QR code(s)`);
        }
      });
    });
  }

  /** Runs timer work under the session's lock; a failure (Redis gone, say) is logged, never an unhandled rejection. */
  private runLocked(record: SessionRecord, what: string, fn: () => Promise<void>): void {
    this.deps.withLock(record.id, fn).catch((error: unknown) => this.deps.logger.error({ err: error, sessionId: record.id }, `${what} failed`));
  }

  private publish(sessionId: string, event: string, data: Record<string, unknown>): void {
    this.deps.bus.publish({ sessionId, event, data, occurredAt: new Date() });
  }
}

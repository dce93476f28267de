import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Config } from '../config.js';
import { AppError, sessionNotFound } from '../errors.js';
import type { Engine, EngineEvent } from '../engines/engine.js';
import type { EngineDrivers } from '../engines/engine-drivers.js';
import type { EventBus } from '../events/event-bus.js';
import type { SessionRegistry } from '../storage/session-registry.js';
import { KeyedLock } from './keyed-lock.js';
import { SessionStatsCounter } from './session-stats.js';
import { mergeMetadata, recordAuthStore, toWebhooks, type CreateSessionInput, type UpdateSessionInput } from './session-inputs.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { restoreAll, shouldRestore } from './session-restore.js';
import { SessionRuntime } from './session-runtime.js';
import { waitForSessionStatus } from './session-status-waiter.js';
import { toPublicSession, type PublicSession, type SessionRecord, type SessionStatus, type SessionWebhook } from './session.js';
import { assertWebhookUrlsAllowed } from '../webhooks/webhook-url.js';

export type { CreateSessionInput, UpdateSessionInput };

export interface SessionManagerDeps {
  config: Config;
  registry: SessionRegistry;
  drivers: EngineDrivers;
  bus: EventBus;
  logger: Logger;
}

/** How many sessions are brought back at once after a restart (each may launch a browser). */
const RESTORE_CONCURRENCY = 32;

/**
 * Owns every session: the records (cached here, written through to the registry), the engine
 * instances, and a lock per session id so that concurrent lifecycle calls on one id run one after
 * the other. Engine events are applied by {@link SessionLifecycle} under the same lock.
 */
export class SessionManager {
  private readonly records = new Map<string, SessionRecord>();
  private readonly runtimes = new Map<string, SessionRuntime>();
  private readonly locks = new KeyedLock();
  private readonly lifecycle: SessionLifecycle;
  private closing = false;
  private readonly stats: SessionStatsCounter;

  constructor(private readonly deps: SessionManagerDeps) {
    this.stats = new SessionStatsCounter(deps.bus, (id) => this.records.get(id), (record) => this.persist(record), (error) =>
      deps.logger.error({ err: error }, 'writing session stats failed'),
    );
    this.lifecycle = new SessionLifecycle({
      config: deps.config,
      bus: deps.bus,
      logger: deps.logger,
      persist: (record) => this.persist(record),
      statsChanged: (id) => this.stats.changed(id),
      dropAuth: (record) => this.dropAuth(record),
      withLock: (id, fn) => this.locks.run(id, fn),
      isCurrent: (id, record, engine) => !this.closing && this.records.get(id) === record && this.runtimes.get(id)?.engine === engine,
      restart: (id) => this.startEngine(id, { keepReconnects: true }),
    });
  }

  // ---- LIFECYCLE OF THE MANAGER ----

  /** Loads the registry and restores every session that was not stopped, without a new scan (see shouldRestore). */
  async init(): Promise<void> {
    const records = await this.deps.registry.list();
    for (const record of records) this.records.set(record.id, record);
    const toRestore = records.filter(shouldRestore).map((r) => r.id);
    await restoreAll(toRestore, RESTORE_CONCURRENCY, (id) => this.locks.run(id, () => this.startEngine(id, { keepReconnects: false })));
    if (toRestore.length > 0) this.deps.logger.info({ restored: toRestore.length }, 'sessions restored');
  }

  /** Stops every engine, keeping statuses and auth so that the next start restores them. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.runtimes.keys()].map((id) =>
        this.locks.run(id, async () => {
          const runtime = this.runtimes.get(id);
          runtime?.clearAllTimers();
          await runtime?.detach()?.stop();
        }),
      ),
    );
    await this.stats.close();
  }

  // ---- QUERIES ----

  list(status?: SessionStatus): PublicSession[] {
    const all = [...this.records.values()];
    return (status ? all.filter((r) => r.status === status) : all).map(toPublicSession);
  }

  get(id: string): PublicSession {
    return toPublicSession(this.require(id));
  }

  /** A session's status and engine without copying its record (the send path's check). Throws SESSION_NOT_FOUND. */
  state(id: string): Readonly<Pick<SessionRecord, 'status' | 'engine'>> {
    return this.require(id);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  /** Running engines by session id (metrics). */
  runningEngines(): [string, Engine][] {
    const out: [string, Engine][] = [];
    for (const [id, runtime] of this.runtimes) if (runtime.engine) out.push([id, runtime.engine]);
    return out;
  }

  /** The running engine of a session, or null when it has none (simulator controls, sends). */
  engineOf(id: string): Engine | null {
    this.require(id);
    return this.runtimes.get(id)?.engine ?? null;
  }

  /** The engine of a `ready` session, for reads and actions: SESSION_NOT_FOUND / SESSION_NOT_READY otherwise. */
  readyEngine(id: string): Engine {
    const record = this.require(id);
    const engine = this.runtimes.get(id)?.engine;
    if (record.status !== 'ready' || !engine) throw new AppError('SESSION_NOT_READY', `Session '${id}' is ${record.status}, not ready`);
    return engine;
  }

  statusOf(id: string): SessionStatus {
    return this.require(id).status;
  }

  qrOf(id: string): { qr: string; expiresAt: Date } {
    const record = this.require(id);
    const qr = this.runtimes.get(id)?.lastQr;
    if (record.status !== 'qr' || !qr) throw new AppError('QR_NOT_AVAILABLE', `Session '${id}' is ${record.status}, not waiting for a QR scan`);
    return { qr: qr.qr, expiresAt: new Date(qr.expiresAt) };
  }

  /** The session once its status is one of `statuses`, or as it is after `timeoutMs` (scan route, tests). */
  async waitForStatus(id: string, statuses: readonly SessionStatus[], timeoutMs: number): Promise<PublicSession> {
    return toPublicSession(await waitForSessionStatus(this.deps.bus, this.require(id), statuses, timeoutMs));
  }

  counts(): Record<SessionStatus, number> {
    const counts: Record<SessionStatus, number> = { starting: 0, qr: 0, authenticated: 0, ready: 0, disconnected: 0, failed: 0, stopped: 0 };
    for (const record of this.records.values()) counts[record.status] += 1;
    return counts;
  }

  // ---- COMMANDS ----

  async create(input: CreateSessionInput): Promise<PublicSession> {
    this.assertOpen();
    const engine = input.engine ?? this.deps.config.defaultEngine;
    if (!this.deps.drivers.has(engine)) {
      throw new AppError('NOT_SUPPORTED_BY_ENGINE', `Engine '${engine}' is not available on this gateway (${this.availableEngines()})`);
    }
    const id = input.id ?? `sess_${randomBytes(9).toString('base64url')}`;
    await assertWebhookUrlsAllowed(input.webhooks, this.deps.config.webhook.allowedHosts);
    return this.locks.run(id, async () => {
      if (this.records.has(id)) throw new AppError('SESSION_EXISTS', `Session '${id}' already exists`);
      const max = this.deps.config.whatsapp.maxSessions;
      if (this.records.size >= max) throw new AppError('SESSION_LIMIT_REACHED', `This gateway holds at most ${max} sessions (WHATSAPP_MAX_SESSIONS)`);
      const now = new Date().toISOString();
      const record: SessionRecord = {
        id,
        engine,
        status: 'stopped',
        me: null,
        metadata: input.metadata ?? {},
        webhooks: toWebhooks(input.webhooks ?? []),
        createdAt: now,
        updatedAt: now,
        connectedAt: null,
        lastError: null,
        stats: { sent: 0, received: 0, failed: 0 },
        engineAuth: null,
      };
      // Claimed synchronously, so that concurrent creates see it before the registry answers.
      this.records.set(id, record);
      try {
        if (!(await this.deps.registry.create(record))) throw new AppError('SESSION_EXISTS', `Session '${id}' already exists`);
      } catch (error) {
        this.records.delete(id);
        throw error;
      }
      if (input.start ?? true) await this.startEngine(id, { keepReconnects: false });
      return toPublicSession(record);
    });
  }

  async update(id: string, input: UpdateSessionInput): Promise<PublicSession> {
    this.require(id);
    await assertWebhookUrlsAllowed(input.webhooks, this.deps.config.webhook.allowedHosts);
    return this.locks.run(id, async () => {
      const record = this.require(id);
      if (input.metadata) {
        record.metadata = mergeMetadata(record.metadata, input.metadata);
      }
      if (input.webhooks) record.webhooks = toWebhooks(input.webhooks);
      record.updatedAt = new Date().toISOString();
      await this.persist(record);
      return toPublicSession(record);
    });
  }

  async start(id: string): Promise<PublicSession> {
    this.assertOpen();
    return this.locks.run(id, async () => {
      const record = this.require(id);
      if (!this.runtimes.get(id)?.engine) await this.startEngine(id, { keepReconnects: false });
      return toPublicSession(record);
    });
  }

  async stop(id: string): Promise<PublicSession> {
    return this.locks.run(id, async () => {
      const record = this.require(id);
      await this.stopEngine(id);
      if (record.status !== 'stopped') await this.lifecycle.setStatus(record, 'stopped', { reason: 'STOPPED_BY_API' });
      return toPublicSession(record);
    });
  }

  async restart(id: string): Promise<PublicSession> {
    this.assertOpen();
    return this.locks.run(id, async () => {
      const record = this.require(id);
      await this.stopEngine(id);
      await this.startEngine(id, { keepReconnects: false });
      return toPublicSession(record);
    });
  }

  async logout(id: string): Promise<PublicSession> {
    return this.locks.run(id, async () => {
      const record = this.require(id);
      const runtime = this.runtimes.get(id);
      runtime?.clearAllTimers();
      const engine = runtime?.detach();
      try {
        await engine?.logout();
      } catch (error) {
        // An unlink that fails (phone unreachable) must not leave the session half logged out: drop auth and stop anyway.
        this.deps.logger.warn({ err: error, sessionId: id }, 'engine logout failed; dropping auth data anyway');
        await engine?.stop();
      }
      await this.dropAuth(record);
      record.me = null;
      record.connectedAt = null;
      await this.lifecycle.setStatus(record, 'stopped', { reason: 'LOGOUT' });
      return toPublicSession(record);
    });
  }

  async delete(id: string): Promise<void> {
    await this.locks.run(id, async () => {
      const record = this.require(id);
      await this.stopEngine(id);
      // Auth data that cannot be removed (a busy disk) must not leave a half-deleted session: log it and go on.
      await this.deps.drivers
        .get(record.engine)
        ?.removeAuthData(id)
        .catch((error: unknown) => this.deps.logger.error({ err: error, sessionId: id }, 'removing auth data of a deleted session failed; remove it by hand'));
      await this.deps.registry.delete(id);
      this.records.delete(id);
      this.runtimes.delete(id);
      this.deps.bus.publish({ sessionId: id, event: 'session.status', data: { status: 'disconnected', detail: 'stopped', reason: 'DELETED' }, occurredAt: new Date() });
    });
  }

  async requestPairingCode(id: string, phone: string): Promise<{ code: string; expiresAt: Date }> {
    return this.locks.run(id, async () => {
      const record = this.require(id);
      const runtime = this.runtimes.get(id);
      if (record.status !== 'qr' || !runtime?.engine) throw new AppError('QR_NOT_AVAILABLE', `Session '${id}' is ${record.status}, not waiting to be linked`);
      const max = this.deps.config.whatsapp.qrMaxRetries;
      if (runtime.pairingCodes >= max) throw new AppError('QR_NOT_AVAILABLE', `At most ${max} pairing codes per start (WHATSAPP_QR_MAX_RETRIES); restart the session`);
      runtime.pairingCodes += 1;
      const code = await runtime.engine.requestPairingCode(phone);
      return { code, expiresAt: new Date(Date.now() + this.deps.config.whatsapp.qrTimeoutMs) };
    });
  }

  /** The session's webhook entries, secrets included (the webhook dispatcher); the same array until replaced. Null for an unknown session. */
  webhooksOf(id: string): readonly SessionWebhook[] | null {
    return this.records.get(id)?.webhooks ?? null;
  }

  /**
   * A 410 answer: marks the session's entries with `url` disabled (shown in the session) until its
   * webhooks are replaced — unless they were replaced since `seen` was read. True when something changed.
   */
  async disableWebhook(id: string, url: string, seen: readonly SessionWebhook[]): Promise<boolean> {
    return this.locks.run(id, async () => {
      const record = this.records.get(id);
      if (!record || record.webhooks !== seen) return false;
      let changed = false;
      for (const webhook of record.webhooks) {
        if (webhook.url !== url || webhook.disabled) continue;
        webhook.disabled = true;
        changed = true;
      }
      if (!changed) return false;
      record.updatedAt = new Date().toISOString();
      await this.persist(record);
      return true;
    });
  }

  /** Marks activity on a session, postponing its idle stop (WHATSAPP_SESSION_TIMEOUT). */
  touch(id: string): void {
    this.runtimes.get(id)?.refreshTimer('idle');
  }

  // ---- internals (callers hold the session's lock) ----

  private async startEngine(id: string, options: { keepReconnects: boolean }): Promise<void> {
    const record = this.records.get(id);
    if (!record || this.closing) return;
    const runtime = this.runtimeOf(id);
    runtime.clearAllTimers();
    await runtime.detach()?.stop();
    runtime.qrCount = 0;
    runtime.pairingCodes = 0;
    if (!options.keepReconnects) runtime.reconnects = 0;
    const driver = this.deps.drivers.get(record.engine);
    if (!driver) {
      await this.lifecycle.fail(record, runtime, 'ENGINE_UNAVAILABLE', `Engine '${record.engine}' is not available on this gateway (${this.availableEngines()})`);
      return;
    }
    const logger = this.deps.logger.child({ sessionId: id, engine: record.engine });
    const engine = await driver.create({ sessionId: id, logger, auth: recordAuthStore(record, (r) => this.persist(r)) });
    runtime.attach(
      engine,
      engine.onEvent((event: EngineEvent) => this.lifecycle.onEngineEvent(record, runtime, engine, event)),
    );
    if (!options.keepReconnects) record.lastError = null;
    await this.lifecycle.setStatus(record, 'starting');
    this.lifecycle.armReadyTimer(record, runtime, engine);
    this.lifecycle.armIdleTimer(record, runtime);
    try {
      await engine.start();
    } catch (error) {
      await this.lifecycle.startFailed(record, runtime, engine, error);
    }
  }

  private async stopEngine(id: string): Promise<void> {
    const runtime = this.runtimes.get(id);
    if (!runtime) return;
    runtime.clearAllTimers();
    await runtime.detach()?.stop();
  }

  private async dropAuth(record: SessionRecord): Promise<void> {
    record.engineAuth = null;
    await this.deps.drivers.get(record.engine)?.removeAuthData(record.id);
    await this.persist(record);
  }

  private async persist(record: SessionRecord): Promise<void> {
    // A deleted session must not be written back by a late engine event.
    if (this.records.get(record.id) !== record) return;
    await this.deps.registry.put(record);
  }

  private runtimeOf(id: string): SessionRuntime {
    let runtime = this.runtimes.get(id);
    if (!runtime) {
      runtime = new SessionRuntime();
      this.runtimes.set(id, runtime);
    }
    return runtime;
  }

  private require(id: string): SessionRecord {
    const record = this.records.get(id);
    if (!record) throw sessionNotFound(id);
    return record;
  }

  private assertOpen(): void {
    if (this.closing) throw new AppError('SHUTTING_DOWN', 'The gateway is shutting down');
  }

  private availableEngines(): string {
    const names = [...this.deps.drivers.keys()];
    return names.length > 0 ? `available: ${names.join(', ')}` : 'no engine is enabled';
  }
}


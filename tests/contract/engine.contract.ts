import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AwaitableLog } from '../helpers/awaitable-log.js';
import {
  ENGINE_NAMES,
  EngineError,
  type Engine,
  type EngineAuthStore,
  type EngineContext,
  type EngineEvent,
  type EngineEventType,
  type EngineName,
} from '../../src/engines/engine.js';
import type { RecordErrorCode } from '../../src/errors.js';

/**
 * The engine conformance suite: the same expectations run against every implementation of the
 * engine port (like BullMQ's adapter-conformance tests). What cannot be exercised without WhatsApp
 * (showing a QR, linking) is declared by the engine's {@link EngineCapabilities}; the expectations
 * that need it are only registered when the engine has it.
 */
export interface EngineCapabilities {
  /** start() without auth data reaches a QR here, without WhatsApp (false for whatsapp-web.js in CI). */
  showsQr: boolean;
  /** Acts as the phone scanning the QR the engine shows (implies `showsQr`). Absent: the engine cannot be linked here. */
  canLink?: (engine: Engine) => Promise<void>;
  /**
   * WhatsApp cannot be reached here and the engine says so: start() resolves, then this reconnectable
   * `engine_failure` comes (whatsapp-web.js without network: WHATSAPP_UNREACHABLE). Only without `showsQr`.
   */
  startFailure?: RecordErrorCode;
  /** A number on WhatsApp and one that is not, as a linked engine sees them. */
  numbers: { onWhatsApp: string; notOnWhatsApp: string };
  /** How long an expected event may take. */
  eventTimeoutMs?: number;
  /** How long to listen for events that must not come; longer than every timer of the engine (QR rotation, acks, a failure report). */
  quietMs: number;
}

export type MakeEngine = (context: EngineContext) => Engine;

export type EngineEventOf<T extends EngineEventType> = Extract<EngineEvent, { type: T }>;

/** An auth store held in memory, as the session manager would keep it in the registry. */
export class MemoryAuthStore implements EngineAuthStore {
  state: unknown = null;
  saves = 0;

  async load(): Promise<unknown> {
    return this.state;
  }

  async save(state: unknown): Promise<void> {
    this.saves += 1;
    this.state = structuredClone(state);
  }

  async clear(): Promise<void> {
    this.state = null;
  }
}

/** Every event an engine emits, in order, with a way to await the next ones. */
export class EngineEventLog extends AwaitableLog<EngineEvent> {
  readonly unsubscribe: () => void;

  constructor(engine: Engine) {
    super();
    this.unsubscribe = engine.onEvent((event) => this.record(event));
  }

  protected summary(): string {
    return this.types().join(', ');
  }

  ofType<T extends EngineEventType>(type: T): EngineEventOf<T>[] {
    return this.events.filter((e): e is EngineEventOf<T> => e.type === type);
  }

  types(): EngineEventType[] {
    return this.events.map((e) => e.type);
  }

  /** The `nth` (1-based) event of `type` ever emitted, waiting for it when it has not come yet. */
  async nth<T extends EngineEventType>(type: T, nth: number, timeoutMs: number): Promise<EngineEventOf<T>> {
    return this.until(() => this.ofType(type)[nth - 1], timeoutMs, `event '${type}' #${nth}`);
  }

  async next<T extends EngineEventType>(type: T, timeoutMs: number): Promise<EngineEventOf<T>> {
    return this.nth(type, 1, timeoutMs);
  }
}

/** The EngineError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function engineErrorOf(promise: Promise<unknown>): Promise<EngineError> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw new Error(`expected an EngineError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
  throw new Error(`expected a rejection with an EngineError, resolved with ${JSON.stringify(outcome)}`);
}

/** Asymmetric matchers, typed as what they are compared against is: anything. */
export const anyString = expect.any(String) as unknown;
export const anyNumber = expect.any(Number) as unknown;
export const anyBoolean = expect.any(Boolean) as unknown;

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const UNKNOWN_MESSAGE_ID = 'true_5511987650001@c.us_3EB0FFFFFFFFFFFFFFFF';

/** Every operation that needs a ready engine, with harmless arguments. */
function readyOnlyOperations(chatId: string): [string, (engine: Engine) => Promise<unknown>][] {
  return [
    ['getNumberId', (e) => e.getNumberId(chatId.split('@')[0] ?? chatId)],
    ['send', (e) => e.send(chatId, { type: 'text', text: 'hello' }, {})],
    ['react', (e) => e.react(UNKNOWN_MESSAGE_ID, '👍')],
    ['edit', (e) => e.edit(UNKNOWN_MESSAGE_ID, 'edited')],
    ['revoke', (e) => e.revoke(UNKNOWN_MESSAGE_ID, true)],
    ['markSeen', (e) => e.markSeen(chatId)],
    ['setPresence', (e) => e.setPresence(chatId, 'typing')],
    ['getContacts', (e) => e.getContacts()],
    ['getChats', (e) => e.getChats()],
    ['getProfilePictureUrl', (e) => e.getProfilePictureUrl(chatId)],
  ];
}

async function expectAllRejectReconnectable(engine: Engine, chatId: string): Promise<void> {
  for (const [operation, run] of readyOnlyOperations(chatId)) {
    const error = await engineErrorOf(run(engine));
    expect({ operation, reconnectable: error.reconnectable }).toEqual({ operation, reconnectable: true });
  }
}

export function describeEngineConformance(name: EngineName, makeEngine: MakeEngine, capabilities: EngineCapabilities): void {
  const timeoutMs = capabilities.eventTimeoutMs ?? 2_000;
  const { quietMs, numbers } = capabilities;
  const chatId = `${numbers.onWhatsApp}@c.us`;
  const logger = pino({ level: 'silent' });
  const running: Engine[] = [];
  let sessionCounter = 0;
  /** What an engine started without auth data says first, here: its QR, or the failure it reports. Null: nothing to wait for. */
  const firstWord = capabilities.showsQr ? 'qr' : capabilities.startFailure !== undefined ? 'engine_failure' : null;

  type Created = { engine: Engine; log: EngineEventLog; auth: MemoryAuthStore; sessionId: string };
  /**
   * A new engine instance. A restart of a session is a new instance with the same session id (what the
   * session manager does): engines that keep auth data outside the auth store (whatsapp-web.js's
   * Chromium profile) find it by that id, so restarts pass `sessionId`.
   */
  const create = (auth: MemoryAuthStore = new MemoryAuthStore(), sessionId = `conformance_${++sessionCounter}`): Created => {
    const engine = makeEngine({ sessionId, logger, auth });
    running.push(engine);
    return { engine, log: new EngineEventLog(engine), auth, sessionId };
  };

  describe(`engine conformance: ${name}`, () => {
    afterEach(async () => {
      await Promise.all(running.splice(0).map((engine) => engine.stop()));
    });

    it('reports its engine name', () => {
      const { engine } = create();
      expect(ENGINE_NAMES).toContain(engine.name);
      expect(engine.name).toBe(name);
    });

    it('stop() before start() resolves, and is idempotent', async () => {
      const { engine, log } = create();
      await expect(engine.stop()).resolves.toBeUndefined();
      await expect(Promise.all([engine.stop(), engine.stop()])).resolves.toEqual([undefined, undefined]);
      expect(log.events).toEqual([]);
    });

    it('every operation before start() rejects with a reconnectable EngineError', async () => {
      const { engine } = create();
      await expectAllRejectReconnectable(engine, chatId);
    });

    it("every operation after start() and before 'ready' rejects with a reconnectable EngineError", async () => {
      const { engine, log } = create();
      await engine.start();
      await expectAllRejectReconnectable(engine, chatId);
      if (firstWord) {
        // While the QR shows, and after a failure report alike.
        await log.next(firstWord, timeoutMs);
        await expectAllRejectReconnectable(engine, chatId);
      }
    });

    it('stop() right after start() is idempotent; then no event comes (no QR, no failure report) and every operation rejects as reconnectable', async () => {
      const { engine, log } = create();
      await expect(engine.start()).resolves.toBeUndefined();
      await Promise.all([engine.stop(), engine.stop()]);
      await engine.stop();
      const seen = log.events.length;
      await delay(quietMs);
      expect(log.events.slice(seen)).toEqual([]);
      await expectAllRejectReconnectable(engine, chatId);
    });

    const startFailure = capabilities.startFailure;
    if (startFailure !== undefined && !capabilities.showsQr) {
      it(`start() where WhatsApp cannot be reached resolves, then reports one reconnectable engine_failure (${startFailure}) and no QR`, async () => {
        const { engine, log } = create();
        await expect(engine.start()).resolves.toBeUndefined();
        const failure = await log.next('engine_failure', timeoutMs);
        expect(failure).toEqual({ type: 'engine_failure', code: startFailure, message: anyString, reconnectable: true });
        expect(log.ofType('engine_failure')).toHaveLength(1);
        for (const type of ['qr', 'authenticated', 'ready'] as const) expect(log.ofType(type)).toEqual([]);
        // The session manager stops a failed engine before it retries: that must still work.
        await expect(engine.stop()).resolves.toBeUndefined();
      });
    }

    if (capabilities.showsQr) {
      it("start() without auth data emits a 'qr' event with a non-empty string, and no 'ready'", async () => {
        const { engine, log } = create();
        await expect(engine.start()).resolves.toBeUndefined();
        const qr = await log.next('qr', timeoutMs);
        expect(typeof qr.qr).toBe('string');
        expect(qr.qr.length).toBeGreaterThan(0);
        expect(log.ofType('ready')).toEqual([]);
        expect(log.ofType('authenticated')).toEqual([]);
      });

      it('stop() is idempotent and no event comes after it', async () => {
        const { engine, log } = create();
        await engine.start();
        await log.next('qr', timeoutMs);
        await engine.stop();
        await Promise.all([engine.stop(), engine.stop()]);
        await engine.stop();
        const seen = log.events.length;
        await delay(quietMs);
        expect(log.events.slice(seen)).toEqual([]);
        await expectAllRejectReconnectable(engine, chatId);
      });
    }

    if (firstWord) {
      it('an unsubscribed listener gets nothing while the others still get every event', async () => {
        const { engine, log } = create();
        const dropped: EngineEvent[] = [];
        const unsubscribe = engine.onEvent((event) => dropped.push(event));
        unsubscribe();
        await engine.start();
        await log.next(firstWord, timeoutMs);
        expect(dropped).toEqual([]);
        // Unsubscribing twice is harmless and leaves the other listeners alone.
        unsubscribe();
        if (capabilities.canLink) {
          log.unsubscribe();
          const seen = log.events.length;
          const after = new EngineEventLog(engine);
          await capabilities.canLink(engine);
          await after.next('ready', timeoutMs);
          expect(log.events.length).toBe(seen);
          expect(dropped).toEqual([]);
        }
      });

      it('a throwing listener does not keep events from the other listeners', async () => {
        const { engine, log } = create();
        engine.onEvent(() => {
          throw new Error('listener bug');
        });
        const later = new EngineEventLog(engine);
        await engine.start();
        await expect(log.next(firstWord, timeoutMs)).resolves.toMatchObject({ type: firstWord });
        await expect(later.next(firstWord, timeoutMs)).resolves.toMatchObject({ type: firstWord });
      });
    }

    const link = capabilities.canLink;
    if (capabilities.showsQr && link) {
      /** A started engine, linked by the capability, once it is ready. */
      const linked = async (auth?: MemoryAuthStore): Promise<Created & { me: EngineEventOf<'ready'>['me'] }> => {
        const created = create(auth);
        await created.engine.start();
        await created.log.next('qr', timeoutMs);
        await link(created.engine);
        const ready = await created.log.next('ready', timeoutMs);
        return { ...created, me: ready.me };
      };

      it("linking emits 'authenticated' then 'ready' with `me`, and no QR after the scan", async () => {
        const { log, me } = await linked();
        const types = log.types();
        const authenticatedAt = types.indexOf('authenticated');
        expect(authenticatedAt).toBeGreaterThan(types.indexOf('qr'));
        expect(types.indexOf('ready')).toBeGreaterThan(authenticatedAt);
        expect(types.slice(authenticatedAt)).not.toContain('qr');
        expect(me.phone).toMatch(/^\d{8,15}$/);
        expect(me.id).toBe(`${me.phone}@c.us`);
        expect(me.pushName === null || typeof me.pushName === 'string').toBe(true);
      });

      it("start() with saved auth data emits 'ready' with the same `me` and never a 'qr'", async () => {
        const first = await linked();
        await first.engine.stop();
        const second = create(first.auth, first.sessionId);
        await second.engine.start();
        const ready = await second.log.next('ready', timeoutMs);
        expect(ready.me).toEqual(first.me);
        expect(second.log.ofType('qr')).toEqual([]);
      });

      it('getNumberId resolves numbers on WhatsApp to a chat id, and others to null', async () => {
        const { engine } = await linked();
        await expect(engine.getNumberId(numbers.onWhatsApp)).resolves.toBe(chatId);
        await expect(engine.getNumberId(numbers.notOnWhatsApp)).resolves.toBeNull();
      });

      it('send resolves with the WhatsApp id and time of the message', async () => {
        const { engine } = await linked();
        const before = Math.floor(Date.now() / 1000);
        const sent = await engine.send(chatId, { type: 'text', text: 'hello' }, {});
        const other = await engine.send(chatId, { type: 'location', location: { latitude: -23.5, longitude: -46.6, name: 'São Paulo' } }, {});
        expect(sent.waMessageId).toEqual(anyString);
        expect(sent.waMessageId.length).toBeGreaterThan(0);
        expect(other.waMessageId).not.toBe(sent.waMessageId);
        expect(sent.timestamp).toBeGreaterThanOrEqual(before);
        expect(sent.timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      });

      it('react, edit and revoke work on a sent message and reject MESSAGE_NOT_FOUND for an unknown one', async () => {
        const { engine } = await linked();
        const { waMessageId } = await engine.send(chatId, { type: 'text', text: 'to be changed' }, {});
        await expect(engine.react(waMessageId, '👍')).resolves.toBeUndefined();
        await expect(engine.react(waMessageId, '')).resolves.toBeUndefined();
        await expect(engine.edit(waMessageId, 'changed')).resolves.toBeUndefined();
        await expect(engine.revoke(waMessageId, true)).resolves.toBeUndefined();
        for (const run of [() => engine.react(UNKNOWN_MESSAGE_ID, '👍'), () => engine.edit(UNKNOWN_MESSAGE_ID, 'x'), () => engine.revoke(UNKNOWN_MESSAGE_ID, true)]) {
          expect((await engineErrorOf(run())).code).toBe('MESSAGE_NOT_FOUND');
        }
      });

      it('markSeen, setPresence and getProfilePictureUrl work on a ready engine', async () => {
        const { engine } = await linked();
        await expect(engine.markSeen(chatId)).resolves.toBeUndefined();
        for (const state of ['typing', 'recording', 'paused'] as const) await expect(engine.setPresence(chatId, state)).resolves.toBeUndefined();
        const url = await engine.getProfilePictureUrl(chatId);
        expect(url === null || /^https?:\/\//.test(url)).toBe(true);
      });

      it('contacts and chats include the chat a message was sent to', async () => {
        const { engine } = await linked();
        const { waMessageId } = await engine.send(chatId, { type: 'text', text: 'hello chat' }, {});
        const contacts = await engine.getContacts();
        expect(contacts).toContainEqual(expect.objectContaining({ id: chatId, isGroup: false }) as unknown);
        for (const contact of contacts) {
          expect(contact).toEqual({
            id: anyString,
            phone: contact.phone === null ? null : anyString,
            name: contact.name === null ? null : anyString,
            pushName: contact.pushName === null ? null : anyString,
            isBusiness: anyBoolean,
            isMyContact: anyBoolean,
            isGroup: anyBoolean,
          });
        }
        const chats = await engine.getChats();
        const chat = chats.find((c) => c.id === chatId);
        expect(chat).toMatchObject({ id: chatId, isGroup: false, lastMessage: { id: waMessageId, body: 'hello chat', fromMe: true } });
      });

      it('after stop() a ready engine emits nothing more and rejects every operation as reconnectable', async () => {
        const { engine, log } = await linked();
        await engine.send(chatId, { type: 'text', text: 'acks must not come after stop' }, {});
        await engine.stop();
        await engine.stop();
        const seen = log.events.length;
        await delay(quietMs);
        expect(log.events.slice(seen)).toEqual([]);
        await expectAllRejectReconnectable(engine, chatId);
      });

      it('logout() drops the auth data, so the next start shows a QR again', async () => {
        const { engine, auth, log, sessionId } = await linked();
        await engine.logout();
        expect(await auth.load()).toBeNull();
        const seen = log.events.length;
        await delay(quietMs);
        expect(log.events.slice(seen).map((e) => e.type)).not.toContain('ready');
        const next = create(auth, sessionId);
        await next.engine.start();
        await expect(next.log.next('qr', timeoutMs)).resolves.toMatchObject({ type: 'qr' });
        expect(next.log.ofType('ready')).toEqual([]);
      });
    }
  });
}

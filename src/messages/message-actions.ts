import { AppError } from '../errors.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { MessageStore } from '../storage/message-store.js';
import type { MessageRecord } from './message.js';
import type { MessageService } from './message-service.js';
import { publishMessageStatus } from './message-status-event.js';
import type { EventBus } from '../events/event-bus.js';
import { cancelQueued } from './send-attempt.js';
import { textField } from './message-pipeline.js';

export interface ActionResult {
  id: string | null;
  waMessageId: string;
  message: MessageRecord | null;
}

export interface RevokeResult {
  id: string | null;
  waMessageId: string | null;
  result: 'cancelled' | 'revoked' | 'deleted_for_me';
  message: MessageRecord | null;
}

/**
 * Edit, revoke (or cancel), react: on a message of ours (`msg_…` or its WhatsApp id) or any
 * WhatsApp id the engine knows. The engine checks what WhatsApp allows and throws EngineError
 * (MESSAGE_NOT_FOUND, EDIT_NOT_ALLOWED, REVOKE_NOT_ALLOWED), mapped by the error handler.
 */
export class MessageActions {
  constructor(private readonly deps: { service: MessageService; store: MessageStore; sessions: SessionManager; bus: EventBus }) {}

  async edit(sessionId: string, messageId: string, text: string): Promise<ActionResult> {
    const { record, waMessageId } = await this.target(sessionId, messageId, 'edited');
    await this.deps.sessions.readyEngine(sessionId).edit(waMessageId, text);
    const message = record
      ? await this.deps.store.modify(record.id, (current) => {
          const field = textField(current.content);
          const next = { ...current, content: { ...current.content, [field]: text, editedAt: Math.floor(Date.now() / 1000) } };
          return { record: next, result: next };
        })
      : null;
    return { id: record?.id ?? null, waMessageId, message };
  }

  async revoke(sessionId: string, messageId: string, forEveryone: boolean): Promise<RevokeResult> {
    const record = await this.deps.service.find(sessionId, messageId);
    if (record?.direction === 'outbound' && record.waMessageId === null) {
      const cancelled = await this.deps.store.modify(record.id, cancelQueued(new Date().toISOString()));
      if (cancelled?.outcome === 'in_flight') throw new AppError('MESSAGE_NOT_SENT', `Message '${record.id}' is being handed to WhatsApp right now; retry in a moment`);
      if (cancelled?.outcome === 'cancelled') {
        publishMessageStatus(this.deps.bus, cancelled.record);
        await this.deps.store.dropPayload(record.id);
        return { id: record.id, waMessageId: null, result: 'cancelled', message: cancelled.record };
      }
      if (!cancelled?.record.waMessageId) throw new AppError('MESSAGE_NOT_SENT', `Message '${record.id}' is ${cancelled?.record.status ?? 'gone'} and was never sent`);
    }
    const { record: target, waMessageId } = await this.target(sessionId, messageId, 'revoked');
    await this.deps.sessions.readyEngine(sessionId).revoke(waMessageId, forEveryone);
    const message = target
      ? await this.deps.store.modify(target.id, (current) => {
          const next = { ...current, content: { ...current.content, [forEveryone ? 'revokedAt' : 'deletedForMeAt']: Math.floor(Date.now() / 1000) } };
          return { record: next, result: next };
        })
      : null;
    return { id: target?.id ?? null, waMessageId, result: forEveryone ? 'revoked' : 'deleted_for_me', message };
  }

  async react(sessionId: string, messageId: string, emoji: string): Promise<ActionResult> {
    const { record, waMessageId } = await this.target(sessionId, messageId, 'reacted to');
    await this.deps.sessions.readyEngine(sessionId).react(waMessageId, emoji);
    return { id: record?.id ?? null, waMessageId, message: record };
  }

  /** The WhatsApp id to act on: our record's, or the parameter itself when it is WhatsApp's. */
  private async target(sessionId: string, messageId: string, verb: string): Promise<{ record: MessageRecord | null; waMessageId: string }> {
    const record = await this.deps.service.find(sessionId, messageId);
    if (record) {
      if (record.waMessageId === null) throw new AppError('MESSAGE_NOT_SENT', `Message '${record.id}' is ${record.status}: it cannot be ${verb} before WhatsApp has it`);
      return { record, waMessageId: record.waMessageId };
    }
    if (messageId.startsWith('msg_')) throw new AppError('MESSAGE_NOT_FOUND', `Message '${messageId}' does not exist in session '${sessionId}'`);
    return { record: null, waMessageId: messageId };
  }
}

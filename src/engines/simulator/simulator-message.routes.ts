import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../../errors.js';
import { ACK_STATUS } from '../../events/contract-events.js';
import { errorResponses } from '../../http/schemas.js';
import type { SessionManager } from '../../sessions/session-manager.js';
import { SessionIdParams } from '../../sessions/session.schemas.js';
import { readySimulatorOf } from './simulator-access.js';
import type { SimulatedMessage, SimulatorEngine } from './simulator-engine.js';
import { AckBody, AckResponse, EditBody, EditResponse, InboundBody, InboundResponse, RevokeBody, RevokeResponse, inboundChatId, toAckLevel } from './simulator.schemas.js';

const tags = ['Simulator'];

/** WhatsApp lets a sender edit texts and captions only. */
const EDITABLE_TYPES: readonly string[] = ['text', 'image', 'video', 'document'];

const NOT_CONNECTED = (id: string): AppError => new AppError('SESSION_NOT_READY', `Session '${id}': the simulated phone disconnected meanwhile`);

/** What the simulated phone remembers of a message: 404 MESSAGE_NOT_FOUND when it does not know it. */
function knownMessage(engine: SimulatorEngine, messageId: string): SimulatedMessage {
  const message = engine.message(messageId);
  if (message) return message;
  const hint = messageId.startsWith('msg_') ? ": the simulator routes take WhatsApp's id (waMessageId), not the gateway's msg_ id" : '';
  throw new AppError('MESSAGE_NOT_FOUND', `The simulated phone does not know message '${messageId}'${hint}`);
}

/** What contacts do to us through the simulated phone: write, edit, revoke; and acks driven by hand. */
export async function simulatorMessageRoutes(parent: FastifyInstance, options: { sessions: SessionManager }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions } = options;
  const errors = errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE');

  app.post('/api/v1/sessions/:id/simulator/inbound', {
    schema: {
      tags,
      summary: 'A contact writes to us',
      description:
        'The simulated phone receives the message: the gateway sees `message_create` and `message` events as from WhatsApp. Answers 201 with the new message\'s WhatsApp id. A phone in `from` becomes `<digits>@c.us`; numbers ending in 0000 are not on WhatsApp (400). `quotedMessageId` must be a message the simulated phone knows (404 MESSAGE_NOT_FOUND). Media travels in the body: at most 512 KiB decoded.',
      params: SessionIdParams,
      body: InboundBody,
      response: { 201: InboundResponse, ...errors },
    },
    handler: async (request, reply) => {
      const engine = readySimulatorOf(sessions, request.params.id);
      const { type, text, media, location, quotedMessageId, pushName } = request.body;
      // The schema refused anything inboundChatId does not map.
      const chatId = inboundChatId(request.body.from) ?? request.body.from;
      if (quotedMessageId !== undefined) knownMessage(engine, quotedMessageId);
      const waMessageId = engine.receive({ from: chatId, type, text, media, location, quotedMessageId, pushName });
      return reply.code(201).send({ waMessageId, chatId });
    },
  });

  app.post('/api/v1/sessions/:id/simulator/ack', {
    schema: {
      tags,
      summary: 'Drive an ack by hand',
      description:
        "Emits `message_ack` for a message the simulated phone knows (`messageId` is WhatsApp's id). Turn the automatic acks off first with `POST …/simulator/faults { autoAck: false }` to control the whole sequence.",
      params: SessionIdParams,
      body: AckBody,
      response: { 200: AckResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      const { messageId } = request.body;
      const ack = toAckLevel(request.body.ack);
      const engine = readySimulatorOf(sessions, id);
      const message = knownMessage(engine, messageId);
      if (!engine.ack(messageId, ack)) throw NOT_CONNECTED(id);
      return { messageId, chatId: message.chatId, ack, status: ACK_STATUS[ack] };
    },
  });

  app.post('/api/v1/sessions/:id/simulator/edit', {
    schema: {
      tags,
      summary: 'A contact edits one of their messages',
      description:
        'Emits `message_edit`. Only a message the contact sent (not one of ours), not revoked, and a text or a caption (text, image, video, document) can be edited: else 422 EDIT_NOT_ALLOWED.',
      params: SessionIdParams,
      body: EditBody,
      response: { 200: EditResponse, ...errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE', 'EDIT_NOT_ALLOWED') },
    },
    handler: async (request) => {
      const { id } = request.params;
      const { messageId, text } = request.body;
      const engine = readySimulatorOf(sessions, id);
      const message = knownMessage(engine, messageId);
      if (message.fromMe) throw new AppError('EDIT_NOT_ALLOWED', `Message '${messageId}' is ours, not the contact's: edit it with PATCH /api/v1/sessions/${id}/messages/:messageId`);
      if (message.revoked) throw new AppError('EDIT_NOT_ALLOWED', `Message '${messageId}' was revoked`);
      if (!EDITABLE_TYPES.includes(message.type)) throw new AppError('EDIT_NOT_ALLOWED', `A ${message.type} message cannot be edited (only texts and captions)`);
      if (!engine.contactEdits(messageId, text)) throw NOT_CONNECTED(id);
      return { messageId, chatId: message.chatId, newBody: text, previousBody: message.body };
    },
  });

  app.post('/api/v1/sessions/:id/simulator/revoke', {
    schema: {
      tags,
      summary: 'A contact revokes one of their messages for everyone',
      description: 'Emits `message_revoke_everyone`. Only a message the contact sent (not one of ours) and not revoked yet: else 422 REVOKE_NOT_ALLOWED.',
      params: SessionIdParams,
      body: RevokeBody,
      response: { 200: RevokeResponse, ...errorResponses('SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE', 'REVOKE_NOT_ALLOWED') },
    },
    handler: async (request) => {
      const { id } = request.params;
      const { messageId } = request.body;
      const engine = readySimulatorOf(sessions, id);
      const message = knownMessage(engine, messageId);
      if (message.fromMe) throw new AppError('REVOKE_NOT_ALLOWED', `Message '${messageId}' is ours, not the contact's: revoke it with DELETE /api/v1/sessions/${id}/messages/:messageId`);
      if (message.revoked) throw new AppError('REVOKE_NOT_ALLOWED', `Message '${messageId}' was already revoked`);
      if (!engine.contactRevokes(messageId)) throw NOT_CONNECTED(id);
      return { messageId, chatId: message.chatId, revoked: true as const };
    },
  });
}

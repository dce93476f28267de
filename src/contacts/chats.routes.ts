import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Engine, EngineChat } from '../engines/engine.js';
import { AppError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { Recipient } from '../messages/phone-number.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import { parseAddressParam, resolveAddress } from './chat-address.js';
import { pageOfChats } from './chat-page.js';
import { ChatPageResponse, ChatParams, ChatsQuery, PresenceBody, PresenceResponse, SeenResponse } from './contacts.schemas.js';
import { numberLookupOf } from './number-lookup-cache.js';

const tags = ['Contacts and chats'];

/** A chat as the API shows it: times in API bodies are ISO-8601. */
const toChatView = (chat: EngineChat) => ({
  id: chat.id,
  name: chat.name,
  isGroup: chat.isGroup,
  unreadCount: chat.unreadCount,
  archived: chat.archived,
  pinned: chat.pinned,
  muted: chat.muted,
  lastMessage: chat.lastMessage
    ? { id: chat.lastMessage.id, body: chat.lastMessage.body, fromMe: chat.lastMessage.fromMe, timestamp: new Date(chat.lastMessage.timestamp * 1000).toISOString() }
    : null,
});

/** Chats of a ready session: the list, and marking read / showing presence in one. */
export async function chatRoutes(parent: FastifyInstance, options: { sessions: SessionManager }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions } = options;
  const numbers = numberLookupOf(sessions);

  const readyEngine = (id: string): Engine => {
    const engine = sessions.readyEngine(id);
    sessions.touch(id);
    return engine;
  };
  /** The chat an address names in a ready session: 422 when the phone is not on WhatsApp (there is no such chat). */
  const chatOf = async (id: string, address: Recipient): Promise<{ engine: Engine; chatId: string }> => {
    const engine = readyEngine(id);
    const chatId = await resolveAddress(address, id, engine, numbers);
    if (chatId === null) throw new AppError('NOT_SUPPORTED_BY_ENGINE', `${address.kind === 'phone' ? address.phone : address.chatId} is not on WhatsApp: there is no chat with it`);
    return { engine, chatId };
  };
  const errors = errorResponses('SESSION_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE');
  const unknownChat =
    '422 NOT_SUPPORTED_BY_ENGINE when WhatsApp has no such chat (a phone not on WhatsApp; on webjs also a chat id WhatsApp Web does not know).';

  app.get('/api/v1/sessions/:id/chats', {
    schema: {
      tags,
      summary: 'Chats',
      description: "Read from WhatsApp on every call, most recent activity first (the last message's time; chats without messages last), then by id.",
      params: SessionIdParams,
      querystring: ChatsQuery,
      response: { 200: ChatPageResponse, ...errors },
    },
    handler: async (request) => {
      const engine = readyEngine(request.params.id);
      const page = pageOfChats(await engine.getChats(), request.query.limit, request.query.cursor);
      return { data: page.data.map(toChatView), nextCursor: page.nextCursor };
    },
  });

  app.post('/api/v1/sessions/:id/chats/:chatId/seen', {
    schema: {
      tags,
      summary: 'Mark a chat as read',
      description: `Sends the read receipts of the chat's messages (blue ticks). \`chatId\` is a chat id or a phone number (resolved to WhatsApp's canonical id). Answers 200 with the chat id marked. ${unknownChat}`,
      params: ChatParams,
      response: { 200: SeenResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      const { engine, chatId } = await chatOf(id, parseAddressParam('chatId', request.params.chatId));
      await engine.markSeen(chatId);
      return { chatId, seen: true as const };
    },
  });

  app.post('/api/v1/sessions/:id/chats/:chatId/presence', {
    schema: {
      tags,
      summary: 'Show typing or recording in a chat',
      description: `\`typing\` and \`recording\` show for about 25 s unless repeated; \`paused\` clears them. \`chatId\` is a chat id or a phone number. ${unknownChat}`,
      params: ChatParams,
      body: PresenceBody,
      response: { 200: PresenceResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      const { engine, chatId } = await chatOf(id, parseAddressParam('chatId', request.params.chatId));
      await engine.setPresence(chatId, request.body.state);
      return { chatId, state: request.body.state };
    },
  });
}

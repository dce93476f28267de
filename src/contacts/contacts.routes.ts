import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Engine } from '../engines/engine.js';
import type { EventBus } from '../events/event-bus.js';
import { errorResponses } from '../http/schemas.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import type { ContactStore } from '../storage/contact-store.js';
import { parseAddressParam, parsePhoneParam, resolveAddress } from './chat-address.js';
import { ContactDirectory, endsAccount } from './contact-directory.js';
import { ContactPageResponse, ContactParams, ContactsQuery, ExistsResponse, PhoneParams, ProfilePictureResponse, SyncResponse } from './contacts.schemas.js';
import { numberLookupOf } from './number-lookup-cache.js';

const tags = ['Contacts and chats'];

export interface ContactRoutesOptions {
  sessions: SessionManager;
  contacts: ContactStore;
  /** To drop a session's cached contacts when it is deleted or unlinked. */
  bus: EventBus;
}

/** Contacts of a ready session: the synced cache, number checks and profile pictures. */
export async function contactRoutes(parent: FastifyInstance, options: ContactRoutesOptions): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions, contacts, bus } = options;
  const directory = new ContactDirectory(sessions, contacts);
  const numbers = numberLookupOf(sessions);

  const unsubscribe = bus.subscribe((event) => {
    if (!endsAccount(event, sessions)) return;
    numbers.forgetSession(event.sessionId);
    directory.forget(event.sessionId).catch((error: unknown) => app.log.warn({ err: error, sessionId: event.sessionId }, 'dropping the cached contacts of a session failed'));
  });
  app.addHook('onClose', async () => {
    unsubscribe();
  });

  const readyEngine = (id: string): Engine => {
    const engine = sessions.readyEngine(id);
    sessions.touch(id);
    return engine;
  };
  const errors = errorResponses('SESSION_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE');

  app.get('/api/v1/sessions/:id/contacts', {
    schema: {
      tags,
      summary: 'Synced contacts',
      description:
        'Served from the gateway\'s cache of the contacts, ordered by id; the cache is filled from WhatsApp on the first listing (and again after the session is linked to another phone) and refreshed by `POST …/contacts/sync`. `query` filters case-insensitively on name, push name, phone and id. 409 SESSION_NOT_READY unless the session is ready.',
      params: SessionIdParams,
      querystring: ContactsQuery,
      response: { 200: ContactPageResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      readyEngine(id);
      return directory.list(id, request.query);
    },
  });

  app.post('/api/v1/sessions/:id/contacts/sync', {
    schema: {
      tags,
      summary: 'Refresh the contacts cache from WhatsApp',
      description: 'Replaces the cached contacts at once with what WhatsApp lists now. Concurrent syncs of a session share one fetch.',
      params: SessionIdParams,
      response: { 200: SyncResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      readyEngine(id);
      const { count } = await directory.sync(id);
      return { count };
    },
  });

  app.get('/api/v1/sessions/:id/contacts/:phone/exists', {
    schema: {
      tags,
      summary: 'Whether a phone number is on WhatsApp',
      description:
        "Asks WhatsApp (whatsapp-web.js `getNumberId`) for the number's canonical id; answers, positive or negative, are cached for 10 minutes per session. 400 for a `phone` that is not a phone number in international form (8–15 digits).",
      params: PhoneParams,
      response: { 200: ExistsResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      const phone = parsePhoneParam('phone', request.params.phone);
      const engine = readyEngine(id);
      const chatId = await numbers.resolve(id, phone, (digits) => engine.getNumberId(digits));
      return { phone, exists: chatId !== null, chatId };
    },
  });

  app.get('/api/v1/sessions/:id/contacts/:contactId/profile-picture', {
    schema: {
      tags,
      summary: "A contact's or group's profile picture URL",
      description:
        "`contactId` is a phone number (resolved to WhatsApp's canonical id) or a chat id. `url` is null when the picture is hidden or absent, or the number is not on WhatsApp. WhatsApp's URLs expire: fetch the picture soon.",
      params: ContactParams,
      response: { 200: ProfilePictureResponse, ...errors },
    },
    handler: async (request) => {
      const { id } = request.params;
      const address = parseAddressParam('contactId', request.params.contactId);
      const engine = readyEngine(id);
      const chatId = await resolveAddress(address, id, engine, numbers);
      return { url: chatId === null ? null : await engine.getProfilePictureUrl(chatId) };
    },
  });
}

import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, sessionNotFound } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { SessionIdParams } from '../sessions/session.schemas.js';
import { MEDIA_ID_PATTERN, type MediaStore } from './media-store.js';

const tags = ['Contacts and chats'];

export const MediaParams = z.object({
  id: SessionIdParams.shape.id,
  mediaId: z
    .string()
    .regex(MEDIA_ID_PATTERN, 'must match ^med_[A-Za-z0-9_-]{16,64}$')
    .describe('`data.media.mediaId` of a `message` event (`data.media.url` is this route’s path)'),
});

const MediaBytes = z
  .string()
  .meta({ format: 'binary', examples: ['<the file’s bytes, e.g. a JPEG: FF D8 FF E0 …>'] })
  .describe('The file as received; `content-type` is its mimetype');

export interface MediaRoutesOptions {
  sessions: SessionManager;
  media: MediaStore;
}

/** `GET /api/v1/sessions/:id/media/:mediaId`: inbound media kept MEDIA_TTL. */
export async function mediaRoutes(parent: FastifyInstance, options: MediaRoutesOptions): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions, media } = options;

  app.get('/api/v1/sessions/:id/media/:mediaId', {
    schema: {
      tags,
      summary: 'Inbound media file',
      description: [
        'The bytes of a media file a contact sent, as announced by the `message` event (`data.media`: `{ mediaId, mimetype, filename, size, url }`, `url` being this path relative to the gateway’s base URL; call it with the API key like any other route).',
        'Answers with the file’s `content-type`, `content-length`, `content-disposition: inline` (with `filename*` when the sender gave a name) and `cache-control: private`.',
        'Files are kept MEDIA_TTL (default 24 h) after they arrived and removed with their session; afterwards, and for an id of another session, 404 MEDIA_NOT_FOUND.',
      ].join(' '),
      params: MediaParams,
      response: {
        200: {
          description: 'The media file',
          content: { '*/*': { schema: MediaBytes } },
        },
        ...errorResponses('SESSION_NOT_FOUND', 'MEDIA_NOT_FOUND'),
      },
    },
    handler: async (request, reply) => {
      const { id, mediaId } = request.params;
      if (!sessions.has(id)) throw sessionNotFound(id);
      const opened = await media.open(id, mediaId);
      if (!opened) throw new AppError('MEDIA_NOT_FOUND', `Media '${mediaId}' of session '${id}' does not exist or has expired`);
      const { mimetype, filename, size, expiresAt } = opened.media;
      const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
      return sendStream(
        reply
          .type(mimetype)
          .header('content-length', size)
          .header('content-disposition', contentDisposition(filename))
          .header('cache-control', `private, max-age=${maxAge}`)
          // The type is the sender's: never let a browser guess another one or run what it renders.
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', "default-src 'none'; sandbox"),
        opened.stream,
      );
    },
  });
}

/** Sends the bytes as they are: Fastify pipes streams without serializing, whatever the route's schema. */
function sendStream(reply: FastifyReply, stream: Readable): FastifyReply {
  return reply.send(stream);
}

/** `inline`, with an ASCII `filename` and the exact name in `filename*` (RFC 6266 / RFC 8187) when known. */
export function contentDisposition(filename: string | null): string {
  if (filename === null) return 'inline';
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `inline; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

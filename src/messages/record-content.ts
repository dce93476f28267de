import type { SendMessage } from './message.schemas.js';
import { base64DecodedBytes } from './message.schemas.js';

/**
 * What a record shows of its send body (`content`): every field but the recipient and the
 * envelope fields kept elsewhere (`clientRef`), and media without its bytes — base64 media is
 * described by `{ mimetype, filename, size }`, URL media keeps its `url`. The full body is stored
 * beside the record for the worker and dropped once the send is over.
 */
export function recordContent(body: SendMessage): Record<string, unknown> {
  const { to: _to, clientRef: _clientRef, type: _type, ...rest } = body;
  if (!('media' in rest)) return rest;
  const { media, ...others } = rest;
  const shown = 'url' in media ? { url: media.url } : { mimetype: media.mimetype, filename: media.filename ?? null, size: base64DecodedBytes(media.data) };
  return { ...others, media: shown };
}

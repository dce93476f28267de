import type { Readable } from 'node:stream';

/** `med_` + 22 base64url characters (128 random bits): unguessable, and safe as a file name. */
export const MEDIA_ID_PATTERN = /^med_[A-Za-z0-9_-]{16,64}$/;

/** What the gateway keeps of one inbound media file (the bytes live beside it). */
export interface StoredMedia {
  mediaId: string;
  sessionId: string;
  mimetype: string;
  /** The sender's file name, cleaned for use in a header; null when WhatsApp gave none. */
  filename: string | null;
  /** Bytes. */
  size: number;
  createdAt: Date;
  /** `createdAt + MEDIA_TTL`: from then on the media is gone (404 `MEDIA_NOT_FOUND`). */
  expiresAt: Date;
}

/** An open media file: its description and its bytes (a stream read from an open descriptor). */
export interface OpenedMedia {
  media: StoredMedia;
  stream: Readable;
}

/**
 * The `media` object of a `message` event and of an inbound record's `content` (never the bytes).
 * `url` is relative to the gateway's base URL and needs the API key like every other route.
 */
export interface MediaRef {
  mediaId: string;
  mimetype: string;
  filename: string | null;
  size: number;
  url: string;
}

/**
 * Why inbound media could not be stored (`mediaError` of the `message` event):
 * `MEDIA_TOO_LARGE` above `MEDIA_MAX_BYTES`, `MEDIA_STORE_FULL` when the store's total bound is
 * reached, `MEDIA_STORE_FAILED` for anything else (disk error…).
 */
export type MediaStoreErrorCode = 'MEDIA_TOO_LARGE' | 'MEDIA_STORE_FULL' | 'MEDIA_STORE_FAILED';

export class MediaStoreError extends Error {
  constructor(
    readonly code: MediaStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MediaStoreError';
  }
}

/** The code to report for an error thrown by {@link MediaStore.put}. */
export function mediaStoreErrorCode(error: unknown): MediaStoreErrorCode {
  return error instanceof MediaStoreError ? error.code : 'MEDIA_STORE_FAILED';
}

/** Inbound media of every session, kept `MEDIA_TTL`, served by `GET /api/v1/sessions/:id/media/:mediaId`. */
export interface MediaStore {
  /** Stores the bytes; the returned media is readable once the promise resolves. */
  put(sessionId: string, input: { data: Buffer; mimetype: string; filename?: string | null | undefined }): Promise<StoredMedia>;
  /** The media and its bytes, or null when unknown, expired (then removed) or of another session. */
  open(sessionId: string, mediaId: string): Promise<OpenedMedia | null>;
  /** Removes every media file of a session (the session was deleted). */
  removeSession(sessionId: string): Promise<void>;
  /** Removes expired media and stale leftovers of interrupted writes; the number of media removed. */
  sweep(): Promise<number>;
  /** Stops the periodic sweep (waits for a running one). */
  close(): Promise<void>;
}

/** The route serving a media file, relative to the gateway's base URL. */
export function mediaUrl(sessionId: string, mediaId: string): string {
  return `/api/v1/sessions/${encodeURIComponent(sessionId)}/media/${encodeURIComponent(mediaId)}`;
}

export function mediaRef(media: StoredMedia): MediaRef {
  return { mediaId: media.mediaId, mimetype: media.mimetype, filename: media.filename, size: media.size, url: mediaUrl(media.sessionId, media.mediaId) };
}

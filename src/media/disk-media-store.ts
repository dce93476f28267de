import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { SESSION_ID_PATTERN } from '../sessions/session.js';
import { MEDIA_ID_PATTERN, MediaStoreError, type MediaStore, type OpenedMedia, type StoredMedia } from './media-store.js';

/** Temp files and bytes without a sidecar (a write cut short by a crash) older than this are removed by the sweep. */
const LEFTOVER_MS = 10 * 60_000;
const MIN_SWEEP_INTERVAL_MS = 1_000;
const MAX_SWEEP_INTERVAL_MS = 10 * 60_000;
const MAX_FILENAME_LENGTH = 255;
const MAX_MIMETYPE_LENGTH = 255;
const FALLBACK_MIMETYPE = 'application/octet-stream';
/** `type/subtype` with optional parameters (`audio/ogg; codecs=opus`), printable ASCII only (it becomes a header). */
const MIMETYPE_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[ -~]*)?$/;
const SIDECAR_SUFFIX = '.json';
const TEMP_SUFFIX = '.tmp';

const Sidecar = z.object({
  v: z.literal(1),
  mediaId: z.string().regex(MEDIA_ID_PATTERN),
  sessionId: z.string().regex(SESSION_ID_PATTERN),
  mimetype: z.string(),
  filename: z.string().nullable(),
  size: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});

export interface DiskMediaStoreOptions {
  /** Directory holding `<sessionId>/<mediaId>` (+ `<mediaId>.json`): `<SESSIONS_PATH>/media`. */
  root: string;
  /** `MEDIA_TTL`: how long a media file is served after it was stored. */
  ttlMs: number;
  /** `MEDIA_MAX_BYTES`: a larger file is refused (`MEDIA_TOO_LARGE`). */
  maxFileBytes: number;
  /** Bound on the bytes of all stored media; a file that would pass it is refused (`MEDIA_STORE_FULL`). Default: none. */
  maxTotalBytes?: number | undefined;
  /** Period of the sweep of expired files; default a quarter of the TTL, within 1 s – 10 min. */
  sweepIntervalMs?: number | undefined;
  /** Clock (tests). */
  now?: (() => number) | undefined;
  /** Told about failures of the background sweep (it goes on with the next file). */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

/**
 * Inbound media on the local disk: `<root>/<sessionId>/<mediaId>` holds the bytes and
 * `<mediaId>.json` (the sidecar) the mimetype, file name, size and times. Both are written to
 * temp files and renamed into place, bytes first: the sidecar is the commit mark, so a reader
 * never sees a partial file. Expired media is refused on read (and removed then) and removed by a
 * periodic sweep on an unref'd timer.
 *
 * Nothing is kept in memory but an estimate of the total size (recomputed by every sweep), so the
 * same files are served by embedded and Redis mode alike. NOTE for deployments with several
 * replicas: a media file is only on the disk of the replica that received the message — give the
 * replicas a shared volume for `SESSIONS_PATH` (or at least `<SESSIONS_PATH>/media`), or route a
 * session's requests to the replica that runs it (sticky sessions). With a shared volume each
 * replica's total-size estimate lags the others' writes until its next sweep.
 */
export class DiskMediaStore implements MediaStore {
  private readonly now: () => number;
  private readonly maxTotalBytes: number;
  private readonly sweepIntervalMs: number;
  /** Bytes of the stored media, as of the last sweep plus the writes and removals since. */
  private totalBytes = 0;
  /** Bytes of writes under way (counted against the total bound before they land). */
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<number> | null = null;

  constructor(private readonly options: DiskMediaStoreOptions) {
    this.now = options.now ?? Date.now;
    this.maxTotalBytes = options.maxTotalBytes ?? Number.POSITIVE_INFINITY;
    this.sweepIntervalMs = options.sweepIntervalMs ?? Math.min(Math.max(Math.floor(options.ttlMs / 4), MIN_SWEEP_INTERVAL_MS), MAX_SWEEP_INTERVAL_MS);
  }

  /** Sweeps once now (which also counts what a previous run left) and then periodically. */
  start(): void {
    if (this.timer) return;
    this.backgroundSweep();
    this.timer = setInterval(() => this.backgroundSweep(), this.sweepIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping?.catch(() => undefined);
  }

  /** The bytes stored, as far as this process knows (tests, metrics). */
  storedBytes(): number {
    return this.totalBytes;
  }

  async put(sessionId: string, input: { data: Buffer; mimetype: string; filename?: string | null | undefined }): Promise<StoredMedia> {
    if (!SESSION_ID_PATTERN.test(sessionId)) throw new MediaStoreError('MEDIA_STORE_FAILED', `Invalid session id '${sessionId}'`);
    const size = input.data.length;
    if (size > this.options.maxFileBytes) throw new MediaStoreError('MEDIA_TOO_LARGE', `The media has ${size} bytes; MEDIA_MAX_BYTES is ${this.options.maxFileBytes}`);
    if (this.totalBytes + this.pendingBytes + size > this.maxTotalBytes) {
      throw new MediaStoreError('MEDIA_STORE_FULL', `The media store holds ${this.totalBytes} bytes; ${size} more would pass its bound of ${this.maxTotalBytes}`);
    }
    this.pendingBytes += size;
    const mediaId = newMediaId();
    const dir = join(this.options.root, sessionId);
    const tag = randomBytes(6).toString('hex');
    const tempBytes = join(dir, `.${mediaId}.${tag}${TEMP_SUFFIX}`);
    const tempSidecar = join(dir, `.${mediaId}.${tag}${SIDECAR_SUFFIX}${TEMP_SUFFIX}`);
    try {
      const createdAt = new Date(this.now());
      const media: StoredMedia = {
        mediaId,
        sessionId,
        mimetype: cleanMimetype(input.mimetype),
        filename: cleanFilename(input.filename),
        size,
        createdAt,
        expiresAt: new Date(createdAt.getTime() + this.options.ttlMs),
      };
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(tempBytes, input.data, { mode: 0o600, flag: 'wx' });
      await writeFile(tempSidecar, JSON.stringify(toSidecar(media)), { mode: 0o600, flag: 'wx' });
      await rename(tempBytes, this.bytesPath(sessionId, mediaId));
      await rename(tempSidecar, this.sidecarPath(sessionId, mediaId));
      this.totalBytes += size;
      return media;
    } catch (error) {
      await Promise.all([rm(tempBytes, { force: true }), rm(tempSidecar, { force: true }), rm(this.bytesPath(sessionId, mediaId), { force: true })]).catch(() => undefined);
      throw new MediaStoreError('MEDIA_STORE_FAILED', `Storing the media failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      this.pendingBytes -= size;
    }
  }

  async open(sessionId: string, mediaId: string): Promise<OpenedMedia | null> {
    if (!SESSION_ID_PATTERN.test(sessionId) || !MEDIA_ID_PATTERN.test(mediaId)) return null;
    const media = await this.readSidecar(sessionId, mediaId);
    if (!media) return null;
    if (this.isExpired(media)) {
      await this.remove(media);
      return null;
    }
    // Reading from an open descriptor: a sweep removing the file meanwhile does not cut the download short.
    const handle = await open(this.bytesPath(sessionId, mediaId), 'r').catch((error: unknown) => {
      if (isNotFound(error)) return null;
      throw error;
    });
    if (!handle) return null;
    try {
      const { size } = await handle.stat();
      return { media: { ...media, size }, stream: handle.createReadStream() };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async removeSession(sessionId: string): Promise<void> {
    if (!SESSION_ID_PATTERN.test(sessionId)) return;
    const dir = join(this.options.root, sessionId);
    let bytes = 0;
    for (const name of await readdir(dir).catch(() => [])) {
      const mediaId = sidecarMediaId(name);
      if (mediaId) bytes += (await this.readSidecar(sessionId, mediaId))?.size ?? 0;
    }
    await rm(dir, { recursive: true, force: true });
    this.totalBytes = Math.max(0, this.totalBytes - bytes);
  }

  async sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private backgroundSweep(): void {
    this.sweep().catch((error: unknown) => this.report(error, 'media sweep failed'));
  }

  private async sweepOnce(): Promise<number> {
    const sessionDirs = await readdir(this.options.root, { withFileTypes: true }).catch((error: unknown) => {
      if (isNotFound(error)) return [];
      throw error;
    });
    const now = this.now();
    let live = 0;
    let removed = 0;
    for (const entry of sessionDirs) {
      if (!entry.isDirectory() || !SESSION_ID_PATTERN.test(entry.name)) continue;
      const sessionId = entry.name;
      const dir = join(this.options.root, sessionId);
      const names = await readdir(dir).catch(() => [] as string[]);
      const committed = new Set<string>();
      for (const name of names) {
        const mediaId = sidecarMediaId(name);
        if (!mediaId) continue;
        try {
          const media = await this.readSidecar(sessionId, mediaId);
          if (media && !this.isExpired(media)) {
            live += media.size;
            committed.add(mediaId);
          } else {
            await this.removeFiles(sessionId, mediaId);
            removed += 1;
          }
        } catch (error) {
          this.report(error, `sweeping media ${sessionId}/${mediaId} failed`);
        }
      }
      for (const name of names) {
        const leftover = (MEDIA_ID_PATTERN.test(name) && !committed.has(name)) || (name.startsWith('.') && name.endsWith(TEMP_SUFFIX));
        if (!leftover) continue;
        try {
          const info = await stat(join(dir, name)).catch(() => null);
          if (info && now - info.mtimeMs > LEFTOVER_MS) await rm(join(dir, name), { force: true });
        } catch (error) {
          this.report(error, `removing the leftover ${sessionId}/${name} failed`);
        }
      }
    }
    this.totalBytes = live;
    return removed;
  }

  private isExpired(media: StoredMedia): boolean {
    return this.now() >= media.expiresAt.getTime();
  }

  private async remove(media: StoredMedia): Promise<void> {
    await this.removeFiles(media.sessionId, media.mediaId);
    this.totalBytes = Math.max(0, this.totalBytes - media.size);
  }

  /** Sidecar first: once it is gone the media no longer exists, whatever happens to the bytes. */
  private async removeFiles(sessionId: string, mediaId: string): Promise<void> {
    await rm(this.sidecarPath(sessionId, mediaId), { force: true });
    await rm(this.bytesPath(sessionId, mediaId), { force: true });
  }

  /** The sidecar's media; null when there is none or it does not parse (the sweep removes it then). */
  private async readSidecar(sessionId: string, mediaId: string): Promise<StoredMedia | null> {
    let text: string;
    try {
      text = await readFile(this.sidecarPath(sessionId, mediaId), 'utf8');
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return null;
    }
    const parsed = Sidecar.safeParse(json);
    if (!parsed.success || parsed.data.sessionId !== sessionId || parsed.data.mediaId !== mediaId) return null;
    const { v: _v, createdAt, expiresAt, ...rest } = parsed.data;
    return { ...rest, createdAt: new Date(createdAt), expiresAt: new Date(expiresAt) };
  }

  private bytesPath(sessionId: string, mediaId: string): string {
    return join(this.options.root, sessionId, mediaId);
  }

  private sidecarPath(sessionId: string, mediaId: string): string {
    return join(this.options.root, sessionId, `${mediaId}${SIDECAR_SUFFIX}`);
  }

  private report(error: unknown, context: string): void {
    this.options.onError?.(error, context);
  }
}

/** `med_` + 128 random bits (base64url). */
export function newMediaId(): string {
  return `med_${randomBytes(16).toString('base64url')}`;
}

function sidecarMediaId(name: string): string | null {
  if (!name.endsWith(SIDECAR_SUFFIX)) return null;
  const mediaId = name.slice(0, -SIDECAR_SUFFIX.length);
  return MEDIA_ID_PATTERN.test(mediaId) ? mediaId : null;
}

function toSidecar(media: StoredMedia): z.infer<typeof Sidecar> {
  return { v: 1, ...media, createdAt: media.createdAt.toISOString(), expiresAt: media.expiresAt.toISOString() };
}

/** The sender's mimetype when it is a well-formed header value, `application/octet-stream` otherwise. */
export function cleanMimetype(mimetype: string): string {
  const trimmed = mimetype.trim();
  return trimmed.length <= MAX_MIMETYPE_LENGTH && MIMETYPE_PATTERN.test(trimmed) ? trimmed : FALLBACK_MIMETYPE;
}

/** The sender's file name without control characters or path parts, at most 255 characters; null when nothing is left. */
export function cleanFilename(filename: string | null | undefined): string | null {
  if (filename === null || filename === undefined) return null;
  const base =
    filename
      // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
      // Lone surrogates cannot be percent-encoded (filename*=UTF-8'' in content-disposition).
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '_')
      .split(/[/\\]/)
      .pop() ?? '';
  const cleaned = Array.from(base.trim()).slice(0, MAX_FILENAME_LENGTH).join('');
  return cleaned.length > 0 && cleaned !== '.' && cleaned !== '..' ? cleaned : null;
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

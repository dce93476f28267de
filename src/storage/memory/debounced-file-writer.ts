import { rename, writeFile } from 'node:fs/promises';

/**
 * Writes a snapshot to a file at most once per `delayMs`, atomically (temp file + rename), so
 * that a burst of changes (1,000 sessions restored) costs one write instead of one per change.
 * A failed write is reported and retried with the next change (or the next flush); it never
 * stops later writes.
 */
export class DebouncedFileWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => string,
    private readonly onError: (error: unknown) => void,
    private readonly delayMs = 50,
  ) {}

  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(this.onError);
    }, this.delayMs);
  }

  /** Writes now if anything changed since the last write; resolves when the file is on disk, rejects when the write failed. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const run = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        const temp = `${this.file}.tmp`;
        await writeFile(temp, this.snapshot(), 'utf8');
        await rename(temp, this.file);
      } catch (error) {
        this.dirty = true;
        throw error;
      }
    });
    // The chain itself never rejects, so one failure does not skip the writes after it.
    this.writing = run.catch(() => undefined);
    await run;
  }
}

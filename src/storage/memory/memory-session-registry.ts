import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SessionRecord } from '../../sessions/session.js';
import type { SessionRegistry } from '../session-registry.js';
import { DebouncedFileWriter } from './debounced-file-writer.js';

const clone = (record: SessionRecord): SessionRecord => structuredClone(record);

/**
 * The embedded-mode registry: a Map, optionally persisted to one JSON file so that sessions
 * survive a restart. Writes are coalesced (one file write per burst, atomic by rename) and
 * flushed on close.
 */
export class MemorySessionRegistry implements SessionRegistry {
  private readonly records = new Map<string, SessionRecord>();
  private readonly writer: DebouncedFileWriter | null;

  private constructor(file: string | null, onWriteError: (error: unknown) => void) {
    this.writer = file ? new DebouncedFileWriter(file, () => JSON.stringify({ version: 1, sessions: [...this.records.values()] }), onWriteError) : null;
  }

  /** A registry kept only in memory (tests, benchmarks). */
  static inMemory(): MemorySessionRegistry {
    return new MemorySessionRegistry(null, () => undefined);
  }

  /** A registry persisted to `file`, loaded now when it exists. A failed background write goes to `onWriteError` and is retried. */
  static async persistedTo(file: string, onWriteError: (error: unknown) => void): Promise<MemorySessionRegistry> {
    const registry = new MemorySessionRegistry(file, onWriteError);
    await mkdir(dirname(file), { recursive: true });
    let text: string | null = null;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== null) {
      try {
        const parsed = JSON.parse(text) as { sessions?: SessionRecord[] };
        for (const record of parsed.sessions ?? []) registry.records.set(record.id, record);
      } catch {
        // A corrupt file must not stop the gateway: keep it aside for the operator and start empty.
        await rename(file, `${file}.corrupt-${Date.now()}`);
      }
    }
    return registry;
  }

  async get(id: string): Promise<SessionRecord | null> {
    const record = this.records.get(id);
    return record ? clone(record) : null;
  }

  async list(): Promise<SessionRecord[]> {
    return [...this.records.values()].map(clone);
  }

  async count(): Promise<number> {
    return this.records.size;
  }

  async create(record: SessionRecord): Promise<boolean> {
    if (this.records.has(record.id)) return false;
    this.records.set(record.id, clone(record));
    this.writer?.schedule();
    return true;
  }

  async put(record: SessionRecord): Promise<void> {
    this.records.set(record.id, clone(record));
    this.writer?.schedule();
  }

  async delete(id: string): Promise<boolean> {
    const removed = this.records.delete(id);
    if (removed) this.writer?.schedule();
    return removed;
  }

  async close(): Promise<void> {
    await this.writer?.flush();
  }
}


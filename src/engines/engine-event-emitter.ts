import type { EngineEvent, EngineEventListener } from './engine.js';

/** The listener set every engine embeds: synchronous fan-out, a throwing listener never stops the others. */
export class EngineEventEmitter {
  private readonly listeners = new Set<EngineEventListener>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  onEvent(listener: EngineEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

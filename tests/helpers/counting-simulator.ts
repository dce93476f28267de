import type { EngineContext, OutboundContent, PresenceState, SendOptions, SendResult } from '../../src/engines/engine.js';
import { SimulatorEngine, type SimulatorOptions } from '../../src/engines/simulator/simulator-engine.js';
import type { SimulatorDriver } from '../../src/engines/simulator/simulator-driver.js';

export interface RecordedSend {
  sessionId: string;
  chatId: string;
  content: OutboundContent;
  options: SendOptions;
  waMessageId: string;
}

/**
 * A simulator driver whose engines report every send that WhatsApp "took" (after the simulated
 * faults), so that tests can count what left the gateway — e.g. to prove nothing is sent twice.
 */
export function countingSimulatorDriver(
  onSend: (send: RecordedSend) => void,
  options: Partial<SimulatorOptions> & { sendLatencyMs?: number; onPresence?: (sessionId: string, chatId: string, state: PresenceState) => void } = {},
): SimulatorDriver {
  const { sendLatencyMs = 0, onPresence, ...rest } = options;
  const settings: SimulatorOptions = { qrRotationMs: 60_000, ackDelaysMs: [5, 10, 15], ...rest };
  return {
    name: 'simulator',
    create: (context: EngineContext) =>
      new (class extends SimulatorEngine {
        override async start(): Promise<void> {
          await super.start();
          if (sendLatencyMs > 0) this.setFaults({ sendLatencyMs });
        }

        override async setPresence(chatId: string, state: PresenceState): Promise<void> {
          await super.setPresence(chatId, state);
          onPresence?.(context.sessionId, chatId, state);
        }

        override async send(chatId: string, content: OutboundContent, sendOptions: SendOptions): Promise<SendResult> {
          const result = await super.send(chatId, content, sendOptions);
          onSend({ sessionId: context.sessionId, chatId, content, options: sendOptions, waMessageId: result.waMessageId });
          return result;
        }
      })(context, settings),
    removeAuthData: async () => undefined,
  };
}

import { afterEach } from 'vitest';
import type { SimulatorOptions } from '../../src/engines/simulator/simulator-engine.js';
import type { PresenceState } from '../../src/engines/engine.js';
import { countingSimulatorDriver, type RecordedSend } from './counting-simulator.js';
import { MessageStatusLog } from './messaging.js';
import { startTestApp, type StorageMode, type TestApp } from './test-app.js';

export interface MessagingHarness {
  /** Builds the app (counting simulator, `message.status` log); closed after each test. */
  start: (env?: Record<string, string>, simulator?: Partial<SimulatorOptions> & { onPresence?: (sessionId: string, chatId: string, state: PresenceState) => void }) => Promise<TestApp>;
  /** The status log of the app started in this test. */
  readonly log: MessageStatusLog;
  /** Every send the engines took in this test, in order (emptied after each test). */
  readonly sends: RecordedSend[];
}

/** The app, status log and send count that the message tests share; registers its own cleanup. */
export function messagingHarness(mode: StorageMode, defaults: Record<string, string> = {}): MessagingHarness {
  let app: TestApp | undefined;
  let statusLog: MessageStatusLog | undefined;
  const sends: RecordedSend[] = [];
  afterEach(async () => {
    statusLog?.close();
    await app?.close();
    app = undefined;
    statusLog = undefined;
    sends.length = 0;
  });
  return {
    sends,
    get log(): MessageStatusLog {
      if (!statusLog) throw new Error('start() the harness first');
      return statusLog;
    },
    start: async (env = {}, simulator = {}) => {
      app = await startTestApp({ mode, env: { ...defaults, ...env } }, { engineDrivers: [countingSimulatorDriver((s) => sends.push(s), simulator)] });
      statusLog = new MessageStatusLog(app.app.gateway.bus);
      return app;
    },
  };
}

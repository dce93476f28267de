/**
 * Preloaded into a gateway process (`node --import tsx --import <this file> src/server.ts`): every
 * send the simulator "took" (what WhatsApp would hold) appends one line `<text> <waMessageId>` to
 * SENDS_FILE, synchronously, so a SIGKILL right after loses no line. This lets the chaos suite run
 * the real entry point (src/server.ts, its own signal handling and default queue settings) and
 * still count exactly what left the gateway.
 *
 * It wraps SimulatorEngine.prototype.send: the module graph is shared, so the engines the gateway
 * creates later are the patched class.
 */
import { appendFileSync } from 'node:fs';
import type { OutboundContent, SendOptions, SendResult } from '../../../src/engines/engine.js';
import { SimulatorEngine } from '../../../src/engines/simulator/simulator-engine.js';

const sendsFile = process.env.SENDS_FILE ?? '';
if (sendsFile === '') throw new Error('count-sends.ts needs SENDS_FILE');

/** The prototype seen as holding a function-valued property: the original is called with `.call(engine, …)`. */
interface SendSlot {
  send: (this: SimulatorEngine, chatId: string, content: OutboundContent, options: SendOptions) => Promise<SendResult>;
}
const slot: SendSlot = SimulatorEngine.prototype;
const original = slot.send;
slot.send = async function countedSend(this: SimulatorEngine, chatId: string, content: OutboundContent, options: SendOptions): Promise<SendResult> {
  const result = await original.call(this, chatId, content, options);
  appendFileSync(sendsFile, `${content.type === 'text' ? content.text : content.type} ${result.waMessageId}\n`);
  return result;
};

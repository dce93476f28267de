/**
 * A gateway process for crash tests (`tsx tests/helpers/crash-gateway.ts`): the real app from
 * env config, listening on PORT, with a simulator that appends one line per send WhatsApp took
 * to SENDS_FILE (synchronously, so a SIGKILL loses none), and a BullMQ queue with short locks so
 * that the next process recovers the jobs of a killed one within a second.
 */
import { appendFileSync } from 'node:fs';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { BullmqSendQueue } from '../../src/queue/bullmq-send-queue.js';
import { ParkedSendQueue } from '../../src/queue/parked-send-queue.js';
import { countingSimulatorDriver } from './counting-simulator.js';

const config = loadConfig();
const sendsFile = process.env.SENDS_FILE ?? '';
if (!config.redis || sendsFile === '') throw new Error('crash-gateway needs REDIS_URL and SENDS_FILE');
const sendQueue = new ParkedSendQueue(await BullmqSendQueue.open({ redisUrl: config.redis.url, prefix: config.redis.prefix, lockDurationMs: 1_000, stalledIntervalMs: 500 }));
const driver = countingSimulatorDriver(
  (send) => appendFileSync(sendsFile, `${send.sessionId} ${send.content.type === 'text' ? send.content.text : send.content.type} ${send.waMessageId}\n`),
  { ackDelaysMs: config.simulator.ackDelaysMs, sendLatencyMs: Number(process.env.SIM_SEND_LATENCY_MS ?? 0) },
);
const app = await buildApp(config, { engineDrivers: [driver], sendQueue });
await app.listen({ port: config.port, host: '127.0.0.1' });
process.stdout.write('listening\n');

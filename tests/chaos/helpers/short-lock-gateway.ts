/**
 * A gateway process for the SIGKILL scenario (after tests/helpers/crash-gateway.ts): the real app
 * from env config, listening on HOST:PORT, with a BullMQ send queue whose locks last 1 s, so that
 * the next process takes over the jobs of a killed one within about a second (src/server.ts uses
 * the 30 s default). Sends are counted by count-sends.ts, preloaded like for src/server.ts. No
 * signal handling: this process only ever ends by SIGKILL.
 */
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { BullmqSendQueue } from '../../../src/queue/bullmq-send-queue.js';
import { ParkedSendQueue } from '../../../src/queue/parked-send-queue.js';

const config = loadConfig();
if (!config.redis) throw new Error('short-lock-gateway needs REDIS_URL');
const sendQueue = new ParkedSendQueue(await BullmqSendQueue.open({ redisUrl: config.redis.url, prefix: config.redis.prefix, lockDurationMs: 1_000, stalledIntervalMs: 500 }));
const app = await buildApp(config, { sendQueue });
await app.listen({ port: config.port, host: config.host });

// scratch (not committed): profile of the gateway's accept path only (sessions pending, workers idle)
import { startRedis } from './lib/redis.js';
import { startSendServer, runLoad } from './lib/send-harness.js';
const dir = process.argv[2] ?? '/work/prof/acc';
const count = Number(process.argv[3] ?? 20000);
const redis = await startRedis();
const server = await startSendServer({ kind: 'gateway', sessions: 10, workers: true, redisUrl: redis.url, prefix: 'prof', nodeFlags: process.env.HEAP ? ['--heap-prof', `--heap-prof-dir=${dir}`, '--heap-prof-interval=65536'] : ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
const targets = await server.pending(10);
const base = { origin: server.origin, apiKey: server.apiKey, sessions: targets, connections: 50, graceMs: 10_000, partition: false, mode: 'closed' as const, maxMs: 120_000 };
await runLoad({ ...base, label: 'warm', count: 4000, seqBase: 1 });
const r = await runLoad({ ...base, label: 'prof', count, seqBase: 10_000 });
console.log(`accept-only: ${r.throughput} req/s p99 ${r.latencyMs.p99} ms ok ${r.ok}`);
await server.stop();
await redis.stop();

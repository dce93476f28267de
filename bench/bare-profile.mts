// scratch (not committed)
import { startRedis } from './lib/redis.js';
import { startSendServer, runLoad } from './lib/send-harness.js';
const dir = process.argv[2] ?? '/work/prof/bare';
const count = Number(process.argv[3] ?? 20000);
const redis = await startRedis();
const server = await startSendServer({ kind: 'bare', sessions: 10, workers: false, redisUrl: redis.url, prefix: 'prof', nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
const base = { origin: server.origin, apiKey: server.apiKey, sessions: server.sessions, connections: 50, graceMs: 10_000, partition: false, mode: 'closed' as const, maxMs: 120_000 };
await runLoad({ ...base, label: 'warm', count: 4000, seqBase: 1 });
const r = await runLoad({ ...base, label: 'prof', count, seqBase: 10_000 });
console.log(`bare: ${r.throughput} req/s p99 ${r.latencyMs.p99} ms ok ${r.ok}`);
await server.stop();
await redis.stop();

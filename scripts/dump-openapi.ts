/** Writes the OpenAPI document to a file (default openapi.json): `npx tsx scripts/dump-openapi.ts [file]`. */
import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

async function main(): Promise<void> {
  const sessionsPath = mkdtempSync(join(tmpdir(), 'wagw-openapi-'));
  const app = await buildApp(loadConfig({ API_KEY: 'openapi-dump-key', LOG_LEVEL: 'silent', SESSIONS_PATH: sessionsPath }));
  await app.ready();
  writeFileSync(process.argv[2] ?? 'openapi.json', `${JSON.stringify(app.swagger(), null, 2)}\n`);
  await app.close();
  rmSync(sessionsPath, { recursive: true, force: true });
}

void main();

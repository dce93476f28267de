import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/engines/engine.js';
import { findProcesses, killProcessGroup, type ProcessInfo } from '../../src/engines/webjs/process-tree.js';
import { WebjsEngine, realWebjsSeams, type WebjsSeams } from '../../src/engines/webjs/webjs-engine.js';
import { webjsOptionsFrom, type WebjsEngineOptions } from '../../src/engines/webjs/webjs-options.js';
import { SCRIPTED_ACK_DELAY_MS, ScriptedWhatsApp, WORLD_NUMBERS } from '../helpers/scripted-whatsapp.js';
import { delay, describeEngineConformance } from './engine.contract.js';

/**
 * The engine conformance suite on the webjs engine and the real system Chromium, twice:
 * with the real whatsapp-web.js client (WhatsApp Web is unreachable here: the engine reports
 * WHATSAPP_UNREACHABLE, and only what needs no WhatsApp runs), and with a scripted WhatsApp
 * (tests/helpers/scripted-whatsapp.ts) that shows QRs, links on scan and keeps what was sent.
 */

/** This file's WWEBJS auth path (and web version cache); every Chromium it starts has it on its command line. */
const root = mkdtempSync(join(tmpdir(), 'wagw-webjs-contract-'));

const optionsFor = (authPath: string): WebjsEngineOptions => ({
  ...webjsOptionsFrom(loadConfig({ API_KEY: 'k', SESSIONS_PATH: root })),
  authPath,
  destroyTimeoutMs: 2_000,
});

/** Chromium processes still alive under `root`, after a short grace for ones the kernel is still taking down. */
async function leftChromium(graceMs: number): Promise<ProcessInfo[]> {
  const until = Date.now() + graceMs;
  let left = await findProcesses(root);
  while (left.length > 0 && Date.now() < until) {
    await delay(50);
    left = await findProcesses(root);
  }
  return left;
}

afterAll(async () => {
  const left = await leftChromium(1_000);
  for (const p of left) killProcessGroup(p.pgid);
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  // Every engine the suites started was stopped by them: none may have left a Chromium behind.
  expect(left.map((p) => `pid ${p.pid}: ${/--user-data-dir=\S+/.exec(p.cmdline)?.[0] ?? p.cmdline.slice(0, 120)}`)).toEqual([]);
});

describe('webjs engine, real whatsapp-web.js (WhatsApp unreachable)', () => {
  const options = optionsFor(join(root, 'real'));
  describeEngineConformance('webjs', (context) => new WebjsEngine(context, options, realWebjsSeams), {
    showsQr: false,
    startFailure: 'WHATSAPP_UNREACHABLE',
    numbers: WORLD_NUMBERS,
    eventTimeoutMs: 10_000,
    // Longer than the 1–2 s until whatsapp-web.js gives up on WhatsApp Web: a stopped engine must not report it.
    quietMs: 3_000,
  });
});

describe('webjs engine, scripted WhatsApp', () => {
  const options = optionsFor(join(root, 'scripted'));
  let world = new ScriptedWhatsApp();
  beforeEach(() => {
    world = new ScriptedWhatsApp();
  });
  const seams: WebjsSeams = { launchBrowser: realWebjsSeams.launchBrowser, createClient: (clientOptions) => world.createClient(clientOptions) };
  const sessionOf = new WeakMap<Engine, string>();

  describeEngineConformance(
    'webjs',
    (context) => {
      const engine = new WebjsEngine(context, options, seams);
      sessionOf.set(engine, context.sessionId);
      return engine;
    },
    {
      showsQr: true,
      canLink: async (engine) => {
        const sessionId = sessionOf.get(engine);
        if (sessionId === undefined) throw new Error('not an engine of this suite');
        await world.scan(sessionId);
      },
      numbers: world.numbers,
      eventTimeoutMs: 5_000,
      quietMs: SCRIPTED_ACK_DELAY_MS + 200,
    },
  );
});

import type { Config } from '../config.js';
import type { EngineDriver, EngineName } from './engine.js';
import { createSimulatorDriver } from './simulator/simulator-driver.js';

/** The engines this instance can run, from config. An engine missing here is refused with 422, never replaced by another. */
export type EngineDrivers = ReadonlyMap<EngineName, EngineDriver>;

export function createEngineDrivers(config: Config, extra: readonly EngineDriver[] = []): EngineDrivers {
  const drivers = new Map<EngineName, EngineDriver>();
  if (config.simulator.enabled) {
    drivers.set('simulator', createSimulatorDriver({ qrRotationMs: config.whatsapp.qrTimeoutMs, ackDelaysMs: config.simulator.ackDelaysMs }));
  }
  for (const driver of extra) drivers.set(driver.name, driver);
  return drivers;
}

import type { Config } from '../config.js';
import type { EngineDriver, EngineName } from './engine.js';
import { createSimulatorDriver } from './simulator/simulator-driver.js';
import { createWebjsDriver } from './webjs/webjs-driver.js';
import { webjsOptionsFrom } from './webjs/webjs-options.js';

/** The engines this instance can run, from config. An engine missing here is refused with 422, never replaced by another. */
export type EngineDrivers = ReadonlyMap<EngineName, EngineDriver>;

/** webjs always; the simulator unless SIMULATOR_ENABLED=false. `extra` drivers replace those of the same name (tests). */
export function createEngineDrivers(config: Config, extra: readonly EngineDriver[] = []): EngineDrivers {
  const drivers = new Map<EngineName, EngineDriver>();
  drivers.set('webjs', createWebjsDriver(webjsOptionsFrom(config)));
  if (config.simulator.enabled) {
    drivers.set('simulator', createSimulatorDriver({ qrRotationMs: config.whatsapp.qrTimeoutMs, ackDelaysMs: config.simulator.ackDelaysMs }));
  }
  for (const driver of extra) drivers.set(driver.name, driver);
  return drivers;
}

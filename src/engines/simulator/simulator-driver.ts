import type { EngineContext, EngineDriver } from '../engine.js';
import { SimulatorEngine, type SimulatorOptions } from './simulator-engine.js';

/** The simulator keeps its "auth" (the simulated link) in the session registry, so there is nothing else to remove. */
export interface SimulatorDriver extends EngineDriver {
  create(context: EngineContext): SimulatorEngine;
}

export function createSimulatorDriver(options: SimulatorOptions): SimulatorDriver {
  return {
    name: 'simulator',
    create: (context: EngineContext) => new SimulatorEngine(context, options),
    removeAuthData: async () => undefined,
  };
}

import { AppError } from '../../errors.js';
import type { SessionManager } from '../../sessions/session-manager.js';
import { SimulatorEngine } from './simulator-engine.js';

/**
 * The running simulator of a session, or null when none runs. 404 SESSION_NOT_FOUND for an
 * unknown session, 422 NOT_SUPPORTED_BY_ENGINE for a session of another engine.
 */
export function simulatorOf(sessions: SessionManager, id: string): SimulatorEngine | null {
  const session = sessions.get(id);
  if (session.engine !== 'simulator') throw new AppError('NOT_SUPPORTED_BY_ENGINE', `Session '${id}' runs engine '${session.engine}', not the simulator`);
  const engine = sessions.engineOf(id);
  return engine instanceof SimulatorEngine ? engine : null;
}

/** The simulator of a session whose simulated phone is linked and connected; 409 SESSION_NOT_READY otherwise. */
export function readySimulatorOf(sessions: SessionManager, id: string): SimulatorEngine {
  const engine = simulatorOf(sessions, id);
  if (engine?.status !== 'ready') {
    throw new AppError('SESSION_NOT_READY', `Session '${id}' is ${sessions.statusOf(id)}: its simulated phone is not linked and connected`);
  }
  return engine;
}

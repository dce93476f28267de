import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { KNOWN_DISCONNECT_REASONS } from '../../sessions/disconnect-reasons.js';
import type { SessionManager } from '../../sessions/session-manager.js';
import { SessionIdParams, SessionResponse } from '../../sessions/session.schemas.js';
import { SESSION_STATUSES } from '../../sessions/session.js';
import { normalizePhone } from '../../messages/phone-number.js';
import { SimulatorEngine } from './simulator-engine.js';

const tags = ['Simulator'];
const SCAN_SETTLE_MS = 2_000;

const ScanBody = z
  .object({
    phone: z
      .string()
      .max(32)
      .refine((p) => normalizePhone(p) !== null, 'must be a phone number (8–15 digits)')
      .transform((p) => normalizePhone(p) ?? p)
      .optional()
      .describe('The simulated phone number (random when absent)'),
    pushName: z.string().min(1).max(64).optional(),
  })
  .strict()
  .meta({ examples: [{ phone: '5511999999999', pushName: 'Sales phone' }] });

const DisconnectBody = z
  .object({ reason: z.enum(KNOWN_DISCONNECT_REASONS).describe('A whatsapp-web.js disconnect reason') })
  .strict()
  .meta({ examples: [{ reason: 'CONFLICT' }] });

/** Control routes of the simulated phone. On a non-simulator session they answer 422 NOT_SUPPORTED_BY_ENGINE. */
export async function simulatorRoutes(parent: FastifyInstance, options: { sessions: SessionManager }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions } = options;

  const simulatorOf = (id: string): SimulatorEngine | null => {
    const session = sessions.get(id);
    if (session.engine !== 'simulator') throw new AppError('NOT_SUPPORTED_BY_ENGINE', `Session '${id}' runs engine '${session.engine}', not the simulator`);
    const engine = sessions.engineOf(id);
    return engine instanceof SimulatorEngine ? engine : null;
  };

  app.post('/api/v1/sessions/:id/simulator/scan', {
    schema: {
      tags,
      summary: 'Act as the phone scanning the QR code',
      description: 'The session goes authenticated → ready (answered once ready); the simulated link is kept like real auth data.',
      params: SessionIdParams,
      body: ScanBody,
      response: { 200: SessionResponse, ...errorResponses('SESSION_NOT_FOUND', 'QR_NOT_AVAILABLE', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request) => {
      const { id } = request.params;
      const engine = simulatorOf(id);
      if (!engine || !(await engine.scan({ phone: request.body.phone, pushName: request.body.pushName }))) {
        throw new AppError('QR_NOT_AVAILABLE', `Session '${id}' is ${sessions.statusOf(id)}, not showing a QR code`);
      }
      // The link completes in-process within milliseconds: answer with the session once it is there.
      return sessions.waitForStatus(id, ['ready', 'failed', 'stopped', 'disconnected'], SCAN_SETTLE_MS);
    },
  });

  app.post('/api/v1/sessions/:id/simulator/disconnect', {
    schema: {
      tags,
      summary: 'Drop the connection with a disconnect reason',
      description: 'Reconnectable reasons (CONFLICT, TIMEOUT…) go through the reconnect policy; LOGOUT and the like end the session as the contract says.',
      params: SessionIdParams,
      body: DisconnectBody,
      response: { 202: SessionResponse, ...errorResponses('SESSION_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const engine = simulatorOf(id);
      const before = sessions.statusOf(id);
      if (!engine || !(await engine.disconnect(request.body.reason))) {
        throw new AppError('SESSION_NOT_READY', `Session '${id}' is ${before}: there is no connection to drop`);
      }
      // Answer with the state the disconnect led to, not the one before it.
      const after = SESSION_STATUSES.filter((s) => s !== before);
      return reply.code(202).send(await sessions.waitForStatus(id, after, SCAN_SETTLE_MS));
    },
  });
}

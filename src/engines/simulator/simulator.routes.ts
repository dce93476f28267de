import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import type { SessionManager } from '../../sessions/session-manager.js';
import { SessionIdParams, SessionResponse } from '../../sessions/session.schemas.js';
import { SESSION_STATUSES } from '../../sessions/session.js';
import { normalizePhone } from '../../messages/phone-number.js';
import { readySimulatorOf, simulatorOf } from './simulator-access.js';
import { simulatorMessageRoutes } from './simulator-message.routes.js';
import { DisconnectBody, FaultsBody, FaultsResponse, ScanBody } from './simulator.schemas.js';

const tags = ['Simulator'];
const SCAN_SETTLE_MS = 2_000;

/** Control routes of the simulated phone. On a non-simulator session they answer 422 NOT_SUPPORTED_BY_ENGINE. */
export async function simulatorRoutes(parent: FastifyInstance, options: { sessions: SessionManager }): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { sessions } = options;

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
      const engine = simulatorOf(sessions, id);
      const phone = request.body.phone === undefined ? undefined : (normalizePhone(request.body.phone) ?? undefined);
      if (!engine || !(await engine.scan({ phone, pushName: request.body.pushName }))) {
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
      const engine = simulatorOf(sessions, id);
      const before = sessions.statusOf(id);
      if (!engine || !(await engine.disconnect(request.body.reason))) {
        throw new AppError('SESSION_NOT_READY', `Session '${id}' is ${before}: there is no connection to drop`);
      }
      // Answer with the state the disconnect led to, not the one before it.
      const after = SESSION_STATUSES.filter((s) => s !== before);
      return reply.code(202).send(await sessions.waitForStatus(id, after, SCAN_SETTLE_MS));
    },
  });

  app.post('/api/v1/sessions/:id/simulator/faults', {
    schema: {
      tags,
      summary: 'Inject transient failures and latency into sends',
      description:
        'Changes the faults given and keeps the others; `{}` reads them. Faults belong to the running simulated phone: a restart, reconnect or stop resets them to none (autoAck true). 409 SESSION_NOT_READY unless the simulated phone is connected.',
      params: SessionIdParams,
      body: FaultsBody,
      response: { 200: FaultsResponse, ...errorResponses('SESSION_NOT_FOUND', 'SESSION_NOT_READY', 'NOT_SUPPORTED_BY_ENGINE') },
    },
    handler: async (request) => readySimulatorOf(sessions, request.params.id).setFaults(request.body),
  });

  await app.register(simulatorMessageRoutes, { sessions });
}

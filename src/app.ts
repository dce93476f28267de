import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from './logger.js';
import type { Config } from './config.js';
import { createEngineDrivers } from './engines/engine-drivers.js';
import type { EngineDriver } from './engines/engine.js';
import { simulatorRoutes } from './engines/simulator/simulator.routes.js';
import { EventBus } from './events/event-bus.js';
import { EventRecorder } from './events/event-recorder.js';
import { eventRoutes } from './events/events.routes.js';
import { healthRoutes } from './health/health.routes.js';
import { healthDetailRoutes } from './health/health-detail.routes.js';
import { HealthMonitor } from './health/health-monitor.js';
import { HealthReport } from './health/health-report.js';
import { httpMetrics } from './health/http-metrics.js';
import { createMetrics } from './health/metrics.js';
import { metricsRoutes } from './health/metrics.routes.js';
import { SendStats } from './health/send-stats.js';
import { SessionActivity } from './health/session-activity.js';
import { WebhookStats } from './health/webhook-stats.js';
import { auth } from './http/auth.js';
import { errorHandler } from './http/error-handler.js';
import { openApi } from './http/openapi.js';
import { rateLimiting } from './http/rate-limit.js';
import { loadShedding } from './http/under-pressure.js';
import { InFlightRequests, shutdownGate } from './lifecycle/shutdown-gate.js';
import { loggerOptions } from './logger.js';
import { lazyRequestLogger } from './http/lazy-request-logger.js';
import { SessionManager } from './sessions/session-manager.js';
import { sessionRoutes } from './sessions/sessions.routes.js';
import { chatRoutes } from './contacts/chats.routes.js';
import { contactRoutes } from './contacts/contacts.routes.js';
import { openStorage, type Storage } from './storage/storage.js';
import { mediaFetchOptions, safeFetch } from './media/safe-fetch.js';
import { DiskMediaStore } from './media/disk-media-store.js';
import type { MediaStore } from './media/media-store.js';
import { mediaRoutes } from './media/media.routes.js';
import { MessageActions } from './messages/message-actions.js';
import { MessagePipeline } from './messages/message-pipeline.js';
import { MessageService } from './messages/message-service.js';
import { messageRoutes } from './messages/messages.routes.js';
import { SendProcessor } from './messages/send-processor.js';
import { SendTracker } from './messages/send-tracker.js';
import { failUnqueuedSends } from './messages/unqueued-sweep.js';
import { openSendQueue } from './queue/open-send-queue.js';
import type { SendQueue } from './queue/send-queue.js';
import { openWebhookQueue } from './webhooks/open-webhook-queue.js';
import { WebhookService } from './webhooks/webhook-service.js';
import { webhookRoutes } from './webhooks/webhooks.routes.js';

export interface Gateway {
  readonly config: Config;
  readonly storage: Storage;
  readonly sessions: SessionManager;
  readonly bus: EventBus;
  readonly queue: SendQueue;
  readonly messages: MessageService;
  readonly pipeline: MessagePipeline;
  /** Inbound media files (local disk under SESSIONS_PATH in both storage modes), kept MEDIA_TTL. */
  readonly media: MediaStore;
  /** Bus → event log → envelope listeners (webhooks, SSE): every contract event with its seq. */
  readonly events: EventRecorder;
  /** Webhook fan-out and delivery (lanes per session and target), the attempts log, retries and replays. */
  readonly webhooks: WebhookService;
  /** Set on SIGTERM: readiness 503, new work refused with SHUTTING_DOWN. */
  shuttingDown: boolean;
  /** Requests still being answered: what a graceful shutdown waits for before it stops listening. */
  readonly inFlight: InFlightRequests;
  /** Background health checks (HEALTH_CHECK_INTERVAL): the snapshot the keyed health routes answer from. */
  readonly health: HealthMonitor;
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

export interface BuildOptions {
  /** Storage to use instead of the one config picks (tests, benchmarks). */
  storage?: Storage;
  /** Extra or replacement engine drivers. */
  engineDrivers?: readonly EngineDriver[];
  /** A logger instance (pino) instead of one built from config. */
  logger?: Logger;
  /** A send queue instead of the one config picks (tests: short BullMQ lock durations). */
  sendQueue?: SendQueue;
  /** SSE stream limits instead of the defaults (tests: short heartbeats, small buffers). */
  eventStream?: { heartbeatMs?: number; maxBufferedBytes?: number; maxClients?: number };
}

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** How long closing waits for running sends before it stops the engines under them. */
const QUEUE_DRAIN_MS = 5_000;

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Builds the whole gateway without listening. Sessions are restored when the app becomes ready. */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: loggerOptions(config) }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: false,
  });
  // JSON in, JSON out: every other request body type is 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  const storage =
    options.storage ??
    (await openStorage(config, { logger: app.log, onWriteError: (error) => app.log.error({ err: error }, 'writing the session registry file failed; retrying with the next change') }));
  const bus = new EventBus((error) => app.log.error({ err: error }, 'event listener failed'));
  const events = new EventRecorder({ bus, log: storage.events, logger: app.log });
  const drivers = createEngineDrivers(config, options.engineDrivers);
  const sessions = new SessionManager({ config, registry: storage.registry, drivers, bus, logger: app.log });
  const queue = options.sendQueue ?? (await openSendQueue(config, (error, job) => app.log.error({ err: error, ...job }, 'send job failed unexpectedly; retrying'), storage.redis));
  const tracker = new SendTracker();
  // Engine message events reach the bus through the pipeline (store first, then the contract event).
  // Local disk in embedded and Redis mode alike: several replicas need a shared volume or sticky sessions (see DiskMediaStore).
  const media = new DiskMediaStore({
    root: join(config.sessionsPath, 'media'),
    ttlMs: config.media.ttlMs,
    maxFileBytes: config.media.maxBytes,
    maxTotalBytes: config.media.storeMaxBytes > 0 ? config.media.storeMaxBytes : undefined,
    onError: (error, context) => app.log.error({ err: error }, context),
  });
  const pipeline = new MessagePipeline({ bus, store: storage.engineMessages, queue, tracker, logger: app.log, media });
  const messages = new MessageService({ config, store: storage.messages, idempotency: storage.idempotency, queue, sessions, bus });
  const actions = new MessageActions({ service: messages, store: storage.messages, sessions, bus });
  const fetchOptions = mediaFetchOptions(config);
  const processor = new SendProcessor({
    config,
    store: storage.messages,
    sessions,
    bus,
    tracker,
    logger: app.log,
    fetchMedia: (url, signal) => safeFetch(url, { ...fetchOptions, signal }),
  });
  const webhookQueue = await openWebhookQueue(config, (error, job) => app.log.error({ err: error, lane: job?.sessionId, job: job?.messageId }, 'webhook job failed unexpectedly; retrying'));
  // Health and metrics observe the bus, the send worker (see onReady) and webhook attempts.
  const metrics = createMetrics({ sessions, sendQueueCounts: () => queue.counts(), webhookQueueCounts: () => webhookQueue.counts() });
  const activity = new SessionActivity(bus, sessions);
  const sendStats = new SendStats({ bus, recall: (sessionId, waMessageId) => tracker.recall(sessionId, waMessageId), metrics });
  const webhookStats = new WebhookStats(metrics, activity);
  const webhooks = new WebhookService({ config, store: storage.deliveries, queue: webhookQueue, source: events, sessions, logger: app.log, userAgent: `whatsapp-gateway/${VERSION} (webhooks)`, onAttempt: webhookStats.observe });
  const health = new HealthMonitor({ config, redisConnections: storage.connections, sendQueue: queue, webhookQueue, sessions, logger: app.log });
  const gateway: Gateway = { config, storage, sessions, bus, queue, messages, pipeline, media, events, webhooks, shuttingDown: false, inFlight: new InFlightRequests(), health };
  app.decorate('gateway', gateway);

  logStartup(app, config, storage);

  // Order matters: the shutdown gate and load shedding first (refusing costs no auth and no
  // rate-limit count), then the rate limiter's per-route hook, then auth's, then every route (docs included).
  await app.register(errorHandler);
  await app.register(httpMetrics, { histogram: metrics.httpRequestDuration });
  await app.register(shutdownGate, { inFlight: gateway.inFlight, isShuttingDown: () => gateway.shuttingDown });
  await app.register(loadShedding, { config: config.underPressure });
  await app.register(rateLimiting, { config, redis: storage.redis });
  await app.register(auth, { config });
  await app.register(openApi, { version: VERSION });

  await app.register(healthRoutes, { version: VERSION, redisConnections: storage.connections, isShuttingDown: () => gateway.shuttingDown });
  const report = new HealthReport({ version: VERSION, monitor: health, sessions, sendQueue: queue, sends: sendStats, webhooks: webhookStats, appTarget: () => webhooks.targets.appStatus(), activity, engines: [...drivers.keys()] });
  await app.register(healthDetailRoutes, { report });
  await app.register(sessionRoutes, { sessions });
  await app.register(contactRoutes, { sessions, contacts: storage.contacts, bus });
  await app.register(chatRoutes, { sessions });
  await app.register(simulatorRoutes, { sessions });
  await app.register(messageRoutes, { service: messages, actions, store: storage.messages, mediaMaxBytes: config.media.maxBytes });
  await app.register(mediaRoutes, { sessions, media });
  await app.register(eventRoutes, { events, sessions, ...options.eventStream, isShuttingDown: () => gateway.shuttingDown });
  await app.register(webhookRoutes, { webhooks });
  await app.register(metricsRoutes, { registry: metrics.registry, metricsPublic: config.metricsPublic });

  app.addHook('onReady', async () => {
    media.start();
    await sessions.init();
    await failUnqueuedSends(sessions.list().map((s) => s.id), { store: storage.messages, queue, bus, logger: app.log });
    await queue.start(sendStats.wrap(processor.process));
    await webhooks.start();
  });
  app.addHook('onClose', async () => {
    // Workers first (their current job ends), then the engines, then what they wrote to. An engine
    // call that does not end soon is cut short by stopping the engines (the job is kept for the next start).
    const queueClosed = queue.close();
    await Promise.race([queueClosed, new Promise((resolve) => setTimeout(resolve, QUEUE_DRAIN_MS).unref())]);
    await sessions.close();
    await queueClosed;
    await pipeline.idle();
    pipeline.close();
    await media.close();
    // What the pipeline published last is recorded before the store closes.
    await events.close();
    // After the recorder: the envelopes it handed over last are queued before the lanes stop.
    await webhooks.close();
    await storage.close();
  });
  // After the hooks above: checks start once sessions are restored, and stop first on close (onClose runs last-added first).
  app.addHook('onReady', () => health.start());
  app.addHook('onClose', async () => {
    await health.stop();
    sendStats.close();
    activity.close();
  });
  return app;
}

function logStartup(app: FastifyInstance, config: Config, storage: Storage): void {
  if (storage.mode === 'embedded') {
    app.log.info(
      { sessionsPath: config.sessionsPath },
      'REDIS_URL is not set: running on embedded in-process drivers (one instance; only the session registry and auth data under SESSIONS_PATH survive a restart)',
    );
  }
  if (config.databaseUrl) app.log.warn('DATABASE_URL is set but not used: the gateway stores everything in Redis (or in memory without REDIS_URL)');
}

// The operator REST API: fastify plugins over the control plane, in the Map-Server's process.
import type { EventEmitter } from 'node:events';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { EidPrefix } from '../codec/types.js';
import type { MappingDatabase } from '../db/database.js';
import type { Registration, StateChange } from '../db/model.js';
import type { ServerMetrics } from '../metrics.js';
import type { MovedEvent, ServerEvents } from '../compose/server.js';
import { bearerAuth } from './auth.js';
import { installErrorHandler } from './errors.js';
import { EventLog } from './event-log.js';
import { documentAnswers } from './openapi.js';
import { eventsRoutes, OpenStreams } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { lookupRoutes } from './routes/lookup.js';
import { mappingsRoutes } from './routes/mappings.js';
import { movesRoutes } from './routes/moves.js';
import { registrationsRoutes } from './routes/registrations.js';
import { xtrConfigRoutes } from './routes/xtr-config.js';
import { sitesRoutes } from './routes/sites.js';
import { webRoutes } from './routes/web.js';
import { XtrMemory } from './xtrs.js';

/** What the API needs of the Map-Server: read the database, change it durably, watch events. */
export interface ControlPlane {
  readonly db: MappingDatabase;
  readonly events: EventEmitter<ServerEvents>;
  readonly metrics: ServerMetrics;
  /** Applies changes durably; resolves with the binding moves they caused, announced (SMRs sent). */
  applyChanges(changes: readonly StateChange[]): Promise<readonly MovedEvent[]>;
  /** Drops the live registrations of exactly `eid` that `match` selects, as an expiry would; resolves with how many. */
  clearRegistrations(eid: EidPrefix, match?: (registration: Registration) => boolean): Promise<number>;
  now(): number;
  /** How long a registration lives without a refresh (an operator move's default lifetime too). */
  readonly registrationTtlSeconds: number;
}

export interface ApiContext {
  readonly control: ControlPlane;
  /** Every event with its id, and the recent ones (history, Last-Event-ID). */
  readonly events: EventLog;
  /** Per-site xTR status, including xTRs whose registrations went. */
  readonly xtrs: XtrMemory;
  /** Open SSE streams: ended when the API closes, so a stop never waits on a client. */
  readonly streams: OpenStreams;
}

export interface ApiOptions {
  readonly token: string;
  readonly logger?: Logger;
  /** Extra plugins under /api/v1 (e.g. per-site xTR configs), registered after the core routes. */
  readonly extraRoutes?: ReadonlyArray<(app: FastifyInstance, context: ApiContext) => Promise<void>>;
}

export const BODY_LIMIT = 1 << 20;

export async function buildApi(control: ControlPlane, options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    // One line per request (below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Unknown fields are errors, not silently dropped. Query strings are text: coerce them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  installErrorHandler(app);
  documentAnswers(app, { protected: false });
  app.addHook('onResponse', async (request, reply) => {
    // Scrapes, probes and the status page's files come every few seconds: debug, not info.
    const path = request.url.split('?')[0]!;
    const quiet = !path.startsWith('/api/') && !path.startsWith('/docs');
    request.log[quiet ? 'debug' : 'info']({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'livmap operator API', version: '1', description: 'Sites, keys, EID prefixes, static mappings and live state of the livmap LISP Map-Server. Everything under /api/v1 needs `Authorization: Bearer TOKEN`; /healthz, /metrics, /version, /docs and the status page at / are open.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  const context: ApiContext = { control, events: new EventLog(control.events, () => control.now()), xtrs: new XtrMemory(control.db, control.events), streams: new OpenStreams() };
  // Streams end first, so that closing the HTTP server does not wait for their clients.
  app.addHook('preClose', async () => context.streams.endAll());
  app.addHook('onClose', async () => {
    context.events.close();
    context.xtrs.close();
  });
  await app.register(healthRoutes, context);
  await app.register(webRoutes, context);
  await app.register(async (v1) => {
    documentAnswers(v1, { protected: true });
    v1.addHook('onRequest', bearerAuth(options.token));
    await v1.register(sitesRoutes, context);
    await v1.register(mappingsRoutes, context);
    await v1.register(lookupRoutes, context);
    await v1.register(registrationsRoutes, context);
    await v1.register(eventsRoutes, context);
    await v1.register(movesRoutes, context);
    await v1.register(xtrConfigRoutes, context);
    for (const extra of options.extraRoutes ?? []) await extra(v1, context);
  }, { prefix: '/api/v1' });
  await app.ready();
  return app;
}

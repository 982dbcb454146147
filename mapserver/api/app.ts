// The operator REST API: fastify plugins over the control plane, in the Map-Server's process.
import type { EventEmitter } from 'node:events';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { StateChange } from '../db/model.js';
import type { MappingDatabase } from '../db/database.js';
import type { ServerMetrics } from '../metrics.js';
import type { ServerEvents } from '../server.js';
import { bearerAuth } from './auth.js';
import { installErrorHandler } from './errors.js';
import { eventsRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { lookupRoutes } from './routes/lookup.js';
import { mappingsRoutes } from './routes/mappings.js';
import { movesRoutes } from './routes/moves.js';
import { xtrConfigRoutes } from './routes/xtr-config.js';
import { sitesRoutes } from './routes/sites.js';

/** What the API needs of the Map-Server: read the database, change it durably, watch events. */
export interface ControlPlane {
  readonly db: MappingDatabase;
  readonly events: EventEmitter<ServerEvents>;
  readonly metrics: ServerMetrics;
  applyChanges(changes: readonly StateChange[]): Promise<void>;
  now(): number;
  /** How long a registration lives without a refresh (an operator move's default lifetime too). */
  readonly registrationTtlSeconds: number;
}

export interface ApiContext {
  readonly control: ControlPlane;
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
    bodyLimit: BODY_LIMIT,
    // Unknown fields are errors, not silently dropped. Query strings are text: coerce them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  installErrorHandler(app);
  await app.register(swagger, {
    openapi: {
      info: { title: 'livmap operator API', version: '1', description: 'Sites, keys, EID prefixes, static mappings and live state of the livmap LISP Map-Server.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  const context: ApiContext = { control };
  await app.register(healthRoutes, context);
  await app.register(async (v1) => {
    v1.addHook('onRequest', bearerAuth(options.token));
    await v1.register(sitesRoutes, context);
    await v1.register(mappingsRoutes, context);
    await v1.register(lookupRoutes, context);
    await v1.register(eventsRoutes, context);
    await v1.register(movesRoutes, context);
    await v1.register(xtrConfigRoutes, context);
    for (const extra of options.extraRoutes ?? []) await extra(v1, context);
  }, { prefix: '/api/v1' });
  await app.ready();
  return app;
}

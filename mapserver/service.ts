// The whole service: the LISP control plane on UDP plus the operator API on HTTP.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi, type ApiOptions } from './api/app.js';
import { resolveApiToken } from './api/auth.js';
import type { ServerConfig } from './config/load.js';
import { LispServer, type ServerOptions } from './server.js';

export interface Service {
  readonly lisp: LispServer;
  readonly api: FastifyInstance;
  /** Where the API listens, e.g. http://127.0.0.1:8080 */
  readonly apiUrl: string;
  readonly token: string;
  close(): Promise<void>;
}

export async function startService(
  config: ServerConfig,
  options: ServerOptions & { readonly logger: Logger; readonly extraRoutes?: ApiOptions['extraRoutes'] },
): Promise<Service> {
  const lisp = await LispServer.start(config, options);
  try {
    const { token, file } = await resolveApiToken(config.api.token, config.dataDir);
    if (file) options.logger.info({ tokenFile: file }, 'API token generated on first start; read it from this file');
    const api = await buildApi(lisp, { token, logger: options.logger.child({ component: 'api' }), ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}) });
    const { host, port } = config.api.listen;
    const address = await api.listen({ host, port });
    options.logger.info({ url: address }, 'operator API listening');
    return {
      lisp,
      api,
      apiUrl: address,
      token,
      async close() {
        await api.close();
        await lisp.close();
      },
    };
  } catch (err) {
    await lisp.close();
    throw err;
  }
}

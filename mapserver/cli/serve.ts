// `livmap serve [--config FILE]`: runs the Map-Server / Map-Resolver until SIGTERM or SIGINT.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError } from '../json/convert.js';
import { DEMO_CONFIG } from '../config/demo.js';
import { loadConfigFile, resolveConfig, type ServerConfig } from '../config/load.js';
import { startService, type Service } from '../service.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap serve [--config FILE] [--workers N] [--log-level LEVEL]

Runs the LISP Map-Server / Map-Resolver on UDP 4342 and the operator REST API
(api.listen, default 127.0.0.1:8080; OpenAPI page at /docs).
Without --config it runs the embedded demo: sites "local" (10.16.10.0/24) and
"cloud" (192.168.20.0/24), key lisp-interop-key (HMAC-SHA-1), data in ./data.

  --config FILE      JSON config (see README)
  --workers N        threads answering Map-Requests on the same port, this one
                     included (overrides lisp.workers; default: one per core,
                     up to 4, or LIVMAP_WORKERS)
  --log-level LEVEL  trace, debug, info (default), warn, error, silent
  -h, --help         this help
`;

export const serveVerb: Verb = {
  summary: 'run the Map-Server / Map-Resolver',
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: { config: { type: 'string' }, workers: { type: 'string' }, 'log-level': { type: 'string', default: 'info' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
      }));
    } catch (err) {
      process.stderr.write(`livmap serve: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const logger = pino({ level: values['log-level'] });
    let config: ServerConfig;
    try {
      config = values.config ? await loadConfigFile(values.config) : resolveConfig(DEMO_CONFIG);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`livmap serve: invalid config: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    if (values.workers !== undefined) {
      const workers = Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        process.stderr.write(`livmap serve: --workers must be an integer from 1 to 256, not '${values.workers}'\n`);
        return 2;
      }
      config = { ...config, lisp: { ...config.lisp, workers } };
    }
    if (!values.config) logger.info('no --config given: running the embedded two-site demo config');
    for (const key of config.ignoredKeys ?? []) logger.warn({ key }, `config key '${key}' is not a livmap setting and is ignored (misspelt?)`);
    // Listen for signals before starting, so a SIGTERM during start-up still shuts down cleanly.
    const stopped = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    let server: Service;
    try {
      server = await startService(config, { logger });
    } catch (err) {
      process.stderr.write(`livmap serve: cannot start: ${(err as Error).message}\n`);
      return 1;
    }
    logger.info({ signal: await stopped }, 'shutting down');
    await server.close();
    logger.info('stopped cleanly');
    return 0;
  },
};

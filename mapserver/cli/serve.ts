// `livmap serve`: runs the Map-Server / Map-Resolver until SIGTERM or SIGINT; SIGHUP re-reads the
// config file's sites, keys and static mappings.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../json/convert.js';
import { DEMO_CONFIG } from '../config/demo.js';
import { loadConfigFile, parseListen, resolveConfig, type ServerConfig } from '../config/load.js';
import { ListenError, endpointText, startService, type Service } from '../compose/service.js';
import { LOG_FORMATS, createLogger, type LogFormat } from './log.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap serve [--config FILE] [--listen ADDR:PORT]... [--api ADDR:PORT] [--data DIR]
                   [--workers N] [--log-level LEVEL] [--log-format FORMAT]

Runs the LISP Map-Server / Map-Resolver on UDP 4342 and the operator REST API
(api.listen, default 127.0.0.1:8080; OpenAPI page at /docs).
Without --config it runs the embedded demo: sites "local" (10.16.10.0/24) and
"cloud" (192.168.20.0/24), key lisp-interop-key (HMAC-SHA-1), data in ./data.

  --config FILE        JSON config (see README)
  --listen ADDR:PORT   UDP address for LISP control messages, instead of lisp.listen
                       (repeat for several; IPv6 as [addr]:port)
  --api ADDR:PORT      the operator API's address, instead of api.listen
  --data DIR           data directory, instead of dataDir
  --workers N          threads answering Map-Requests on the same port, this one
                       included (overrides lisp.workers; default: one per core,
                       up to 4, or LIVMAP_WORKERS)
  --log-level LEVEL    trace, debug, info (default), warn, error, silent
  --log-format FORMAT  auto (default: readable on a terminal, JSON otherwise), pretty, json
  -h, --help           this help

Signals: SIGTERM/SIGINT stop cleanly (within 2 s, open event streams are cut);
SIGHUP re-reads --config and applies its sites, keys and static mappings (live
registrations they still cover are kept); other settings need a restart.
Exit status: 0 stopped cleanly, 1 failed while running, 2 bad arguments or config,
or an address it cannot listen on.
`;

/** After SIGTERM, the process is gone by then whatever still hangs. */
export const STOP_DEADLINE_MS = 1900;

interface Overrides {
  readonly listen?: string[] | undefined;
  readonly api?: string | undefined;
  readonly data?: string | undefined;
}

/** The config with the command line's --listen, --api and --data applied. */
export function applyOverrides(config: ServerConfig, o: Overrides): ServerConfig {
  return {
    ...config,
    ...(o.data !== undefined ? { dataDir: resolve(o.data) } : {}),
    ...(o.listen?.length ? { lisp: { ...config.lisp, listen: o.listen.map((l, i) => parseListen(l, `--listen[${i}]`)) } } : {}),
    ...(o.api !== undefined ? { api: { ...config.api, listen: parseListen(o.api, '--api') } } : {}),
  };
}

export const serveVerb: Verb = {
  summary: 'run the Map-Server / Map-Resolver',
  async run(args) {
    const parsed = verbArgs('serve', HELP, {
      args,
      options: {
        config: { type: 'string' }, listen: { type: 'string', multiple: true }, api: { type: 'string' }, data: { type: 'string' }, workers: { type: 'string' },
        'log-level': { type: 'string', default: 'info' }, 'log-format': { type: 'string', default: 'auto' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (typeof parsed === 'number') return parsed;
    const { values } = parsed;
    const format = values['log-format'] as LogFormat;
    if (!LOG_FORMATS.includes(format)) {
      process.stderr.write(`livmap serve: --log-format must be one of ${LOG_FORMATS.join(', ')}, not '${format}'\n`);
      return 2;
    }
    let logger: Logger;
    try {
      logger = createLogger(values['log-level'], format);
    } catch (err) {
      process.stderr.write(`livmap serve: --log-level: ${(err as Error).message} (trace, debug, info, warn, error, silent)\n`);
      return 2;
    }
    const overrides: Overrides = { listen: values.listen, api: values.api, data: values.data };
    const configFile = values.config;
    const readConfig = async (): Promise<ServerConfig> =>
      applyOverrides(configFile ? await loadConfigFile(configFile) : resolveConfig(DEMO_CONFIG), overrides);
    let config: ServerConfig;
    try {
      config = await readConfig();
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
    if (!configFile) logger.info('no --config given: running the embedded two-site demo config');
    for (const key of config.ignoredKeys ?? []) logger.warn({ key }, `config key '${key}' is not a livmap setting and is ignored (misspelt?)`);
    // Listen for signals before starting, so a SIGTERM during start-up still shuts down cleanly.
    const stopped = new Promise<string>((done) => {
      process.once('SIGTERM', () => done('SIGTERM'));
      process.once('SIGINT', () => done('SIGINT'));
    });
    let service: Service | undefined;
    // A SIGHUP before the service runs (or during a reload) is noted, not lost, and not fatal.
    let reloading: Promise<void> = Promise.resolve();
    const onHangup = (): void => {
      reloading = reloading.then(() => (service ? reload(service, readConfig, logger) : logger.warn('SIGHUP during start-up: ignored')));
    };
    process.on('SIGHUP', onHangup);
    try {
      service = await startService(config, { logger });
    } catch (err) {
      process.off('SIGHUP', onHangup);
      if (err instanceof ListenError) {
        process.stderr.write(`livmap serve: ${err.message}\n`);
        return 2;
      }
      process.stderr.write(`livmap serve: cannot start: ${(err as Error).message}\n`);
      return 1;
    }
    logger.info({ lisp: config.lisp.listen.map(endpointText) }, 'ready (SIGHUP reloads the config, SIGTERM stops)');
    const signal = await stopped;
    // The safety net: whatever hangs (a stuck connection, a store that does not close), we are gone.
    const deadline = setTimeout(() => {
      process.stderr.write(`livmap serve: not stopped ${STOP_DEADLINE_MS} ms after ${signal}: exiting anyway\n`);
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    logger.info({ signal }, 'shutting down');
    process.off('SIGHUP', onHangup);
    await reloading;
    await service.close();
    clearTimeout(deadline);
    logger.info('stopped cleanly');
    return 0;
  },
};

async function reload(service: Service, readConfig: () => Promise<ServerConfig>, logger: Logger): Promise<void> {
  let next: ServerConfig;
  try {
    next = await readConfig();
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'SIGHUP: config not reloaded, the running one stays');
    return;
  }
  try {
    const s = await service.reload(next);
    const changed = s.sitesAdded.length + s.sitesChanged.length + s.sitesRemoved.length + s.mappingsAdded.length + s.mappingsChanged.length + s.mappingsRemoved.length;
    const detail: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(s)) if (Array.isArray(value) ? value.length : value) detail[key] = value;
    logger.info(detail, changed ? 'SIGHUP: config reloaded' : 'SIGHUP: config reloaded, no site or mapping changed');
    if (s.needRestart.length) logger.warn({ settings: s.needRestart }, 'SIGHUP: these settings changed but apply only on restart');
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'SIGHUP: reload failed');
  }
}

// The whole service: the LISP control plane on UDP plus the operator API on HTTP.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi, type ApiOptions } from '../api/app.js';
import { resolveApiToken } from '../api/auth.js';
import type { ServerConfig } from '../config/load.js';
import type { ListenAddress } from '../transport/udp.js';
import { formatEidPrefix, prefixKey } from '../codec/prefix.js';
import { uncoveredRegistrations } from '../authority/sites.js';
import { formatHostPort } from '../codec/text.js';
import type { Site, StaticMapping, StateChange } from '../db/model.js';
import { LispServer, type ServerOptions } from './server.js';

export interface Service {
  readonly lisp: LispServer;
  readonly api: FastifyInstance;
  /** Where the API listens, e.g. http://127.0.0.1:8080 */
  readonly apiUrl: string;
  readonly token: string;
  /** Applies a re-read config's sites, keys and static mappings; keeps registrations they still cover. */
  reload(config: ServerConfig): Promise<ReloadSummary>;
  close(): Promise<void>;
}

/** What a reload changed, by name, and the settings it could not apply without a restart. */
export interface ReloadSummary {
  readonly sitesAdded: string[];
  readonly sitesChanged: string[];
  readonly sitesRemoved: string[];
  readonly mappingsAdded: string[];
  readonly mappingsChanged: string[];
  readonly mappingsRemoved: string[];
  readonly registrationsDropped: number;
  readonly needRestart: string[];
}

/** A socket we could not open: which one and why, so `serve` can say it in one line. */
export class ListenError extends Error {
  constructor(readonly what: 'LISP (UDP)' | 'API (TCP)', readonly address: string, readonly code: string, cause: unknown) {
    super(`cannot listen for ${what} on ${address}: ${LISTEN_PROBLEMS[code] ?? code}`, { cause });
    this.name = 'ListenError';
  }
}

const LISTEN_PROBLEMS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use (another livmap or Map-Server running?)',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EADDRNOTAVAIL: 'no interface of this host has that address',
};

function listenErrorOf(what: ListenError['what'], err: unknown, fallback: ListenAddress | readonly ListenAddress[]): ListenError | undefined {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (!e || typeof e.code !== 'string' || !(e.code in LISTEN_PROBLEMS)) return undefined;
  const one = Array.isArray(fallback) ? undefined : (fallback as ListenAddress);
  const host = e.address ?? one?.host;
  const port = e.port ?? one?.port;
  const address = host === undefined ? (fallback as readonly ListenAddress[]).map(endpointText).join(', ') : endpointText({ host, port: port ?? 0 });
  return new ListenError(what, address, e.code, err);
}

/** `127.0.0.1:4342`, `[::1]:4342` */
export function endpointText(e: { readonly host: string; readonly port: number }): string {
  return formatHostPort(e.host, e.port);
}

/** How long the API may take to close before open connections (event streams) are cut. */
export const API_CLOSE_GRACE_MS = 1000;

export async function startService(
  config: ServerConfig,
  options: ServerOptions & { readonly logger: Logger; readonly extraRoutes?: ApiOptions['extraRoutes'] },
): Promise<Service> {
  let lisp: LispServer;
  try {
    lisp = await LispServer.start(config, options);
  } catch (err) {
    throw listenErrorOf('LISP (UDP)', err, config.lisp.listen) ?? err;
  }
  try {
    const { token, file, created } = await resolveApiToken(config.api.token, config.dataDir);
    if (created) options.logger.info({ tokenFile: file }, 'API token generated on first start; read it from this file');
    const api = await buildApi(lisp, { token, logger: options.logger.child({ component: 'api' }), ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}) });
    const { host, port } = config.api.listen;
    let address: string;
    try {
      address = await api.listen({ host, port });
    } catch (err) {
      await api.close().catch(() => undefined);
      throw listenErrorOf('API (TCP)', err, config.api.listen) ?? err;
    }
    options.logger.info({ url: address }, 'operator API listening');
    let current = config;
    return {
      lisp,
      api,
      apiUrl: address,
      token,
      async reload(next) {
        const summary = reloadChanges(current, next, lisp);
        await lisp.applyChanges(summary.changes);
        current = { ...current, sites: next.sites, mappings: next.mappings };
        return summary.summary;
      },
      async close() {
        // Long-lived requests (event streams) keep api.close() waiting: give them a moment, then cut them.
        let grace: NodeJS.Timeout | undefined;
        const closed = api.close();
        const cut = new Promise<void>((resolve) => {
          grace = setTimeout(() => {
            options.logger.warn('API connections still open after 1 s: closing them');
            api.server.closeAllConnections();
            resolve();
          }, API_CLOSE_GRACE_MS);
        });
        await Promise.race([closed, cut]);
        clearTimeout(grace);
        await lisp.close();
      },
    };
  } catch (err) {
    await lisp.close();
    throw err;
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The database changes that take the server from `before`'s sites and mappings to `after`'s.
 * Sites and mappings the config never named (made through the API) are left alone; a changed
 * site's registrations stay unless its new prefixes no longer cover them (as PUT /sites does).
 */
export function reloadChanges(before: ServerConfig, after: ServerConfig, lisp: Pick<LispServer, 'db'>): { changes: StateChange[]; summary: ReloadSummary } {
  const changes: StateChange[] = [];
  const oldSites = new Map(before.sites.map((s) => [s.name, s]));
  const newSites = new Map(after.sites.map((s) => [s.name, s]));
  const sitesAdded: string[] = [];
  const sitesChanged: string[] = [];
  const sitesRemoved: string[] = [];
  let registrationsDropped = 0;
  const dropRegistrations = (name: string, site: Site | undefined): void => {
    const dropped = uncoveredRegistrations(lisp.db.registrations(), name, site);
    changes.push(...dropped);
    registrationsDropped += dropped.length;
  };
  for (const [name, site] of newSites) {
    const old = oldSites.get(name);
    if (old && same(old, site)) continue;
    (old ? sitesChanged : sitesAdded).push(name);
    changes.push({ kind: 'put-site', site });
    if (old) dropRegistrations(name, site);
  }
  for (const name of oldSites.keys()) {
    if (newSites.has(name)) continue;
    sitesRemoved.push(name);
    changes.push({ kind: 'delete-site', name });
    dropRegistrations(name, undefined);
  }
  const oldMappings = new Map<string, StaticMapping>(before.mappings.map((m) => [prefixKey(m.eid), m]));
  const newMappings = new Map<string, StaticMapping>(after.mappings.map((m) => [prefixKey(m.eid), m]));
  const mappingsAdded: string[] = [];
  const mappingsChanged: string[] = [];
  const mappingsRemoved: string[] = [];
  for (const [key, mapping] of newMappings) {
    const old = oldMappings.get(key);
    if (old && same(old, mapping)) continue;
    (old ? mappingsChanged : mappingsAdded).push(formatEidPrefix(mapping.eid));
    changes.push({ kind: 'put-mapping', mapping });
  }
  for (const [key, mapping] of oldMappings) {
    if (newMappings.has(key)) continue;
    mappingsRemoved.push(formatEidPrefix(mapping.eid));
    changes.push({ kind: 'delete-mapping', eid: mapping.eid });
  }
  const needRestart: string[] = [];
  if (before.dataDir !== after.dataDir) needRestart.push('dataDir');
  if (!same(before.lisp, after.lisp)) needRestart.push('lisp');
  if (!same(before.api, after.api)) needRestart.push('api');
  if (!same(before.mobility, after.mobility)) needRestart.push('mobility');
  return {
    changes,
    summary: { sitesAdded, sitesChanged, sitesRemoved, mappingsAdded, mappingsChanged, mappingsRemoved, registrationsDropped, needRestart },
  };
}

// Reads, validates and resolves the server config (file or the embedded demo).
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { MappingRecord } from '../codec/types.js';
import { DEFAULT_RATE_LIMIT, type RateLimit } from '../control/rate-limit.js';
import { DEFAULT_RECEIVE_BUFFER_BYTES, type ListenAddress } from '../transport/udp.js';
import type { Site } from '../db/model.js';
import { prefixKey } from '../codec/prefix.js';
import { ConfigError, checkMappingOverlapsSite, checkSiteOverlaps, mappingFromJson, siteFromJson } from '../json/convert.js';
import { ConfigJson } from '../json/schema.js';
import { SchemaError, validate } from '../json/validate.js';

/** LIVMAP_WORKERS, when set: the default of `lisp.workers` (CI runs the server tests with 2). */
export function workersFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env.LIVMAP_WORKERS;
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

/**
 * `lisp.workers` when a config file leaves it out: LIVMAP_WORKERS, else one thread per core up
 * to 4 (beyond that the one writer and the kernel's spreading gain less; README: Workers).
 */
export function defaultWorkers(): number {
  return workersFromEnv() ?? Math.max(1, Math.min(4, availableParallelism()));
}

export interface ServerConfig {
  readonly dataDir: string;
  readonly lisp: {
    readonly listen: readonly ListenAddress[];
    /** How long a registration lives without refresh (RFC 9301 §8.2: 3 × the 60 s interval). */
    readonly registrationTtlSeconds: number;
    /** TTL of negative Map-Replies for EIDs outside every site (RFC 9301 §8.4: 15 minutes). */
    readonly negativeTtlMinutes: number;
    /** TTL of negative Map-Replies inside a configured site that has not registered (1 minute). */
    readonly unregisteredSiteTtlMinutes: number;
    /** Map-Requests answered per ITR-RLOC (anti-reflection). */
    readonly rateLimit: RateLimit;
    /**
     * SO_RCVBUF asked for each socket. It absorbs bursts (every ITR re-asking after a move) and is
     * also the queue a flood waits in: at capacity, 4 MiB holds about 100 ms of requests here.
     */
    readonly receiveBufferBytes?: number;
    /**
     * Threads answering Map-Requests, the main thread included (mapserver/workers/): 1 is one
     * thread and no reusePort. Unset: LIVMAP_WORKERS, else 1.
     */
    readonly workers?: number;
  };
  readonly api: { readonly listen: ListenAddress; readonly token?: string };
  readonly mobility: { readonly enabled: boolean; readonly requesterCapacity: number };
  readonly sites: readonly Site[];
  readonly mappings: readonly MappingRecord[];
  /**
   * Keys the config file had where extra keys are allowed (top level, lisp, api) that livmap does
   * not know: ignored, but reported, because a misspelt setting silently falls back to its default.
   */
  readonly ignoredKeys?: readonly string[];
}

export function parseListen(text: string, field: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(field, `'${text}' is not host:port (IPv6 as [addr]:port)`);
  }
  const version = isIP(host);
  if (version === 0) throw new ConfigError(field, `'${host}' is not an IP address`);
  return { host, port, family: version === 6 ? 6 : 4 };
}

/** JSON has no comments: keys like these are how people write them, and are not reported. */
const COMMENT_KEY = /^(comment|_.*|\/\/.*|#.*)$/;

/** Unknown keys of the objects that allow extra keys (top level, lisp, api), as dotted paths. */
export function unknownConfigKeys(raw: unknown): string[] {
  const unknown: string[] = [];
  const check = (value: unknown, known: Record<string, unknown>, path: string): void => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const key of Object.keys(value)) if (!(key in known) && !COMMENT_KEY.test(key)) unknown.push(`${path}${key}`);
  };
  const { properties } = ConfigJson;
  check(raw, properties, '');
  const json = raw as { lisp?: unknown; api?: unknown };
  check(json.lisp, properties.lisp.properties, 'lisp.');
  check(json.api, properties.api.properties, 'api.');
  return unknown;
}

/** Validates parsed JSON into a ServerConfig. Throws ConfigError naming the bad field. */
export function resolveConfig(raw: unknown): ServerConfig {
  let json: ConfigJson;
  try {
    json = validate(ConfigJson, raw);
  } catch (err) {
    if (err instanceof SchemaError) throw new ConfigError(err.field, err.problem);
    throw err;
  }
  const sites: Site[] = [];
  const names = new Set<string>();
  (json.sites ?? []).forEach((s, i) => {
    const site = siteFromJson(s, `sites[${i}]`);
    if (names.has(site.name)) throw new ConfigError(`sites[${i}].name`, `site '${site.name}' is defined twice`);
    checkSiteOverlaps(site, sites, `sites[${i}]`);
    names.add(site.name);
    sites.push(site);
  });
  const seen = new Set<string>();
  const mappings = (json.mappings ?? []).map((m, i) => {
    const mapping = mappingFromJson(m, `mappings[${i}]`);
    const key = prefixKey(mapping.eid);
    if (seen.has(key)) throw new ConfigError(`mappings[${i}].eid`, `${m.eid} is defined twice`);
    seen.add(key);
    for (const site of sites) checkMappingOverlapsSite(mapping, site, `mappings[${i}]`);
    return mapping;
  });
  const listen = (json.lisp?.listen ?? ['0.0.0.0:4342', '[::]:4342']).map((l, i) => parseListen(l, `lisp.listen[${i}]`));
  return {
    dataDir: json.dataDir ?? './data',
    lisp: {
      listen,
      registrationTtlSeconds: json.lisp?.registrationTtlSeconds ?? 180,
      negativeTtlMinutes: json.lisp?.negativeTtlMinutes ?? 15,
      unregisteredSiteTtlMinutes: json.lisp?.unregisteredSiteTtlMinutes ?? 1,
      receiveBufferBytes: json.lisp?.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES,
      workers: json.lisp?.workers ?? defaultWorkers(),
      rateLimit: {
        perSecond: json.lisp?.rateLimit?.perSecond ?? DEFAULT_RATE_LIMIT.perSecond,
        burst: json.lisp?.rateLimit?.burst ?? DEFAULT_RATE_LIMIT.burst,
        maxAddresses: json.lisp?.rateLimit?.maxAddresses ?? DEFAULT_RATE_LIMIT.maxAddresses,
      },
    },
    api: {
      listen: parseListen(json.api?.listen ?? '127.0.0.1:8080', 'api.listen'),
      ...(json.api?.token !== undefined ? { token: json.api.token } : {}),
    },
    mobility: { enabled: json.mobility?.enabled ?? true, requesterCapacity: json.mobility?.requesterCapacity ?? 100_000 },
    sites,
    mappings,
    ignoredKeys: unknownConfigKeys(raw),
  };
}

export async function loadConfigFile(path: string): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, `is not valid JSON (${(err as Error).message})`);
  }
  const config = resolveConfig(raw);
  // A relative dataDir (and the default ./data) is next to the config file, wherever serve is started from.
  return { ...config, dataDir: resolve(dirname(path), config.dataDir) };
}

// Starts a LispServer on loopback with the OOR lab sites, in a fresh data directory.
import type { Test } from 'tap';
import type { ServerConfig } from '../../mapserver/config/load.js';
import { DEFAULT_RATE_LIMIT, type RateLimit } from '../../mapserver/control/rate-limit.js';
import type { MappingRecord } from '../../mapserver/codec/types.js';
import type { Site } from '../../mapserver/db/model.js';
import { LispServer, type ServerOptions } from '../../mapserver/compose/server.js';
import { OOR_LAB_SITES } from './fixtures.js';

export function labConfig(
  dataDir: string,
  extra: { sites?: readonly Site[]; mappings?: readonly MappingRecord[]; host?: string; port?: number; rateLimit?: RateLimit } = {},
): ServerConfig {
  return {
    dataDir,
    lisp: {
      listen: [{ host: extra.host ?? '127.0.0.1', port: extra.port ?? 0, family: 4 }],
      registrationTtlSeconds: 180,
      negativeTtlMinutes: 15,
      unregisteredSiteTtlMinutes: 1,
      rateLimit: extra.rateLimit ?? DEFAULT_RATE_LIMIT,
    },
    api: { listen: { host: '127.0.0.1', port: 0, family: 4 } },
    mobility: { enabled: true, requesterCapacity: 100_000 },
    sites: extra.sites ?? OOR_LAB_SITES,
    mappings: extra.mappings ?? [],
  };
}

export async function startLabServer(t: Test, options: ServerOptions = {}, extra: Parameters<typeof labConfig>[1] = {}): Promise<LispServer> {
  const server = await LispServer.start(labConfig(t.testdir(), extra), options);
  t.teardown(() => server.close());
  return server;
}

/** Datagrams `server` has read, once it has read nothing new for `quietMs` (everything queued for it is read). */
export async function readWhenDrained(server: LispServer, quietMs: number): Promise<number> {
  const read = (): Promise<number> => server.metrics.value('livmap_datagrams_received_total');
  let now = await read();
  for (let last = -1; now !== last; now = await read()) {
    last = now;
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
  return now;
}

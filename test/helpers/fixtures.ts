// Shared test fixtures: the sites of the OOR lab (test/vectors/oor/README.md) and small builders.
import type { Locator, MappingRecord } from '../../mapserver/codec/types.js';
import type { Registration, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';

export const INTEROP_KEY = 'lisp-interop-key';

function site(name: string, eid: string, iid = 0): Site {
  return { name, keys: [{ alg: 'hmac-sha1', secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix(eid, iid), acceptMoreSpecifics: true }] };
}

/** The MS lisp-sites of the OOR captures. */
export const OOR_LAB_SITES: readonly Site[] = [
  site('xtr-a', '10.16.10.0/24'),
  site('xtr-b', '192.168.20.0/24'),
  site('unregistered', '172.31.250.0/24'),
  site('vm', '10.16.50.0/24'),
  site('xtr-c', '172.16.30.0/24'),
  site('xtr-c-iid7', '172.16.31.0/24', 7),
];

export function locator(ip: string, extra: Partial<Locator> = {}): Locator {
  return {
    priority: 1, weight: 100, mPriority: 255, mWeight: 0, local: true, probed: false, reachable: true,
    rloc: ip.includes(':') ? { afi: 'ipv6', ip } : { afi: 'ipv4', ip },
    ...extra,
  };
}

export function record(eid: string, rlocs: string[], ttl = 10, iid = 0): MappingRecord {
  return { eid: parseEidPrefix(eid, iid), ttl, action: 0, authoritative: true, mapVersion: 0, locators: rlocs.map((r) => locator(r)) };
}

export function registration(siteName: string, etr: string, rec: MappingRecord, at: number, extra: Partial<Registration> = {}): Registration {
  return {
    site: siteName, etrId: `rloc:${etr}`, source: { address: etr, port: 4342 }, proxyReply: true, merge: false,
    record: rec, claimedAt: at, lastRefreshed: at, expiresAt: at + 180_000, ...extra,
  };
}

// JSON (config file, API bodies) <-> domain objects, with errors that name the field.
import { ACTION, ACTION_NAMES, actionName, type Address, type Locator, type MappingRecord } from '../codec/types.js';
import { canonicalIp } from '../codec/ip.js';
import { formatAddress } from '../codec/text.js';
import { formatBareEidPrefix, formatEidPrefix, parseEidPrefix, prefixesOverlap } from '../codec/prefix.js';
import type { Site, SitePrefix } from '../db/model.js';
import type { MappingJson, RlocJson, SiteJson } from './schema.js';

/** A bad value in a config file or request body; `field` is a JSON pointer-ish path. */
export class ConfigError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export { actionName };

function prefixAt(field: string, eid: string, iid: number | undefined) {
  try {
    return parseEidPrefix(eid, iid ?? 0);
  } catch (err) {
    throw new ConfigError(field, err instanceof Error ? err.message : String(err));
  }
}

function rlocAddress(field: string, text: string): Address {
  const ip = canonicalIp(text);
  if (ip === null) throw new ConfigError(field, `'${text}' is not an IPv4 or IPv6 address`);
  return ip.includes(':') ? { afi: 'ipv6', ip } : { afi: 'ipv4', ip };
}

export function siteFromJson(json: SiteJson, field = 'site'): Site {
  const prefixes: SitePrefix[] = json.prefixes.map((p, i) => ({
    eid: prefixAt(`${field}.prefixes[${i}].eid`, p.eid, p.iid),
    acceptMoreSpecifics: p.acceptMoreSpecifics ?? false,
    ...(p.moreSpecificTtl !== undefined ? { moreSpecificTtl: p.moreSpecificTtl } : {}),
  }));
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = 0; j < i; j++) {
      if (prefixesOverlap(prefixes[i]!.eid, prefixes[j]!.eid)) {
        throw new ConfigError(`${field}.prefixes[${i}].eid`, `${formatEidPrefix(prefixes[i]!.eid)} overlaps prefixes[${j}] ${formatEidPrefix(prefixes[j]!.eid)}`);
      }
    }
  }
  return {
    name: json.name,
    ...(json.description !== undefined ? { description: json.description } : {}),
    keys: json.keys.map((k) => ({ alg: k.alg, secret: k.secret })),
    prefixes,
  };
}

/** The site without its secrets: what the API may show. */
export function siteToPublicJson(site: Site): Omit<SiteJson, 'keys'> & { keys: Array<{ alg: string }> } {
  return {
    name: site.name,
    ...(site.description !== undefined ? { description: site.description } : {}),
    keys: site.keys.map((k) => ({ alg: k.alg })),
    prefixes: site.prefixes.map((p) => ({
      eid: formatBareEidPrefix(p.eid),
      iid: p.eid.iid,
      acceptMoreSpecifics: p.acceptMoreSpecifics,
      ...(p.moreSpecificTtl !== undefined ? { moreSpecificTtl: p.moreSpecificTtl } : {}),
    })),
  };
}

/** Refuses a site whose prefixes overlap another site's: a Map-Register must map to one site. */
export function checkSiteOverlaps(site: Site, others: Iterable<Site>, field = 'site'): void {
  for (const other of others) {
    if (other.name === site.name) continue;
    site.prefixes.forEach((p, i) => {
      for (const q of other.prefixes) {
        if (prefixesOverlap(p.eid, q.eid)) {
          throw new ConfigError(`${field}.prefixes[${i}].eid`, `${formatEidPrefix(p.eid)} overlaps ${formatEidPrefix(q.eid)} of site '${other.name}'`);
        }
      }
    });
  }
}

function locatorFromJson(json: RlocJson, field: string): Locator {
  return {
    priority: json.priority ?? 1,
    weight: json.weight ?? 100,
    mPriority: json.mpriority ?? 255,
    mWeight: json.mweight ?? 0,
    local: false,
    probed: false,
    reachable: json.reachable ?? true,
    rloc: rlocAddress(`${field}.address`, json.address),
  };
}

export function mappingFromJson(json: MappingJson, field = 'mapping'): MappingRecord {
  const eid = prefixAt(`${field}.eid`, json.eid, json.iid);
  const action = json.action === undefined ? (json.rlocs.length ? ACTION.noAction : ACTION.nativelyForward) : ACTION_NAMES.indexOf(json.action as (typeof ACTION_NAMES)[number]);
  return {
    eid,
    ttl: json.ttl ?? 10,
    action,
    authoritative: true,
    mapVersion: 0,
    locators: json.rlocs.map((r, i) => locatorFromJson(r, `${field}.rlocs[${i}]`)),
  };
}


export function mappingToJson(record: MappingRecord): MappingJson {
  return {
    eid: formatBareEidPrefix(record.eid),
    iid: record.eid.iid,
    ttl: record.ttl,
    action: actionName(record.action),
    rlocs: record.locators.map((l) => ({
      address: formatAddress(l.rloc),
      priority: l.priority,
      weight: l.weight,
      mpriority: l.mPriority,
      mweight: l.mWeight,
      reachable: l.reachable,
    })),
  };
}

/** Refuses a static mapping inside (or around) a site's prefix: that space belongs to registrations. */
export function checkMappingOverlapsSite(mapping: MappingRecord, site: Site, field = 'mapping'): void {
  for (const p of site.prefixes) {
    if (prefixesOverlap(mapping.eid, p.eid)) {
      throw new ConfigError(`${field}.eid`, `${formatEidPrefix(mapping.eid)} overlaps ${formatEidPrefix(p.eid)} of site '${site.name}'`);
    }
  }
}

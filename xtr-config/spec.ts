// The xtr-config spec: one JSON file describing the Map-Server, the sites, their xTRs and the
// VMs that migrate between sites. `resolveSpec` validates it completely (schema, then the
// cross-field rules) before anything is generated, so a bad spec never yields partial output.
import { Type, type Static } from '@sinclair/typebox';
import type { EidPrefix } from '../mapserver/codec/types.js';
import { canonicalIp, parseIp } from '../mapserver/codec/ip.js';
import { LISP_CONTROL_PORT } from '../mapserver/codec/ports.js';
import { containsPrefix, formatEidPrefix, parseEidPrefix, prefixesOverlap, samePrefix } from '../mapserver/codec/prefix.js';
import { parseListen } from '../mapserver/config/load.js';
import { SchemaError, validate } from '../mapserver/json/validate.js';
import { XTR_TARGET_NAMES, xtrTarget, type XtrTargetName } from './targets/index.js';

/** OOR keeps instance IDs in 24 bits (MAX_IID in liblisp/lisp_lcaf.h) and resets larger ones to 0. */
export const OOR_MAX_IID = 16777215;
/** OOR's default database-mapping TTL (DEFAULT_DATA_CACHE_TTL, minutes). */
export const DEFAULT_SITE_TTL = 10;
/** Migratable VMs get a short TTL so ITRs re-resolve soon after a move. */
export const DEFAULT_VM_TTL = 1;

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'letters, digits, . _ - (used in file names)' });
const Ip = Type.String({ minLength: 2, maxLength: 64, description: 'IPv4 or IPv6 address' });
const Iid = Type.Integer({ minimum: 0, maximum: OOR_MAX_IID, description: 'instance ID (default 0; OOR allows 24 bits)' });
const Ttl = Type.Integer({ minimum: 1, maximum: 0x7fffffff, description: 'record TTL in minutes (OOR raises 0 to 1)' });
const PriorityWeight = Type.Integer({ minimum: 0, maximum: 255 });

export const SpecKeyJson = Type.Object(
  {
    alg: Type.Union([Type.Literal('hmac-sha1'), Type.Literal('hmac-sha256')], {
      description: 'hmac-sha1 (OOR key-type 1, the only one OOR supports) or hmac-sha256 (external xTRs only)',
    }),
    // Control characters could not be written into an OOR file faithfully.
    secret: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }),
  },
  { additionalProperties: false },
);

export const SpecPrefixJson = Type.Object(
  {
    eid: Type.String({ minLength: 1, maxLength: 64, description: 'EID prefix, e.g. 10.16.10.0/24' }),
    iid: Type.Optional(Iid),
    acceptMoreSpecifics: Type.Optional(
      Type.Boolean({ description: 'force acceptMoreSpecifics in the livmap config (it is set anyway where a VM EID lies)' }),
    ),
  },
  { additionalProperties: false },
);

export const SpecRlocJson = Type.Object(
  {
    interface: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.@-]{1,15}$', description: 'Linux interface name (rloc-iface)' })),
    ipVersion: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)], { description: 'with interface: which address of it (default 4)' })),
    address: Type.Optional(Ip),
    priority: Type.Optional(PriorityWeight),
    weight: Type.Optional(PriorityWeight),
  },
  { additionalProperties: false },
);

export const SpecXtrJson = Type.Object(
  {
    name: Name,
    target: Type.Optional(
      Type.Union([...XTR_TARGET_NAMES.map((name) => Type.Literal(name)), Type.Literal('external')], {
        description: `the xTR software: ${XTR_TARGET_NAMES.map((name) => `${name} (${xtrTarget(name).software})`).join(', ')}, a config file is written (default oor); external: configured elsewhere, only counted in the livmap config`,
      }),
    ),
    rlocs: Type.Array(SpecRlocJson, { minItems: 1, maxItems: 32 }),
  },
  { additionalProperties: false },
);

export const SpecSiteJson = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String({ maxLength: 256 })),
    underlay: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'underlay prefix; RLOC addresses must lie in it' })),
    eidPrefixes: Type.Array(SpecPrefixJson, { minItems: 1, maxItems: 256 }),
    key: SpecKeyJson,
    proxyReply: Type.Optional(Type.Boolean({ description: 'ask the Map-Server to answer Map-Requests for this site (default false)' })),
    ttl: Type.Optional(Ttl),
    xtrs: Type.Array(SpecXtrJson, { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false },
);

export const SpecMobilePrefixJson = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String({ maxLength: 256 })),
    eid: Type.String({ minLength: 1, maxLength: 64 }),
    iid: Type.Optional(Iid),
  },
  { additionalProperties: false },
);

export const SpecVmJson = Type.Object(
  {
    name: Name,
    eid: Type.String({ minLength: 1, maxLength: 64, description: 'VM EID: IPv4 address (/32) or IPv6 address (/128)' }),
    iid: Type.Optional(Iid),
    site: Name,
    mayRunAt: Type.Optional(Type.Array(Name, { minItems: 1, maxItems: 64, description: 'sites the VM may migrate to (default: every site)' })),
    ttl: Type.Optional(Ttl),
  },
  { additionalProperties: false },
);

export const XtrSpecJson = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    mapServers: Type.Array(Ip, { minItems: 1, maxItems: 8 }),
    mapResolvers: Type.Optional(Type.Array(Ip, { minItems: 1, maxItems: 8 })),
    oor: Type.Optional(
      Type.Object(
        {
          debug: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
          mapRequestRetries: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
          encapsulation: Type.Optional(Type.Union([Type.Literal('LISP'), Type.Literal('VXLAN-GPE')])),
          rlocProbing: Type.Optional(
            Type.Object(
              {
                interval: Type.Integer({ minimum: 0, maximum: 86400, description: 'seconds; 0 disables RLOC probing' }),
                retries: Type.Integer({ minimum: 0, maximum: 5 }),
                retriesInterval: Type.Integer({ minimum: 1, maximum: 86400 }),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    livmap: Type.Optional(
      Type.Object(
        {
          dataDir: Type.Optional(Type.String({ minLength: 1 })),
          listen: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 64 }), { minItems: 1, maxItems: 16 })),
        },
        { additionalProperties: false },
      ),
    ),
    sites: Type.Array(SpecSiteJson, { minItems: 1, maxItems: 1024 }),
    mobilePrefixes: Type.Optional(Type.Array(SpecMobilePrefixJson, { maxItems: 1024 })),
    vms: Type.Optional(Type.Array(SpecVmJson, { maxItems: 100000 })),
  },
  { additionalProperties: false },
);

export type XtrSpecJson = Static<typeof XtrSpecJson>;

/** A spec that cannot be turned into configs; `field` names the offending value (`sites[0].key`). */
export class SpecError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'SpecError';
  }
}

export type Rloc =
  | { readonly kind: 'address'; readonly address: string; readonly priority: number; readonly weight: number }
  | { readonly kind: 'interface'; readonly interface: string; readonly ipVersion: 4 | 6; readonly priority: number; readonly weight: number };

export interface Xtr {
  readonly name: string;
  readonly target: XtrTargetName | 'external';
  readonly rlocs: readonly Rloc[];
}

export interface Key {
  readonly alg: 'hmac-sha1' | 'hmac-sha256';
  readonly secret: string;
}

export interface Site {
  readonly name: string;
  readonly description?: string;
  readonly prefixes: ReadonlyArray<{ readonly eid: EidPrefix; readonly acceptMoreSpecifics: boolean }>;
  readonly key: Key;
  readonly proxyReply: boolean;
  readonly ttl: number;
  readonly xtrs: readonly Xtr[];
}

export interface MobilePrefix {
  readonly name: string;
  readonly description?: string;
  readonly eid: EidPrefix;
}

export interface Vm {
  readonly name: string;
  /** Host prefix (/32 or /128). */
  readonly eid: EidPrefix;
  readonly site: string;
  readonly mayRunAt: readonly string[];
  readonly ttl: number;
  /** The site prefix or mobile prefix the EID lies in: whose livmap site authenticates it. */
  readonly home: { readonly kind: 'site' | 'mobile'; readonly name: string };
}

export interface XtrSpec {
  readonly mapServers: readonly string[];
  readonly mapResolvers: readonly string[];
  readonly oor: {
    readonly debug: number;
    readonly mapRequestRetries: number;
    readonly encapsulation: 'LISP' | 'VXLAN-GPE';
    readonly rlocProbing: { readonly interval: number; readonly retries: number; readonly retriesInterval: number };
  };
  readonly livmap: { readonly dataDir: string; readonly listen: readonly string[] };
  readonly sites: readonly Site[];
  readonly mobilePrefixes: readonly MobilePrefix[];
  readonly vms: readonly Vm[];
}

function prefixAt(field: string, text: string, iid: number | undefined): EidPrefix {
  let prefix: EidPrefix;
  try {
    prefix = parseEidPrefix(text, iid ?? 0);
  } catch (err) {
    throw new SpecError(field, err instanceof Error ? err.message : String(err));
  }
  if (iid !== undefined && prefix.iid !== iid) {
    throw new SpecError(field, `instance ID [${prefix.iid}] in the text contradicts "iid": ${iid}`);
  }
  if (prefix.address.afi !== 'ipv4' && prefix.address.afi !== 'ipv6') {
    throw new SpecError(field, `${text}: only IPv4 and IPv6 EIDs are supported`);
  }
  if (prefix.iid > OOR_MAX_IID) throw new SpecError(field, `instance ID ${prefix.iid} is above OOR's limit ${OOR_MAX_IID}`);
  return prefix;
}

function ipAt(field: string, text: string): string {
  const ip = canonicalIp(text);
  if (ip === null) throw new SpecError(field, `'${text}' is not an IPv4 or IPv6 address`);
  return ip;
}

/** OOR's default ipv6-scope GLOBAL ignores RLOC addresses outside 2000::/3. */
function isGlobalIpv6(ip: string): boolean {
  const parsed = parseIp(ip);
  return parsed !== null && parsed.family === 'ipv6' && (parsed.bytes[0]! & 0xe0) === 0x20;
}

function checkUnique(names: ReadonlyArray<{ name: string; field: string }>, what: string): void {
  const seen = new Map<string, string>();
  for (const { name, field } of names) {
    const earlier = seen.get(name);
    if (earlier !== undefined) throw new SpecError(field, `${what} '${name}' is already defined at ${earlier}`);
    seen.set(name, field);
  }
}

interface OwnedPrefix {
  readonly eid: EidPrefix;
  readonly field: string;
  readonly owner: { readonly kind: 'site' | 'mobile'; readonly name: string };
}

/** Validates the raw JSON and every cross-field rule; throws SpecError naming the first bad field. */
export function resolveSpec(raw: unknown): XtrSpec {
  let json: XtrSpecJson;
  try {
    json = validate(XtrSpecJson, raw);
  } catch (err) {
    if (err instanceof SchemaError) throw new SpecError(err.field, err.problem);
    throw err;
  }

  const mapServers = json.mapServers.map((a, i) => ipAt(`mapServers[${i}]`, a));
  const mapResolvers = (json.mapResolvers ?? json.mapServers).map((a, i) => ipAt(json.mapResolvers ? `mapResolvers[${i}]` : `mapServers[${i}]`, a));

  checkUnique(mapServers.map((a, i) => ({ name: a, field: `mapServers[${i}]` })), 'Map-Server');
  if (json.mapResolvers) checkUnique(mapResolvers.map((a, i) => ({ name: a, field: `mapResolvers[${i}]` })), 'Map-Resolver');

  const probing = json.oor?.rlocProbing ?? { interval: 30, retries: 2, retriesInterval: 5 };
  // OOR silently clamps these (validate_rloc_probing_parameters); refuse instead so the file says what runs.
  if (probing.interval > 0 && probing.retries > 0 && probing.retriesInterval > probing.interval) {
    throw new SpecError('oor.rlocProbing.retriesInterval', `${probing.retriesInterval} s is longer than the probe interval ${probing.interval} s`);
  }

  const listen = json.livmap?.listen ?? defaultListen(mapServers);
  listen.forEach((l, i) => {
    try {
      parseListen(l, `livmap.listen[${i}]`);
    } catch {
      throw new SpecError(`livmap.listen[${i}]`, `'${l}' is not host:port (IPv6 as [addr]:port)`);
    }
  });

  checkUnique(json.sites.map((s, i) => ({ name: s.name, field: `sites[${i}].name` })), 'site');
  checkUnique(
    [
      ...json.sites.map((s, i) => ({ name: s.name, field: `sites[${i}].name` })),
      ...(json.mobilePrefixes ?? []).map((m, i) => ({ name: m.name, field: `mobilePrefixes[${i}].name` })),
    ],
    'site or mobile prefix',
  );
  // xTR names become file names, so they are unique across all sites.
  checkUnique(json.sites.flatMap((s, i) => s.xtrs.map((x, j) => ({ name: x.name, field: `sites[${i}].xtrs[${j}].name` }))), 'xTR');
  checkUnique((json.vms ?? []).map((v, i) => ({ name: v.name, field: `vms[${i}].name` })), 'VM');

  const owned: OwnedPrefix[] = [];
  const claim = (p: OwnedPrefix): void => {
    for (const other of owned) {
      if (prefixesOverlap(p.eid, other.eid)) {
        const whose = other.owner.kind === 'site' ? `site '${other.owner.name}'` : `mobile prefix '${other.owner.name}'`;
        throw new SpecError(p.field, `${formatEidPrefix(p.eid)} overlaps ${formatEidPrefix(other.eid)} of ${whose} (${other.field})`);
      }
    }
    owned.push(p);
  };

  const sites: Site[] = json.sites.map((s, i) => {
    const field = `sites[${i}]`;
    const underlay = s.underlay === undefined ? undefined : prefixAt(`${field}.underlay`, s.underlay, 0);
    const prefixes = s.eidPrefixes.map((p, j) => {
      const eid = prefixAt(`${field}.eidPrefixes[${j}].eid`, p.eid, p.iid);
      claim({ eid, field: `${field}.eidPrefixes[${j}].eid`, owner: { kind: 'site', name: s.name } });
      return { eid, acceptMoreSpecifics: p.acceptMoreSpecifics ?? false };
    });
    const xtrs: Xtr[] = s.xtrs.map((x, j) => {
      const xfield = `${field}.xtrs[${j}]`;
      const target = x.target ?? 'oor';
      if (target !== 'external') {
        const software = xtrTarget(target);
        const keyProblem = software.keyProblem(s.key.alg);
        if (keyProblem) throw new SpecError(`${field}.key.alg`, `xTR '${x.name}' (${xfield}) ${keyProblem}; use ${software.keyAlgorithms[0]} or set its "target" to "external"`);
      }
      const rlocs = x.rlocs.map((r, k): Rloc => resolveRloc(r, `${xfield}.rlocs[${k}]`, underlay));
      checkUnique(
        rlocs.map((r, k) => ({ name: r.kind === 'address' ? r.address : `${r.interface}/IPv${r.ipVersion}`, field: `${xfield}.rlocs[${k}]` })),
        'RLOC',
      );
      return { name: x.name, target, rlocs };
    });
    return {
      name: s.name,
      ...(s.description !== undefined ? { description: s.description } : {}),
      prefixes,
      key: { alg: s.key.alg, secret: s.key.secret },
      proxyReply: s.proxyReply ?? false,
      ttl: s.ttl ?? DEFAULT_SITE_TTL,
      xtrs,
    };
  });

  const mobilePrefixes: MobilePrefix[] = (json.mobilePrefixes ?? []).map((m, i) => {
    const eid = prefixAt(`mobilePrefixes[${i}].eid`, m.eid, m.iid);
    claim({ eid, field: `mobilePrefixes[${i}].eid`, owner: { kind: 'mobile', name: m.name } });
    return { name: m.name, ...(m.description !== undefined ? { description: m.description } : {}), eid };
  });

  const siteNames = new Set(sites.map((s) => s.name));
  const vmEids: Array<{ eid: EidPrefix; field: string }> = [];
  const vms: Vm[] = (json.vms ?? []).map((v, i) => {
    const field = `vms[${i}]`;
    const eid = prefixAt(`${field}.eid`, v.eid, v.iid);
    const hostBits = eid.address.afi === 'ipv6' ? 128 : 32;
    if (eid.length !== hostBits) {
      throw new SpecError(`${field}.eid`, `${formatEidPrefix(eid)}: a VM EID is one address (/${hostBits}), so ITRs cache exactly the VM`);
    }
    const twin = vmEids.find((e) => samePrefix(e.eid, eid));
    if (twin) throw new SpecError(`${field}.eid`, `${formatEidPrefix(eid)} is already the EID of ${twin.field}`);
    vmEids.push({ eid, field });
    const home = owned.find((p) => containsPrefix(p.eid, eid));
    if (!home) {
      throw new SpecError(
        `${field}.eid`,
        `${formatEidPrefix(eid)} lies inside no site EID prefix and no mobilePrefixes entry, so no livmap site could accept its registration`,
      );
    }
    if (samePrefix(home.eid, eid)) {
      throw new SpecError(`${field}.eid`, `${formatEidPrefix(eid)} is itself the prefix ${home.field}; a VM needs a more specific EID`);
    }
    if (!siteNames.has(v.site)) throw new SpecError(`${field}.site`, `no site is named '${v.site}'`);
    const mayRunAt = v.mayRunAt ?? sites.map((s) => s.name);
    mayRunAt.forEach((name, j) => {
      if (!siteNames.has(name)) throw new SpecError(`${field}.mayRunAt[${j}]`, `no site is named '${name}'`);
    });
    if (!mayRunAt.includes(v.site)) throw new SpecError(`${field}.site`, `'${v.site}' is not in the VM's mayRunAt list`);
    return { name: v.name, eid, site: v.site, mayRunAt: [...new Set(mayRunAt)], ttl: v.ttl ?? DEFAULT_VM_TTL, home: home.owner };
  });

  return {
    mapServers,
    mapResolvers,
    oor: {
      debug: json.oor?.debug ?? 0,
      mapRequestRetries: json.oor?.mapRequestRetries ?? 2,
      encapsulation: json.oor?.encapsulation ?? 'LISP',
      rlocProbing: probing,
    },
    livmap: { dataDir: json.livmap?.dataDir ?? './data', listen },
    sites,
    mobilePrefixes,
    vms,
  };
}

function resolveRloc(r: Static<typeof SpecRlocJson>, field: string, underlay: EidPrefix | undefined): Rloc {
  const priority = r.priority ?? 1;
  const weight = r.weight ?? 100;
  if (r.interface !== undefined && r.address !== undefined) {
    throw new SpecError(field, 'give either "interface" or "address", not both (write two RLOCs for both)');
  }
  if (r.interface !== undefined) return { kind: 'interface', interface: r.interface, ipVersion: r.ipVersion ?? 4, priority, weight };
  if (r.address === undefined) throw new SpecError(field, 'needs an "interface" (rloc-iface) or an "address" (rloc-address)');
  if (r.ipVersion !== undefined) throw new SpecError(`${field}.ipVersion`, 'applies only to an "interface" RLOC');
  const address = ipAt(`${field}.address`, r.address);
  if (address.includes(':') && !isGlobalIpv6(address)) {
    throw new SpecError(`${field}.address`, `${address} is not a global IPv6 address (2000::/3); OOR's default ipv6-scope ignores it`);
  }
  if (underlay) {
    const asPrefix = parseEidPrefix(address, 0);
    if (!containsPrefix(underlay, asPrefix)) {
      throw new SpecError(`${field}.address`, `${address} is outside the site's underlay ${formatEidPrefix(underlay)}`);
    }
  }
  return { kind: 'address', address, priority, weight };
}

/** Wildcard listen on UDP 4342 for each address family the Map-Server addresses use. */
function defaultListen(mapServers: readonly string[]): string[] {
  const out: string[] = [];
  if (mapServers.some((a) => !a.includes(':'))) out.push(`0.0.0.0:${LISP_CONTROL_PORT}`);
  if (mapServers.some((a) => a.includes(':'))) out.push(`[::]:${LISP_CONTROL_PORT}`);
  return out;
}

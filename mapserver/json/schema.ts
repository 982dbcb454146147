// The operator's JSON format: the shapes of the config file. The REST API reuses SiteJson and
// MappingJson, so an operator writes the same object in a file and in a request body.
import { Type, type Static } from '@sinclair/typebox';

export const KeyJson = Type.Object(
  {
    alg: Type.Union([Type.Literal('hmac-sha1'), Type.Literal('hmac-sha256')], {
      description: 'HMAC algorithm: hmac-sha1 (what OOR supports) or hmac-sha256',
    }),
    secret: Type.String({ minLength: 1, maxLength: 1024, description: 'shared secret (write-only)' }),
  },
  { additionalProperties: false },
);

export const SitePrefixJson = Type.Object(
  {
    eid: Type.String({ minLength: 1, maxLength: 64, description: 'EID prefix, e.g. 10.16.10.0/24 or 2001:db8::/32' }),
    iid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'instance ID (default 0)' })),
    acceptMoreSpecifics: Type.Optional(Type.Boolean({ description: 'accept registrations inside the prefix (default false)' })),
    moreSpecificTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, description: 'minutes: TTL cap of replies for registrations more specific than this prefix (mobile VMs)' })),
  },
  { additionalProperties: false },
);

export const SiteJson = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'site name (letters, digits, . _ -)' }),
    description: Type.Optional(Type.String({ maxLength: 256 })),
    keys: Type.Array(KeyJson, { minItems: 1, maxItems: 8 }),
    prefixes: Type.Array(SitePrefixJson, { minItems: 1, maxItems: 4096 }),
  },
  { additionalProperties: false },
);

export const RlocJson = Type.Object(
  {
    address: Type.String({ minLength: 2, maxLength: 64, description: 'RLOC IPv4 or IPv6 address' }),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    mpriority: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    mweight: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    reachable: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const MappingJson = Type.Object(
  {
    eid: Type.String({ minLength: 1, maxLength: 64, description: 'EID prefix' }),
    iid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
    ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'record TTL in minutes (default 10)' })),
    action: Type.Optional(
      Type.Union(
        ['no-action', 'natively-forward', 'send-map-request', 'drop', 'drop-policy-denied', 'drop-auth-failure'].map((a) => Type.Literal(a)),
        { description: 'action for negative mappings (no RLOCs)' },
      ),
    ),
    rlocs: Type.Array(RlocJson, { maxItems: 255 }),
  },
  { additionalProperties: false },
);

const ListenAddress = Type.String({ minLength: 3, maxLength: 64, description: 'host:port, [v6]:port' });

export const ConfigJson = Type.Object({
  dataDir: Type.Optional(Type.String({ minLength: 1 })),
  lisp: Type.Optional(
    Type.Object({
      listen: Type.Optional(Type.Array(ListenAddress, { minItems: 1, maxItems: 16 })),
      registrationTtlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
      negativeTtlMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1440 })),
      unregisteredSiteTtlMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1440 })),
      receiveBufferBytes: Type.Optional(Type.Integer({
        minimum: 65_536, maximum: 1 << 30,
        description: 'UDP receive buffer per socket (default 4 MiB): absorbs bursts, and is the queue a flood waits in',
      })),
      workers: Type.Optional(Type.Integer({
        minimum: 1, maximum: 256,
        description: 'threads answering Map-Requests on the same port (SO_REUSEPORT), the main thread included (default: one per core, up to 4)',
      })),
      rateLimit: Type.Optional(
        Type.Object(
          {
            perSecond: Type.Optional(Type.Number({ minimum: 0, description: 'Map-Replies per second to one ITR-RLOC (0 = no limit)' })),
            burst: Type.Optional(Type.Integer({ minimum: 1 })),
            maxAddresses: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
          },
          { additionalProperties: false },
        ),
      ),
    }),
  ),
  api: Type.Optional(
    Type.Object({
      listen: Type.Optional(ListenAddress),
      token: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    }),
  ),
  mobility: Type.Optional(
    Type.Object(
      {
        enabled: Type.Optional(Type.Boolean({ description: 'SMR ITRs and Map-Notify ETRs when a binding changes (default true)' })),
        requesterCapacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'answers remembered for SMRs (default 100000)' })),
      },
      { additionalProperties: false },
    ),
  ),
  sites: Type.Optional(Type.Array(SiteJson, { maxItems: 100000 })),
  mappings: Type.Optional(Type.Array(MappingJson, { maxItems: 10000000 })),
});

export type KeyJson = Static<typeof KeyJson>;
export type SiteJson = Static<typeof SiteJson>;
export type RlocJson = Static<typeof RlocJson>;
export type MappingJson = Static<typeof MappingJson>;
export type ConfigJson = Static<typeof ConfigJson>;

// The database caches the answer for a prefix with one registration and nothing inside it.
// Whatever sequence of changes and clock moves happens, a database that has answered (and
// cached) must answer exactly like a fresh one built from the same state, which never cached.
import t from 'tap';
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert';
import { MappingDatabase } from '../../mapserver/db/database.js';
import type { Site, StateChange } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { record, registration } from '../helpers/fixtures.js';

const T0 = 1_700_000_000_000;
const OPTIONS = { negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 };

// A small world so sequences collide: one site /16, prefixes nested inside it, two ETRs.
const PREFIXES = ['10.1.0.0/16', '10.1.2.0/24', '10.1.2.0/25', '10.1.2.7/32', '10.1.2.200/32', '10.1.3.0/24'];
const PROBES = ['10.1.2.7/32', '10.1.2.9/32', '10.1.2.200/32', '10.1.3.3/32', '10.1.9.9/32', '10.1.2.0/24', '10.2.0.1/32'];
const ETRS = ['127.0.0.2', '127.0.0.3'];

function site(moreSpecificTtl: number | undefined, accept: boolean): Site {
  return {
    name: 'dc',
    keys: [{ alg: 'hmac-sha1', secret: 'k' }],
    prefixes: [{ eid: parseEidPrefix('10.1.0.0/16'), acceptMoreSpecifics: accept, ...(moreSpecificTtl === undefined ? {} : { moreSpecificTtl }) }],
  };
}

type Step =
  | { op: 'register'; prefix: number; etr: number; ttl: number; merge: boolean; proxy: boolean; lifetimeS: number }
  | { op: 'withdraw'; prefix: number; etr: number }
  | { op: 'site'; cap: number | undefined; accept: boolean }
  | { op: 'mapping'; prefix: number }
  | { op: 'unmap'; prefix: number }
  | { op: 'wait'; seconds: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('register' as const), prefix: fc.nat(PREFIXES.length - 1), etr: fc.nat(ETRS.length - 1), ttl: fc.integer({ min: 1, max: 30 }), merge: fc.boolean(), proxy: fc.boolean(), lifetimeS: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('withdraw' as const), prefix: fc.nat(PREFIXES.length - 1), etr: fc.nat(ETRS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('site' as const), cap: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }), accept: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mapping' as const), prefix: fc.nat(PREFIXES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unmap' as const), prefix: fc.nat(PREFIXES.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 120 }) }) },
);

function changeOf(step: Exclude<Step, { op: 'wait' }>, now: number): StateChange {
  switch (step.op) {
    case 'register': {
      const reg = registration('dc', ETRS[step.etr]!, record(PREFIXES[step.prefix]!, [ETRS[step.etr]!], step.ttl), now, { merge: step.merge, proxyReply: step.proxy, expiresAt: now + step.lifetimeS * 1000 });
      return { kind: 'put-registration', registration: reg };
    }
    case 'withdraw':
      return { kind: 'delete-registration', eid: parseEidPrefix(PREFIXES[step.prefix]!), etrId: `rloc:${ETRS[step.etr]}` };
    case 'site':
      return { kind: 'put-site', site: site(step.cap, step.accept) };
    case 'mapping':
      return { kind: 'put-mapping', mapping: record(PREFIXES[step.prefix]!, ['127.0.0.9'], 5) };
    case 'unmap':
      return { kind: 'delete-mapping', eid: parseEidPrefix(PREFIXES[step.prefix]!) };
  }
}

/** A database that never answered before: the same sites, mappings and registrations. */
function rebuilt(db: MappingDatabase): MappingDatabase {
  const fresh = new MappingDatabase(OPTIONS);
  fresh.apply([...db.sites.values()].map((s): StateChange => ({ kind: 'put-site', site: s })));
  fresh.apply([...db.staticMappings()].map((m): StateChange => ({ kind: 'put-mapping', mapping: m })));
  fresh.apply([...db.registrations()].map((r): StateChange => ({ kind: 'put-registration', registration: r })));
  return fresh;
}

t.test('answers after any sequence of changes equal those of a database that never cached', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(fc.array(arbStep, { minLength: 1, maxLength: 25 }), (steps) => {
      const db = new MappingDatabase(OPTIONS);
      let now = T0;
      db.apply([{ kind: 'put-site', site: site(undefined, true) }]);
      for (const step of steps) {
        if (step.op === 'wait') now += step.seconds * 1000;
        else db.apply([changeOf(step, now)]);
        // Answer every probe twice: the second answer comes from the cache when one was filled.
        for (const probe of PROBES) db.resolve(parseEidPrefix(probe), now);
        const fresh = rebuilt(db);
        for (const probe of PROBES) {
          deepStrictEqual(db.resolve(parseEidPrefix(probe), now), fresh.resolve(parseEidPrefix(probe), now), `${probe} after ${step.op}`);
          checked++;
        }
      }
    }),
    { numRuns: 150, seed: 9301 },
  );
  t.ok(checked > 1000, `${checked} answers compared, all equal`);
});

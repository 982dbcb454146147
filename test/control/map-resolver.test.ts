// The proxy Map-Reply record is kept with the database's cached resolution: reused while the
// binding stands, rebuilt as soon as it changes.
import t from 'tap';
import { mapRequest, parseEidPrefix, type MapReply, type MappingRecord } from '../../mapserver/codec/index.js';
import { handleMapRequest } from '../../mapserver/control/map-resolver.js';
import { MappingDatabase } from '../../mapserver/db/database.js';
import { record, registration } from '../helpers/fixtures.js';

const T0 = 1_700_000_000_000;
const site = { name: 'dc', keys: [{ alg: 'hmac-sha1' as const, secret: 'k' }], prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] };
const request = mapRequest({ nonce: 1n, sourceEid: { afi: 'none' }, itrRlocs: [{ afi: 'ipv4', ip: '127.0.0.1' }], records: [parseEidPrefix('10.16.10.50/32')] });
const options = { families: new Set<'ipv4' | 'ipv6'>(['ipv4']) };
const from = { address: '127.0.0.1', port: 40000 };

function answer(db: MappingDatabase, now: number): MappingRecord {
  const result = handleMapRequest(db, options, request, undefined, from, now);
  const out = result.outbound[0];
  if (out?.kind !== 'message' || out.message.type !== 'map-reply') throw new Error('expected a Map-Reply');
  return (out.message as MapReply).records[0]!;
}

t.test('the proxy record is built once per binding and follows a move', async (t) => {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site }]);
  db.apply([{ kind: 'put-registration', registration: registration('dc', '127.0.0.2', record('10.16.10.50/32', ['127.0.0.2']), T0) }]);
  const first = answer(db, T0 + 1000);
  t.equal(first.authoritative, false, 'a proxy reply is not authoritative');
  t.same(first.locators.map((l) => [l.rloc, l.local, l.probed]), [[{ afi: 'ipv4', ip: '127.0.0.2' }, false, false]]);
  t.equal(answer(db, T0 + 2000), first, 'the same record object while the binding stands');
  // The VM moves: another ETR registers it.
  db.apply([{ kind: 'delete-registration', eid: parseEidPrefix('10.16.10.50/32'), etrId: 'rloc:127.0.0.2' }]);
  db.apply([{ kind: 'put-registration', registration: registration('dc', '127.0.0.3', record('10.16.10.50/32', ['127.0.0.3']), T0 + 3000) }]);
  const moved = answer(db, T0 + 4000);
  t.not(moved, first);
  t.same(moved.locators.map((l) => l.rloc), [{ afi: 'ipv4', ip: '127.0.0.3' }], 'the new binding, not the cached one');
  t.equal(moved.authoritative, false);
});

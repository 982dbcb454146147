// The ownership rule over time: refreshes keep an ETR's place; an ETR that went silent and came
// back (restart with a new config, the VM moving back) owns the prefix again.
import t from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import type { MapRegister } from '../../mapserver/codec/types.js';
import { handleMapRegister } from '../../mapserver/control/map-server.js';
import { MappingDatabase } from '../../mapserver/db/database.js';
import { parseEidPrefix } from '../../mapserver/db/prefix.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { mapRegisterBytes } from '../helpers/lisp.js';

const T0 = 1_700_000_000_000;
const options = { registrationTtlMs: 180_000, resumeAfterMs: 90_000 };
const VM = parseEidPrefix('10.16.10.50/32');

function labDb(): MappingDatabase {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site: { name: 'local', keys: [{ alg: 'hmac-sha1', secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] } }]);
  return db;
}

function register(db: MappingDatabase, rloc: string, now: number): void {
  const bytes = mapRegisterBytes({ eid: '10.16.10.50/32', rlocs: [rloc], ttl: 1 });
  const result = handleMapRegister(db, options, decode(bytes) as MapRegister, bytes, { address: rloc, port: 4342 }, now);
  if (result.drop) throw new Error(result.drop.detail);
  db.apply(result.changes);
}

function owner(db: MappingDatabase, now: number): string | undefined {
  const r = db.resolve(VM, now);
  const rloc = r.kind === 'registered' ? r.binding.record.locators[0]?.rloc : undefined;
  return rloc?.afi === 'ipv4' ? rloc.ip : undefined;
}

t.test('refreshes on the 60 s timer do not take a moved EID back', async (t) => {
  const db = labDb();
  register(db, '127.0.9.1', T0);
  register(db, '127.0.9.2', T0 + 10_000); // the VM moved to the cloud xTR
  for (let s = 60; s <= 150; s += 60) register(db, '127.0.9.1', T0 + s * 1000); // old xTR keeps refreshing
  t.equal(owner(db, T0 + 151_000), '127.0.9.2');
  t.equal(db.registered(VM)?.byEtr.get('rloc:127.0.9.1')?.firstRegistered, T0, 'first registration kept across refreshes');
});

t.test('an ETR that was silent longer than 90 s and registers again owns the EID again', async (t) => {
  const db = labDb();
  register(db, '127.0.9.1', T0);
  register(db, '127.0.9.2', T0 + 10_000); // moved to the cloud; the local xTR stops registering the VM
  for (let s = 70; s <= 130; s += 60) register(db, '127.0.9.2', T0 + s * 1000);
  // 120 s later the VM moves back: the local xTR registers it again before its old entry expired.
  register(db, '127.0.9.1', T0 + 120_000);
  t.equal(owner(db, T0 + 120_001), '127.0.9.1', 'the move back is a move');
  t.equal(db.registered(VM)?.byEtr.get('rloc:127.0.9.1')?.firstRegistered, T0 + 120_000);
});

// The registration authority's rule as the Map-Register handler applies it (authority/ownership.ts):
// refreshes keep an ETR's claim; an ETR that stopped listing a prefix claims it afresh when it lists
// it again; a stale refresh gets no Map-Notify; replays, the T bit and per-record refusals.
import t from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import type { MapNotify, MapRegister } from '../../mapserver/codec/types.js';
import { handleMapRegister, type RegisterContext } from '../../mapserver/control/map-server.js';
import type { HandlerResult } from '../../mapserver/control/types.js';
import { MappingDatabase } from '../../mapserver/db/database.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { OPERATOR_MOVE_ETR_ID } from '../../mapserver/authority/ownership.js';
import { INTEROP_KEY, record, registration } from '../helpers/fixtures.js';
import { mapRegisterBytes } from '../helpers/lisp.js';

const T0 = 1_700_000_000_000;
const options = { registrationTtlMs: 180_000 };
const VM = parseEidPrefix('10.16.10.50/32');
const LOCAL = '127.0.9.1';
const CLOUD = '127.0.9.2';

function labDb(): MappingDatabase {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site: { name: 'local', keys: [{ alg: 'hmac-sha1', secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] } }]);
  return db;
}

function register(db: MappingDatabase, rloc: string, now: number, extra: Parameters<typeof mapRegisterBytes>[0] | object = {}, context?: RegisterContext): HandlerResult {
  const bytes = mapRegisterBytes({ eid: '10.16.10.50/32', rlocs: [rloc], ttl: 1, ...extra });
  const result = handleMapRegister(db, options, decode(bytes) as MapRegister, bytes, { address: rloc, port: 4342 }, now, context);
  db.apply(result.changes);
  return result;
}

function holder(db: MappingDatabase, now: number): string | undefined {
  const r = db.resolve(VM, now);
  const rloc = r.kind === 'registered' ? r.binding.record.locators[0]?.rloc : undefined;
  return rloc?.afi === 'ipv4' ? rloc.ip : undefined;
}

function notified(result: HandlerResult): string[] {
  return result.outbound.flatMap((o) => (o.kind === 'message' ? (o.message as MapNotify).records.map((r) => `${r.eid.address.afi === 'ipv4' ? r.eid.address.ip : ''}/${r.eid.length}`) : []));
}

/** Marks `rloc`'s registration of the VM left, as a burst that omitted it does (server.ts). */
function leave(db: MappingDatabase, rloc: string): void {
  const reg = db.registered(VM)!.byEtr.get(`rloc:${rloc}`)!;
  db.apply([{ kind: 'put-registration', registration: { ...reg, left: true } }]);
}

t.test('refreshes on the 60 s timer do not take a moved EID back, and get no Map-Notify', async (t) => {
  const db = labDb();
  t.same(notified(register(db, LOCAL, T0)), ['10.16.10.50/32']);
  t.same(notified(register(db, CLOUD, T0 + 10_000)), ['10.16.10.50/32'], 'the cloud xTR claims the VM');
  for (let s = 60; s <= 150; s += 60) {
    const stale = register(db, LOCAL, T0 + s * 1000); // the old xTR's config still lists the VM
    t.same(notified(stale), [], 'a stale refresh is not told its registration holds');
    t.same(stale.events.filter((e) => e.type === 'contested').map((e) => e.type === 'contested' && [e.claimant, e.holders]), [[`rloc:${LOCAL}`, [`rloc:${CLOUD}`]]], 'the event names both ETRs');
  }
  t.equal(holder(db, T0 + 151_000), CLOUD);
  t.equal(db.registered(VM)?.byEtr.get(`rloc:${LOCAL}`)?.claimedAt, T0, 'the stale ETR keeps its old claim');
});

t.test('an ETR that stopped listing the VM claims it afresh when it lists it again (the move back)', async (t) => {
  const db = labDb();
  register(db, LOCAL, T0);
  register(db, CLOUD, T0 + 10_000); // moved to the cloud
  leave(db, LOCAL); // the local xTR's next burst no longer listed it
  for (const gap of [1_000, 5_000, 30_000, 170_000]) {
    const db2 = labDb();
    register(db2, LOCAL, T0);
    register(db2, CLOUD, T0 + 10_000);
    leave(db2, LOCAL);
    const back = register(db2, LOCAL, T0 + 10_000 + gap);
    t.equal(holder(db2, T0 + 10_001 + gap), LOCAL, `moved back after ${gap / 1000} s`);
    t.same(notified(back), ['10.16.10.50/32'], 'and the returning ETR is told so');
    t.equal(db2.registered(VM)?.byEtr.get(`rloc:${LOCAL}`)?.claimedAt, T0 + 10_000 + gap);
  }
  // The omission can also be learnt from the burst this register completes: its previous burst
  // (seq 7) did not refresh the VM's registration (refreshed in burst 3).
  const withBursts = labDb();
  register(withBursts, LOCAL, T0, {}, { burst: { seq: 3 }, isReplay: () => false });
  register(withBursts, CLOUD, T0 + 10_000, {}, { burst: { seq: 4 }, isReplay: () => false });
  register(withBursts, LOCAL, T0 + 20_000, {}, { burst: { seq: 8, completed: 7 }, isReplay: () => false });
  t.equal(holder(withBursts, T0 + 20_001), LOCAL, 'listed again after a burst that omitted it');
});

t.test('an ETR that left loses to one that still lists the prefix, even an older claim', async (t) => {
  const db = labDb();
  register(db, LOCAL, T0); // local's config lists the VM and is never updated
  register(db, CLOUD, T0 + 10_000);
  t.equal(holder(db, T0 + 10_001), CLOUD);
  const reg = db.registered(VM)!.byEtr.get(`rloc:${CLOUD}`)!;
  db.apply([{ kind: 'put-registration', registration: { ...reg, left: true } }]); // the VM went back; cloud stopped listing it
  t.equal(holder(db, T0 + 10_002), LOCAL);
});

t.test('a replayed Map-Register is refused whole and changes nothing', async (t) => {
  const db = labDb();
  register(db, LOCAL, T0);
  const replay = register(db, CLOUD, T0 + 1_000, {}, { burst: { seq: 1 }, isReplay: () => true });
  t.equal(replay.drop?.reason, 'replay');
  t.same(replay.changes, []);
  t.same(replay.outbound, []);
  t.notOk(replay.accepted, 'nothing for the authority to remember');
  t.equal(holder(db, T0 + 1_001), LOCAL);
});

t.test('the T bit times the registration out by the record TTL', async (t) => {
  const db = labDb();
  register(db, LOCAL, T0, { ttl: 5, ttlTimeout: true });
  t.equal(db.registered(VM)?.byEtr.get(`rloc:${LOCAL}`)?.expiresAt, T0 + 5 * 60_000);
  register(db, LOCAL, T0 + 1, { ttl: 5 });
  t.equal(db.registered(VM)?.byEtr.get(`rloc:${LOCAL}`)?.expiresAt, T0 + 1 + 180_000, 'without it, the configured lifetime');
});

t.test('each record is accepted or refused on its own; the Map-Notify lists the accepted ones', async (t) => {
  const db = labDb();
  const result = register(db, LOCAL, T0, { alsoEids: ['192.0.2.0/24', '10.16.10.51/32'] });
  t.same(result.refusedRecords, ['out-of-site']);
  t.same(notified(result), ['10.16.10.50/32', '10.16.10.51/32']);
  t.equal(result.drop, undefined, 'the register as a whole was taken');
  t.ok(db.registered(parseEidPrefix('10.16.10.51/32')));
  t.notOk(db.registered(parseEidPrefix('192.0.2.0/24')));
  t.ok(result.events.some((e) => e.type === 'refused' && e.reason === 'out-of-site'), 'the refusal is on the event stream');
});

t.test('an operator move holds until an ETR supersedes or confirms it', async (t) => {
  const hint = (db: MappingDatabase, at: number, rloc: string) =>
    db.apply([{ kind: 'put-registration', registration: registration('local', rloc, record('10.16.10.50/32', [rloc], 1), at, { etrId: OPERATOR_MOVE_ETR_ID }) }]);
  const db = labDb();
  register(db, LOCAL, T0);
  hint(db, T0 + 5_000, CLOUD);
  t.equal(holder(db, T0 + 5_001), CLOUD, 'the move takes effect at once');
  t.same(notified(register(db, LOCAL, T0 + 6_000)), [], 'a stale refresh does not undo it');
  t.equal(holder(db, T0 + 6_001), CLOUD);
  const confirm = register(db, CLOUD, T0 + 7_000);
  t.ok(confirm.changes.some((c) => c.kind === 'delete-registration' && c.etrId === OPERATOR_MOVE_ETR_ID), 'the cloud xTR registering the same RLOC confirms the hint');
  t.equal(holder(db, T0 + 7_001), CLOUD);
  t.same(notified(register(db, LOCAL, T0 + 8_000)), [], 'and the stale xTR still does not hold');

  const superseded = labDb();
  register(superseded, LOCAL, T0);
  hint(superseded, T0 + 5_000, CLOUD);
  leave(superseded, LOCAL);
  register(superseded, LOCAL, T0 + 9_000); // the VM came back to local before the hint ended
  t.equal(holder(superseded, T0 + 9_001), LOCAL, 'a fresh claim after the move supersedes it');
  t.notOk(superseded.registered(VM)?.byEtr.has(OPERATOR_MOVE_ETR_ID));
});

import t from 'tap';
import { MappingDatabase, type Resolution } from '../../mapserver/db/database.js';
import { formatEidPrefix, parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { OOR_LAB_SITES, record, registration } from '../helpers/fixtures.js';

const T0 = 1_700_000_000_000;

function labDb(): MappingDatabase {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply(OOR_LAB_SITES.map((site) => ({ kind: 'put-site' as const, site })));
  return db;
}

function resolveText(db: MappingDatabase, eid: string, now = T0, iid = 0): Resolution {
  return db.resolve(parseEidPrefix(eid, iid), now);
}

function rlocsOf(r: Resolution): string[] {
  if (r.kind !== 'registered') return [];
  return r.binding.record.locators.map((l) => (l.rloc.afi === 'ipv4' ? l.rloc.ip : '?'));
}

t.test('outside every site: widest negative prefix, 15 minutes, natively-forward (vector 03, fixing OOR)', async (t) => {
  const r = resolveText(labDb(), '10.16.99.1/32');
  t.equal(r.kind, 'negative');
  if (r.kind !== 'negative') return;
  t.equal(formatEidPrefix(r.eid), '10.16.64.0/18', 'OOR answers 11.16.64.0/18; the covering prefix is 10.16.64.0/18');
  t.equal(r.ttl, 15);
  t.equal(r.action, 1);
  t.equal(r.reason, 'no-site');
});

t.test('inside a configured site that never registered: the requested EID, 1 minute (vector 03 frame 6)', async (t) => {
  const r = resolveText(labDb(), '172.31.250.5/32');
  t.equal(r.kind, 'negative');
  if (r.kind !== 'negative') return;
  t.equal(formatEidPrefix(r.eid), '172.31.250.5/32');
  t.equal(r.ttl, 1);
  t.equal(r.reason, 'site-not-registered');
  t.equal(r.site, 'unregistered');
});

t.test('a site without acceptMoreSpecifics answers its own prefix when unregistered', async (t) => {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site: { name: 's', keys: [], prefixes: [{ eid: parseEidPrefix('172.31.250.0/24'), acceptMoreSpecifics: false }] } }]);
  const r = resolveText(db, '172.31.250.5/32');
  t.equal(r.kind === 'negative' && formatEidPrefix(r.eid), '172.31.250.0/24');
});

t.test('instance ID 7: negative 0.0.0.0/1 with No-Action (vector 07 frame 12)', async (t) => {
  const r = resolveText(labDb(), '10.16.10.10/32', T0, 7);
  t.equal(r.kind, 'negative');
  if (r.kind !== 'negative') return;
  t.equal(formatEidPrefix(r.eid), '[7] 0.0.0.0/1');
  t.equal(r.eid.iid, 7);
  t.equal(r.action, 0);
  t.equal(r.ttl, 15);
});

t.test('registered prefix: longest match, expiry, and the registering ETR', async (t) => {
  const db = labDb();
  db.apply([{ kind: 'put-registration', registration: registration('xtr-b', '10.99.0.4', record('192.168.20.0/24', ['10.99.0.4']), T0) }]);
  const r = resolveText(db, '192.168.20.10/32', T0 + 1000);
  t.equal(r.kind, 'registered');
  t.equal(r.kind === 'registered' && formatEidPrefix(r.eid), '192.168.20.0/24');
  t.same(rlocsOf(r), ['10.99.0.4']);
  t.equal(db.liveRegistrations, 1);
  const later = resolveText(db, '192.168.20.10/32', T0 + 180_001);
  t.equal(later.kind, 'negative', 'an expired registration is not answered even before the sweep');
  t.equal(later.kind === 'negative' && later.ttl, 1, 'the site is configured, so the short TTL applies');
  t.equal(db.takeExpired(T0 + 180_001).length, 1);
});

t.test('an ETR whose RLOC changed replaces its stale registration at once (vector 04)', async (t) => {
  const db = labDb();
  db.apply([
    { kind: 'put-registration', registration: registration('xtr-b', '10.99.0.4', record('192.168.20.0/24', ['10.99.0.4']), T0) },
    { kind: 'put-registration', registration: registration('xtr-b', '10.99.0.5', record('192.168.20.0/24', ['10.99.0.5']), T0 + 60_000) },
  ]);
  t.same(rlocsOf(resolveText(db, '192.168.20.10/32', T0 + 61_000)), ['10.99.0.5']);
});

t.test('a moved VM stays with its new ETR while the old one keeps refreshing', async (t) => {
  const db = labDb();
  const vm = '10.16.50.50/32';
  const old = registration('vm', '10.99.0.3', record(vm, ['10.99.0.3'], 1), T0);
  db.apply([{ kind: 'put-registration', registration: old }]);
  db.apply([{ kind: 'put-registration', registration: registration('vm', '10.99.0.4', record(vm, ['10.99.0.4'], 1), T0 + 10_000) }]);
  // The old ETR refreshes later than the move: first registration time decides, not last refresh.
  db.apply([{ kind: 'put-registration', registration: { ...old, lastRefreshed: T0 + 60_000, expiresAt: T0 + 240_000 } }]);
  t.same(rlocsOf(resolveText(db, '10.16.50.50/32', T0 + 61_000)), ['10.99.0.4']);
  // When the new owner's registration expires, the still-refreshing old one answers again.
  t.same(rlocsOf(resolveText(db, '10.16.50.50/32', T0 + 200_000)), ['10.99.0.3']);
});

t.test('merge: locator union when every registration asks for it, or multi-homed xTRs with xTR-IDs', async (t) => {
  const db = labDb();
  const a = registration('xtr-a', '10.99.0.3', record('10.16.10.0/24', ['10.99.0.3'], 10), T0, { merge: true });
  const b = registration('xtr-a', '10.99.0.7', record('10.16.10.0/24', ['10.99.0.7'], 5), T0 + 1, { merge: true });
  db.apply([{ kind: 'put-registration', registration: a }, { kind: 'put-registration', registration: b }]);
  let r = resolveText(db, '10.16.10.10/32', T0 + 2);
  t.same(rlocsOf(r), ['10.99.0.3', '10.99.0.7']);
  t.equal(r.kind === 'registered' && r.binding.record.ttl, 5, 'the merged TTL is the smallest');

  const xa = { ...a, merge: false, etrId: 'xtr:01', xtrId: new Uint8Array(16).fill(1) };
  const xb = { ...b, merge: false, etrId: 'xtr:02', xtrId: new Uint8Array(16).fill(2) };
  const db2 = labDb();
  db2.apply([{ kind: 'put-registration', registration: xa }, { kind: 'put-registration', registration: xb }]);
  r = resolveText(db2, '10.16.10.10/32', T0 + 2);
  t.same(rlocsOf(r), ['10.99.0.3', '10.99.0.7']);

  const db3 = labDb();
  db3.apply([{ kind: 'put-registration', registration: { ...a, merge: false } }, { kind: 'put-registration', registration: { ...b, merge: false } }]);
  t.same(rlocsOf(resolveText(db3, '10.16.10.10/32', T0 + 2)), ['10.99.0.7'], 'without merge bit or xTR-IDs the newest wins');
});

t.test('never hand out a prefix that hides a more-specific registration', async (t) => {
  const db = labDb();
  db.apply([
    { kind: 'put-registration', registration: registration('xtr-a', '10.99.0.3', record('10.16.10.0/24', ['10.99.0.3']), T0) },
    { kind: 'put-registration', registration: registration('xtr-a', '10.99.0.4', record('10.16.10.50/32', ['10.99.0.4'], 1), T0) },
  ]);
  const r = resolveText(db, '10.16.10.7/32', T0 + 1);
  t.equal(r.kind === 'registered' && formatEidPrefix(r.eid), '10.16.10.0/27', 'the widest sub-prefix that excludes 10.16.10.50');
  t.same(rlocsOf(r), ['10.99.0.3']);
  const vm = resolveText(db, '10.16.10.50/32', T0 + 1);
  t.equal(vm.kind === 'registered' && formatEidPrefix(vm.eid), '10.16.10.50/32');
  t.same(rlocsOf(vm), ['10.99.0.4']);
});

t.test('static mappings answer; registrations and longer prefixes take precedence', async (t) => {
  const db = labDb();
  db.apply([{ kind: 'put-mapping', mapping: record('198.51.100.0/24', ['203.0.113.9']) }]);
  const r = resolveText(db, '198.51.100.7/32');
  t.equal(r.kind, 'static');
  t.equal(r.kind === 'static' && formatEidPrefix(r.record.eid), '198.51.100.0/24');
  db.apply([{ kind: 'delete-mapping', eid: parseEidPrefix('198.51.100.0/24') }]);
  t.equal(resolveText(db, '198.51.100.7/32').kind, 'negative');
});

t.test('removing a site removes its prefixes from resolution', async (t) => {
  const db = labDb();
  db.apply([{ kind: 'delete-site', name: 'unregistered' }]);
  const r = resolveText(db, '172.31.250.5/32');
  t.equal(r.kind === 'negative' && r.reason, 'no-site');
  t.equal(db.siteFor(parseEidPrefix('172.31.250.0/25'))?.site.name, undefined);
  t.equal(db.siteFor(parseEidPrefix('10.16.50.50/32'))?.site.name, 'vm');
});

t.test('moreSpecificTtl caps the TTL of replies for mobile EIDs, not for the site prefix', async (t) => {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site: { name: 's', keys: [], prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true, moreSpecificTtl: 1 }] } }]);
  db.apply([
    { kind: 'put-registration', registration: registration('s', '10.99.0.3', record('10.16.10.0/24', ['10.99.0.3'], 10), T0) },
    { kind: 'put-registration', registration: registration('s', '10.99.0.3', record('10.16.10.50/32', ['10.99.0.3'], 10), T0) },
  ]);
  const vm = resolveText(db, '10.16.10.50/32', T0 + 1);
  t.equal(vm.kind === 'registered' && vm.binding.record.ttl, 1);
  const host = resolveText(db, '10.16.10.7/32', T0 + 1);
  t.equal(host.kind === 'registered' && host.binding.record.ttl, 10);
});

t.test('expiry: each expired registration is handed out once; refreshed ones are not expired', async (t) => {
  const db = labDb();
  const a = registration('xtr-a', '10.99.0.3', record('10.16.10.0/24', ['10.99.0.3']), T0);
  const b = registration('xtr-b', '10.99.0.4', record('192.168.20.0/24', ['10.99.0.4']), T0);
  db.apply([{ kind: 'put-registration', registration: a }, { kind: 'put-registration', registration: b }]);
  // A is refreshed at T0+60 s: its old expiry (T0+180 s) is stale.
  db.apply([{ kind: 'put-registration', registration: { ...a, lastRefreshed: T0 + 60_000, expiresAt: T0 + 240_000 } }]);
  t.same(db.takeExpired(T0 + 180_000).map((r) => r.etrId), ['rloc:10.99.0.4'], 'only B is due at T0+180 s');
  t.same(db.takeExpired(T0 + 180_000), [], 'and only once');
  db.apply([{ kind: 'delete-registration', eid: b.record.eid, etrId: b.etrId }]);
  t.same(db.takeExpired(T0 + 240_000).map((r) => r.etrId), ['rloc:10.99.0.3']);
  for (let i = 0; i < 1000; i++) {
    db.apply([{ kind: 'put-registration', registration: { ...a, etrId: `rloc:x${i}`, expiresAt: T0 + 300_000 + ((i * 7919) % 1000) } }]);
  }
  const due = db.takeExpired(T0 + 300_500);
  t.equal(due.length, 501, 'the heap hands out exactly the due ones');
  t.ok(due.every((r, i) => i === 0 || due[i - 1]!.expiresAt <= r.expiresAt), 'in expiry order');
});

t.test('isRegisteredXtr: the source address of any stored registration, counted per registration', async (t) => {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  const T0 = 1_700_000_000_000;
  const site = registration('cloud', '10.99.0.4', record('192.168.20.0/24', ['10.99.0.4']), T0);
  const vm = registration('cloud', '10.99.0.4', record('192.168.20.10/32', ['10.99.0.4']), T0);
  t.notOk(db.isRegisteredXtr('10.99.0.4'));
  db.apply([{ kind: 'put-registration', registration: site }, { kind: 'put-registration', registration: vm }]);
  t.ok(db.isRegisteredXtr('10.99.0.4'));
  db.apply([{ kind: 'put-registration', registration: { ...vm, lastRefreshed: T0 + 60_000, expiresAt: T0 + 240_000 } }]);
  db.apply([{ kind: 'delete-registration', eid: site.record.eid, etrId: site.etrId }]);
  t.ok(db.isRegisteredXtr('10.99.0.4'), 'a refresh counts once: one registration is left');
  db.apply([{ kind: 'delete-registration', eid: vm.record.eid, etrId: vm.etrId }]);
  t.notOk(db.isRegisteredXtr('10.99.0.4'), 'gone with its last registration');
  // The same ETR id registering from a new address (an xTR whose RLOC changed) moves the count.
  db.apply([{ kind: 'put-registration', registration: vm }]);
  db.apply([{ kind: 'put-registration', registration: { ...vm, source: { address: '10.99.0.9', port: 4342 } } }]);
  t.notOk(db.isRegisteredXtr('10.99.0.4'));
  t.ok(db.isRegisteredXtr('10.99.0.9'));
  db.apply([{ kind: 'delete-registration', eid: vm.record.eid, etrId: 'rloc:nobody' }]);
  t.ok(db.isRegisteredXtr('10.99.0.9'), 'deleting a registration that is not there changes nothing');
});

import t from 'tap';
import { RequesterTable } from '../../mapserver/control/requesters.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';

const T0 = 1_700_000_000_000;
const vm = parseEidPrefix('10.16.10.50/32');
const site = parseEidPrefix('10.16.10.0/24');

t.test('overlapping finds requesters of covering and covered prefixes, live ones only', async (t) => {
  const table = new RequesterTable(100);
  table.record({ itr: '127.0.0.1', sourceEid: { afi: 'ipv4', ip: '172.16.30.10' }, eid: vm, expiresAt: T0 + 60_000 });
  table.record({ itr: '127.0.0.2', sourceEid: { afi: 'ipv4', ip: '172.16.31.10' }, eid: site, expiresAt: T0 + 60_000 });
  table.record({ itr: '127.0.0.3', sourceEid: { afi: 'ipv4', ip: '172.16.32.10' }, eid: parseEidPrefix('192.168.20.0/24'), expiresAt: T0 + 60_000 });
  table.record({ itr: '127.0.0.4', sourceEid: { afi: 'ipv4', ip: '172.16.33.10' }, eid: vm, expiresAt: T0 + 1_000 });
  t.same(table.overlapping(vm, T0 + 2_000).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.0.2']);
  t.same(table.overlapping(site, T0 + 2_000).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.0.2'], 'a prefix finds the more-specific answers too');
});

t.test('refreshes update in place; capacity evicts the oldest; sweep is bounded', async (t) => {
  const table = new RequesterTable(3);
  for (let i = 0; i < 5; i++) table.record({ itr: `127.0.0.${i}`, sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + i });
  t.equal(table.size, 3, 'bounded');
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.2', '127.0.0.3', '127.0.0.4'], 'oldest evicted first');
  table.record({ itr: '127.0.0.4', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 100_000 });
  t.equal(table.size, 3, 'a refresh does not add an entry');
  const big = new RequesterTable(10_000);
  for (let i = 0; i < 5000; i++) big.record({ itr: `127.1.${i >> 8}.${i & 255}`, sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 });
  big.sweep(T0 + 1, 2000);
  t.equal(big.size, 3000, 'one sweep looks at no more than its limit');
  big.sweep(T0 + 1, 2000);
  big.sweep(T0 + 1, 2000);
  t.equal(big.size, 0, 'successive sweeps finish the job');
});

t.test('a full table evicts other ITRs before registered xTRs, oldest first in each class', async (t) => {
  const xtrs = new Set(['127.0.0.1', '127.0.0.2']);
  const table = new RequesterTable(3, (itr) => xtrs.has(itr));
  const ask = (itr: string, at = T0 + 60_000): void => table.record({ itr, sourceEid: { afi: 'none' }, eid: vm, expiresAt: at });
  ask('127.0.0.1');
  for (let i = 0; i < 10; i++) ask(`127.0.9.${i}`);
  t.equal(table.size, 3);
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.9.8', '127.0.9.9'], 'the xTR stays; the flood evicts itself');
  ask('127.0.0.2');
  ask('127.0.0.3');
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  ask('127.0.0.4');
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.0.2', '127.0.0.4'], 'other ITRs still go first');
  xtrs.add('127.0.0.7').add('127.0.0.8');
  ask('127.0.0.7');
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.0.2', '127.0.0.7'], 'the last other ITR goes');
  ask('127.0.0.8');
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.2', '127.0.0.7', '127.0.0.8'], 'only xTRs left: the oldest xTR goes');
  table.sweep(T0 + 120_000);
  t.equal(table.size, 0, 'sweep expires xTR entries too');
});

t.test('an ITR that registers after it was answered is protected from its next request on', async (t) => {
  const xtrs = new Set<string>();
  const table = new RequesterTable(3, (itr) => xtrs.has(itr));
  const ask = (itr: string): void => table.record({ itr, sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 60_000 });
  ask('127.0.0.1');
  ask('127.0.0.2');
  xtrs.add('127.0.0.1').add('127.0.0.2');
  ask('127.0.0.1'); // its refresh after registering moves it to the protected entries
  for (let i = 0; i < 10; i++) ask(`127.0.9.${i}`);
  t.same(table.overlapping(vm, T0).map((r) => r.itr).sort(), ['127.0.0.1', '127.0.9.8', '127.0.9.9'],
    'the xTR that asked again is kept; the one that did not was evicted as any other ITR');
  ask('127.0.0.1');
  t.equal(table.size, 3, 'a protected entry refreshed stays one entry');
  table.sweep(T0 + 120_000);
  t.equal(table.size, 0, 'and expires from the protected entries');
});

t.test('an EID object whose answers were all evicted is tracked again when answered again', async (t) => {
  const table = new RequesterTable(1);
  table.record({ itr: '127.0.0.1', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 60_000 });
  table.record({ itr: '127.0.0.2', sourceEid: { afi: 'none' }, eid: site, expiresAt: T0 + 60_000 });
  t.same(table.overlapping(vm, T0).map((r) => r.itr), ['127.0.0.2'], 'the /32 answer was evicted');
  table.record({ itr: '127.0.0.3', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 60_000 });
  t.same(table.overlapping(parseEidPrefix('10.16.10.50/32'), T0).map((r) => r.itr), ['127.0.0.3'], 'found by value, not only by the same object');
});

t.test('expiries are kept to the second, rounded up, and follow every refresh', async (t) => {
  const table = new RequesterTable(10);
  table.record({ itr: '127.0.0.1', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 60_400 });
  t.equal(table.overlapping(vm, T0 + 60_900)[0]?.expiresAt, T0 + 61_000, 'rounded up to the whole second');
  t.same(table.overlapping(vm, T0 + 61_000), [], 'gone at that second');
  table.record({ itr: '127.0.0.1', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 120_000 });
  t.equal(table.overlapping(vm, T0)[0]?.expiresAt, T0 + 120_000, 'a refresh extends it');
  table.record({ itr: '127.0.0.1', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 30_000 });
  t.equal(table.overlapping(vm, T0)[0]?.expiresAt, T0 + 30_000, 'and a shorter answer shortens it (the ITR replaced its entry)');
});

t.test('answers with a fresh prefix object each time (negative replies) refresh the one entry of that prefix', async (t) => {
  const table = new RequesterTable(100);
  const itr = '127.0.0.1';
  for (let i = 0; i < 100; i++) {
    // A new object per answer, as a negative reply's prefix is: found by value, never by identity.
    table.record({ itr, sourceEid: { afi: 'none' }, eid: parseEidPrefix('10.16.10.51/32'), expiresAt: T0 + 60_000 + i * 1000 });
  }
  t.equal(table.size, 1, 'one entry, refreshed in place');
  const [entry] = table.overlapping(vm, T0);
  t.equal(entry, undefined, 'another host is not that prefix');
  const found = table.overlapping(site, T0);
  t.equal(found.length, 1);
  t.equal(found[0]!.expiresAt, T0 + 60_000 + 99_000, 'the last answer’s expiry');
  t.same(table.overlapping(site, T0 + 60_000 + 99_001), [], 'gone once that expiry passed');
  t.equal(table.size, 0);
  // The slot left the table: the objects it was found by must not bring it back.
  const again = parseEidPrefix('10.16.10.51/32');
  table.record({ itr: '127.0.0.2', sourceEid: { afi: 'none' }, eid: again, expiresAt: T0 + 200_000 });
  table.record({ itr: '127.0.0.2', sourceEid: { afi: 'none' }, eid: again, expiresAt: T0 + 200_000 });
  t.same(table.overlapping(site, T0).map((r) => r.itr), ['127.0.0.2']);
  t.equal(table.size, 1);
});

t.test('a repeat request reaches its entry however its prefix object was first seen, and evicts nothing', async (t) => {
  const table = new RequesterTable(2);
  // The slot is created by one object, then asked about by a stable one (the database's) many times.
  table.record({ itr: '127.0.0.1', sourceEid: { afi: 'none' }, eid: parseEidPrefix('10.16.10.50/32'), expiresAt: T0 + 1_000 });
  table.record({ itr: '127.0.0.9', sourceEid: { afi: 'none' }, eid: site, expiresAt: T0 + 100_000 });
  for (let i = 1; i <= 50; i++) table.record({ itr: '127.0.0.1', sourceEid: { afi: 'none' }, eid: vm, expiresAt: T0 + 1_000 + i * 1000 });
  t.equal(table.size, 2, 'refreshes add nothing and evict nothing');
  t.same(table.overlapping(vm, T0 + 2_000).map((r) => [r.itr, r.expiresAt]).sort(), [['127.0.0.1', T0 + 51_000], ['127.0.0.9', T0 + 100_000]]);
  // The oldest entry is still the first one inserted: a new ITR evicts it (refreshes did not reorder).
  table.record({ itr: '127.0.0.3', sourceEid: { afi: 'none' }, eid: site, expiresAt: T0 + 100_000 });
  t.same(table.overlapping(site, T0).map((r) => r.itr).sort(), ['127.0.0.3', '127.0.0.9'], 'the oldest insertion (127.0.0.1) was evicted');
});

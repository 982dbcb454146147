// Refreshes that change nothing but the lifetime are written to the store only when the stored
// expiry gets close, and a changed registration is always written.
import t from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import { LispServer } from '../../mapserver/compose/server.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { Store } from '../../mapserver/store/store.js';
import { mapRegisterBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';

t.test('stored expiry follows refreshes at most every other minute, changes at once', async (t) => {
  const dir = t.testdir();
  let clock = 1_800_000_000_000;
  const server = await LispServer.start(labConfig(dir), { now: () => clock });
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.9.9');
  t.teardown(() => etr.close());
  const register = async (rloc: string): Promise<void> => {
    await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: [rloc] }), ms);
    await etr.receive();
  };
  const T0 = clock;
  await register('10.99.0.4');
  clock = T0 + 60_000;
  await register('10.99.0.4'); // stored expiry T0+180 s is still 120 s ahead: not rewritten
  clock = T0 + 120_000;
  await register('10.99.0.4'); // stored expiry only 60 s ahead: rewritten (T0+300 s)
  clock = T0 + 130_000;
  await register('10.99.0.5'); // a new locator: written at once
  t.equal([...server.db.registrations()][0]!.expiresAt, T0 + 130_000 + 180_000, 'in memory: the latest refresh');
  await server.close();

  const store = await Store.open(`${dir}/`);
  const { registrations } = await store.loadAll();
  await store.close();
  t.equal(registrations.length, 1);
  t.equal(registrations[0]!.expiresAt, T0 + 130_000 + 180_000, 'the changed registration was written');
  t.same(registrations[0]!.record.locators.map((l) => l.rloc), [{ afi: 'ipv4', ip: '10.99.0.5' }]);
});

t.test('a quiet refresh is not written, and the stored copy still outlives the next refresh', async (t) => {
  const dir = t.testdir();
  let clock = 1_800_000_000_000;
  const server = await LispServer.start(labConfig(dir), { now: () => clock });
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.9.10');
  t.teardown(() => etr.close());
  const T0 = clock;
  for (const at of [0, 60_000]) {
    clock = T0 + at;
    await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['10.99.0.4'] }), ms);
    await etr.receive();
  }
  await server.close();
  const store = await Store.open(dir);
  const { registrations } = await store.loadAll();
  await store.close();
  t.equal(registrations[0]!.expiresAt, T0 + 180_000, 'the refresh at +60 s was not written');
  t.ok(registrations[0]!.expiresAt - (T0 + 60_000) >= 120_000, 'and the stored copy lives 2 more minutes: a crash now loses nothing');
});

t.test('a registration that is not refreshed expires after 3 minutes: removed, stored, announced', async (t) => {
  const dir = t.testdir();
  let clock = 1_800_000_000_000;
  const server = await LispServer.start(labConfig(dir), { now: () => clock });
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.9.11');
  t.teardown(() => etr.close());
  const events: string[] = [];
  server.events.on('event', (e) => events.push(e.type));
  await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['10.99.0.4'] }), ms);
  await etr.receive();
  clock += 179_000;
  server.sweep();
  t.equal(server.db.liveRegistrations, 1, 'alive at 179 s');
  clock += 2_000;
  server.sweep();
  t.equal(server.db.liveRegistrations, 0, 'gone at 181 s');
  t.same(events, ['registered', 'expired']);
  const r = server.db.resolve({ iid: 0, address: { afi: 'ipv4', ip: '192.168.20.10' }, length: 32 }, clock);
  t.equal(r.kind === 'negative' && r.ttl, 1, 'the site answers negative with the short TTL again');
});

t.test('a refresh that arrives while the first registration is being written is notified after it is stored', async (t) => {
  const dir = t.testdir();
  const server = await LispServer.start(labConfig(dir));
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.9.12');
  t.teardown(() => etr.close());
  // Back to back: the second is a quiet refresh of the first, which is still being written.
  await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['10.99.0.4'], nonce: 1n }), ms);
  await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['10.99.0.4'], nonce: 2n }), ms);
  const first = decode((await etr.receive()).bytes);
  const second = decode((await etr.receive()).bytes);
  t.same([first.type, second.type], ['map-notify', 'map-notify']);
  t.same([first.type === 'map-notify' && first.nonce, second.type === 'map-notify' && second.nonce], [1n, 2n],
    'the refresh is not acknowledged before the registration it refreshes is durable');
});

t.test('a quiet refresh moves the held registration\'s lifetime on in place, and it expires at the new time', async (t) => {
  const dir = t.testdir();
  let clock = 1_800_000_000_000;
  const server = await LispServer.start(labConfig(dir), { now: () => clock });
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.9.12');
  t.teardown(() => etr.close());
  const eid = { iid: 0, address: { afi: 'ipv4' as const, ip: '192.168.20.0' }, length: 24 };
  const held = () => [...(server.db.registered(eid)?.byEtr.values() ?? [])];
  const T0 = clock;
  await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['10.99.0.4'] }), ms);
  t.equal(decode((await etr.receive()).bytes).type, 'map-notify');
  const [first] = held();
  clock = T0 + 60_000;
  await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['10.99.0.4'] }), ms);
  t.equal(decode((await etr.receive()).bytes).type, 'map-notify', 'the refresh is notified');
  t.equal(held().length, 1);
  t.equal(held()[0], first, 'the database holds the same registration object (nothing new for the collector to promote)');
  t.equal(first!.lastRefreshed, T0 + 60_000, 'refreshed at +60 s');
  t.equal(first!.expiresAt, T0 + 60_000 + 180_000, 'lives 3 minutes from the refresh');
  clock = T0 + 200_000; // past the first lifetime, inside the refreshed one
  server.sweep();
  t.equal(server.db.liveRegistrations, 1, 'alive after the first registration\'s expiry');
  clock = T0 + 240_000;
  server.sweep();
  t.equal(server.db.liveRegistrations, 0, 'gone at the refreshed expiry');
});

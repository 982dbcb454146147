import t from 'tap';
import fc from 'fast-check';
import { Level } from 'level';
import type { Address, EidPrefix, Locator, MappingRecord } from '../../mapserver/codec/types.js';
import type { Registration, Site, StateChange } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import {
  decodeMapping,
  decodeRegistration,
  decodeSite,
  encodeMapping,
  encodeMeta,
  encodeRegistration,
  encodeRequesters,
  encodeSite,
  findProtoFile,
  StoreCodecError,
} from '../../mapserver/store/codec.js';
import { Interner } from '../../mapserver/store/registration-reader.js';
import { record as fixtureRecord, registration as fixtureRegistration } from '../helpers/fixtures.js';
import { deepStrictEqual } from 'node:assert';
import { META_SCHEMA_KEY, SCHEMA_VERSION, Store, changeKey, mappingStoreKey, registrationStoreKey, siteStoreKey } from '../../mapserver/store/store.js';
import { type BatchSink, StoreWriter } from '../../mapserver/store/writer.js';
import { arbIpv4Text, arbIpv6Text, arbLocatorWith, arbMacText, rec, u32, u8 } from '../helpers/arbitraries.js';

// ---- arbitraries (local: every Address variant, nested LCAFs, optional fields) ----

// Wider than the wire arbitraries: the store keeps whatever it is given (host bits, deep LCAFs).
const arbV4 = arbIpv4Text;
const arbV6 = arbIpv6Text;
const arbMac = arbMacText;

/** Every variant of Address, LCAFs nested inside each other up to a few levels. */
const { address: arbAddress } = fc.letrec<{ address: Address }>((tie) => ({
  address: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Address>({ afi: 'none' }),
    arbV4.map((ip): Address => ({ afi: 'ipv4', ip })),
    arbV6.map((ip): Address => ({ afi: 'ipv6', ip })),
    arbMac.map((mac): Address => ({ afi: 'mac', mac })),
    fc.record({ iid: u32, maskLen: u8, flags: u8, address: tie('address') }).map((r): Address => ({ afi: 'lcaf-iid', ...r })),
    fc.record({ flags: u8, addresses: fc.array(tie('address'), { maxLength: 3 }) }).map((r): Address => ({ afi: 'lcaf-afi-list', ...r })),
    fc
      .record({ lcafType: u8, rsvd1: u8, flags: u8, rsvd2: u8, payload: fc.uint8Array({ maxLength: 20 }) })
      .map((r): Address => ({ afi: 'lcaf', ...r })),
  ),
}));

/** EIDs: matchable families (host bits may be set: stored as given) and, rarely, odd addresses. */
const arbEid: fc.Arbitrary<EidPrefix> = fc.oneof(
  { weight: 5, arbitrary: rec<EidPrefix>({ iid: fc.oneof(fc.constant(0), u32), address: arbV4.map((ip): Address => ({ afi: 'ipv4', ip })), length: fc.integer({ min: 0, max: 32 }) }) },
  { weight: 3, arbitrary: rec<EidPrefix>({ iid: fc.oneof(fc.constant(0), u32), address: arbV6.map((ip): Address => ({ afi: 'ipv6', ip })), length: fc.integer({ min: 0, max: 128 }) }) },
  { weight: 1, arbitrary: rec<EidPrefix>({ iid: u32, address: arbMac.map((mac): Address => ({ afi: 'mac', mac })), length: fc.integer({ min: 0, max: 48 }) }) },
  // Unmatchable EIDs (none, LCAFs) are stored as given, with any length byte.
  { weight: 1, arbitrary: rec<EidPrefix>({ iid: u32, address: arbAddress.filter((a) => a.afi !== 'ipv4' && a.afi !== 'ipv6' && a.afi !== 'mac'), length: u8 }) },
);

const arbLocator: fc.Arbitrary<Locator> = arbLocatorWith(arbAddress);

const arbMapping: fc.Arbitrary<MappingRecord> = rec({
  eid: arbEid,
  ttl: fc.oneof(u32, fc.constant(0xffffffff)),
  action: fc.integer({ min: 0, max: 7 }),
  authoritative: fc.boolean(),
  mapVersion: fc.integer({ min: 0, max: 0xfff }),
  locators: fc.array(arbLocator, { maxLength: 4 }),
});

const arbName = fc.string({ minLength: 1, maxLength: 20 });

const arbSite: fc.Arbitrary<Site> = fc
  .record({
    name: arbName,
    description: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    keys: fc.array(rec({ alg: fc.constantFrom('hmac-sha1' as const, 'hmac-sha256' as const), secret: fc.string({ maxLength: 30 }) }), { maxLength: 3 }),
    prefixes: fc.array(rec({ eid: arbEid, acceptMoreSpecifics: fc.boolean() }), { maxLength: 4 }),
  })
  .map(({ description, ...rest }) => (description === undefined ? rest : { ...rest, description }));

const arbEpoch = fc.integer({ min: 0, max: 4_102_444_800_000 });

const arbRegistration: fc.Arbitrary<Registration> = fc
  .record({
    site: arbName,
    etrId: fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => `xtr:${Buffer.from(b).toString('hex')}`),
      arbV4.map((ip) => `rloc:${ip}`),
      arbV6.map((ip) => `rloc:${ip}`),
    ),
    source: rec({ address: fc.oneof(arbV4, arbV6), port: fc.integer({ min: 0, max: 0xffff }) }),
    xtrId: fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined }),
    siteId: fc.option(fc.oneof(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.constant(new Uint8Array(0))), { nil: undefined }),
    proxyReply: fc.boolean(),
    merge: fc.boolean(),
    record: arbMapping,
    claimedAt: arbEpoch,
    lastRefreshed: arbEpoch,
    expiresAt: fc.oneof(arbEpoch, fc.constant(Number.POSITIVE_INFINITY)),
    left: fc.boolean(),
  })
  .map(({ xtrId, siteId, left, ...rest }) => ({ ...rest, ...(xtrId ? { xtrId } : {}), ...(siteId ? { siteId } : {}), ...(left ? { left } : {}) }));

// ---- codec ----

t.test('protobuf schema is found from the sources and from dist/', async (t) => {
  const fromSources = findProtoFile();
  t.match(fromSources, /proto\/livmap\.proto$/);
  const root = fromSources.replace(/\/proto\/livmap\.proto$/, '');
  t.equal(findProtoFile(`${root}/dist/mapserver/store`), fromSources, 'compiled module location');
  t.throws(() => findProtoFile('/'), /not found/);
});

t.test('property: codec round-trips every kind and every Address variant', async (t) => {
  fc.assert(fc.property(arbSite, (s) => { t.same(decodeSite(encodeSite(s)), s); return true; }), { numRuns: 300 });
  fc.assert(fc.property(arbMapping, (m) => { t.same(decodeMapping(encodeMapping(m)), m); return true; }), { numRuns: 300 });
  fc.assert(
    fc.property(arbRegistration, (r) => {
      const back = decodeRegistration(encodeRegistration(r));
      t.same(back, r);
      t.equal('xtrId' in back, 'xtrId' in r, 'xtrId presence');
      t.equal('siteId' in back, 'siteId' in r, 'siteId presence');
      return true;
    }),
    { numRuns: 300 },
  );
});

t.test('codec refuses values it cannot store faithfully', async (t) => {
  const m: MappingRecord = { eid: parseEidPrefix('10.0.0.0/8'), ttl: 60, action: 0, authoritative: false, mapVersion: 0, locators: [] };
  t.throws(() => encodeMapping({ ...m, eid: { iid: 0, address: { afi: 'ipv4', ip: '10.0.0.256' }, length: 8 } }), { name: 'StoreCodecError', message: /not a valid address/ });
  t.throws(() => encodeMapping({ ...m, ttl: -1 }), { name: 'StoreCodecError', message: /TTL/ });
  t.throws(() => encodeMapping({ ...m, mapVersion: 0x1000 }), { message: /map-version/ });
  t.throws(() => encodeSite({ name: '', keys: [], prefixes: [] }), { message: /name/ });
  const store = await Store.open(t.testdir());
  t.teardown(() => store.close());
  t.throws(() => store.prepare([{ kind: 'put-mapping', mapping: { ...m, eid: { ...m.eid, length: 33 } } }]), { name: 'PrefixError', message: /outside 0\.\.32/ });
  t.throws(() => decodeMapping(Uint8Array.of(0x0a, 0xff, 0xff)), { name: 'StoreCodecError' });
});

// ---- store on real LevelDB directories ----

function sortByKey<T>(items: readonly T[], key: (x: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

t.test('property: apply then loadAll returns exactly what was stored', async (t) => {
  const store = await Store.open(t.testdir());
  t.teardown(() => store.close());
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbSite, { maxLength: 4 }),
      fc.array(arbMapping, { maxLength: 6 }),
      fc.array(arbRegistration, { maxLength: 6 }),
      async (sites, mappings, registrations) => {
        const changes: StateChange[] = [
          ...sites.map((site): StateChange => ({ kind: 'put-site', site })),
          ...mappings.map((mapping): StateChange => ({ kind: 'put-mapping', mapping })),
          ...registrations.map((registration): StateChange => ({ kind: 'put-registration', registration })),
        ];
        await store.apply(changes);
        // Later puts of the same key win, as in one LevelDB batch.
        const expected = new Map(changes.map((c) => [changeKey(c), c]));
        const state = await store.loadAll();
        t.same(state.corrupt, []);
        const want = (kind: StateChange['kind']) => [...expected.entries()].filter(([, c]) => c.kind === kind);
        t.same(sortByKey(state.sites, (s) => siteStoreKey(s.name)), sortByKey(want('put-site'), ([k]) => k).map(([, c]) => (c.kind === 'put-site' ? c.site : null)));
        t.same(
          sortByKey(state.mappings, (m) => mappingStoreKey(m.eid)),
          sortByKey(want('put-mapping'), ([k]) => k).map(([, c]) => (c.kind === 'put-mapping' ? c.mapping : null)),
        );
        t.same(
          sortByKey(state.registrations, (r) => registrationStoreKey(r.record.eid, r.etrId)),
          sortByKey(want('put-registration'), ([k]) => k).map(([, c]) => (c.kind === 'put-registration' ? c.registration : null)),
        );
        // Delete everything again, exercising every delete kind.
        await store.apply(
          [...expected.values()].map((c): StateChange => {
            switch (c.kind) {
              case 'put-site':
                return { kind: 'delete-site', name: c.site.name };
              case 'put-mapping':
                return { kind: 'delete-mapping', eid: c.mapping.eid };
              default:
                return c.kind === 'put-registration' ? { kind: 'delete-registration', eid: c.registration.record.eid, etrId: c.registration.etrId } : c;
            }
          }),
        );
        const empty = await store.loadAll();
        return empty.sites.length + empty.mappings.length + empty.registrations.length + empty.corrupt.length === 0;
      },
    ),
    { numRuns: 60 },
  );
});

const siteA: Site = { name: 'dc-a', description: 'first site', keys: [{ alg: 'hmac-sha256', secret: 's3cret' }], prefixes: [{ eid: parseEidPrefix('10.16.0.0/16'), acceptMoreSpecifics: true }] };
const mapping: MappingRecord = {
  eid: parseEidPrefix('[7] 172.16.31.0/24'),
  ttl: 1440,
  action: 0,
  authoritative: true,
  mapVersion: 3,
  locators: [{ priority: 1, weight: 50, mPriority: 255, mWeight: 0, local: false, probed: true, reachable: true, rloc: { afi: 'ipv6', ip: '2001:db8::1' } }],
};
const registration: Registration = {
  site: 'dc-a',
  etrId: 'xtr:000102030405060708090a0b0c0d0e0f',
  source: { address: '192.0.2.1', port: 4342 },
  xtrId: Uint8Array.from({ length: 16 }, (_, i) => i),
  siteId: new Uint8Array(8),
  proxyReply: true,
  merge: false,
  record: { ...mapping, eid: parseEidPrefix('10.16.10.10/32') },
  claimedAt: 1_700_000_000_000,
  lastRefreshed: 1_700_000_060_000,
  expiresAt: 1_700_000_240_000,
};

t.test('data survives close and reopen; schema version recorded', async (t) => {
  const dir = t.testdir();
  let store = await Store.open(dir);
  await store.apply([
    { kind: 'put-site', site: siteA },
    { kind: 'put-mapping', mapping },
    { kind: 'put-registration', registration },
  ]);
  await store.close();
  await t.rejects(store.apply([{ kind: 'delete-site', name: 'dc-a' }]), { name: 'StoreError' }, 'closed store refuses writes');
  store = await Store.open(dir);
  t.equal(await store.schemaVersion(), SCHEMA_VERSION);
  const state = await store.loadAll();
  t.same(state, { sites: [siteA], mappings: [mapping], registrations: [registration], nonces: [], requesters: [], subscriptions: [], corrupt: [] });
  await store.close();
  store = await Store.open(dir, { sync: false });
  await store.apply([{ kind: 'delete-registration', eid: registration.record.eid, etrId: registration.etrId }]);
  await store.close();
  store = await Store.open(dir);
  t.same((await store.loadAll()).registrations, []);
  await store.close();
});

t.test('the replay window\'s nonces are stored by second, read back, and deleted', async (t) => {
  const dir = t.testdir();
  let store = await Store.open(dir, { sync: false });
  const nonces = [0xffd90d6f762919dcn, 1n, 0xffffffffffffffffn];
  await store.apply([{ kind: 'put-nonces', at: 1_700_000_001_000, nonces }, { kind: 'put-nonces', at: 1_700_000_002_000, nonces: [7n] }]);
  await store.close();
  store = await Store.open(dir, { sync: false });
  t.same((await store.loadAll()).nonces, [{ at: 1_700_000_001_000, nonces }, { at: 1_700_000_002_000, nonces: [7n] }]);
  await store.apply([{ kind: 'delete-nonces', at: 1_700_000_001_000 }]);
  t.same((await store.loadAll()).nonces, [{ at: 1_700_000_002_000, nonces: [7n] }]);
  await store.close();
});

t.test('the requester table is stored whole and read back', async (t) => {
  const dir = t.testdir();
  const store = await Store.open(dir, { sync: false });
  const requesters = [
    { itr: '10.99.0.6', sourceEid: { afi: 'ipv4' as const, ip: '172.16.30.10' }, eid: parseEidPrefix('10.16.50.50/32'), expiresAt: 1_700_000_060_000 },
    { itr: '2001:db8::6', sourceEid: { afi: 'lcaf-iid' as const, iid: 7, maskLen: 32, flags: 0, address: { afi: 'ipv6' as const, ip: '2001:db8:1::10' } }, eid: parseEidPrefix('2001:db8:2::/48', 7), expiresAt: 1_700_000_600_000,
      subscription: { xtrId: new Uint8Array(16).fill(3), siteId: new Uint8Array(8).fill(1) } },
  ];
  await store.apply([{ kind: 'put-requesters', encoded: encodeRequesters(requesters) }]);
  t.same((await store.loadAll()).requesters, requesters);
  await store.apply([{ kind: 'put-requesters', encoded: encodeRequesters([]) }]);
  t.same((await store.loadAll()).requesters, [], 'replaced whole');
  await store.close();
});

t.test('subscriptions (RFC 9437) are stored one by one, survive a reopen and are deleted', async (t) => {
  const dir = t.testdir();
  let store = await Store.open(dir, { sync: false });
  const rfc = {
    xtrId: new Uint8Array(16).fill(3), siteId: new Uint8Array(8).fill(1), eid: parseEidPrefix('10.16.50.50/32'),
    itr: '127.0.60.6', port: 40123, sourceEid: { afi: 'ipv4' as const, ip: '172.16.30.10' }, nonce: 0xffffffffffffffffn, expiresAt: 1_700_000_060_000,
  };
  // lispers.net's: no site-ID; an IID prefix whose IID mask-len byte is not 32.
  const lispers = {
    xtrId: new Uint8Array(16).fill(9), eid: { ...parseEidPrefix('2001:db8:2::/48', 7), iidMaskLen: 24 },
    itr: '::1', port: 4342, sourceEid: { afi: 'ipv6' as const, ip: '2001:db8:1::10' }, nonce: 1n, expiresAt: 1_700_000_600_000,
  };
  await store.apply([{ kind: 'put-subscription', subscription: rfc }, { kind: 'put-subscription', subscription: lispers }]);
  await store.close();
  store = await Store.open(dir, { sync: false });
  const loaded = (await store.loadAll()).subscriptions;
  t.same(loaded.map((s) => s.nonce).sort(), [1n, 0xffffffffffffffffn]);
  t.same(loaded.find((s) => s.siteId === undefined), lispers, 'lispers.net subscription read back whole');
  t.same(loaded.find((s) => s.siteId !== undefined), rfc, 'RFC subscription read back whole');
  await store.apply([{ kind: 'put-subscription', subscription: { ...rfc, nonce: 5n } }]);
  t.same((await store.loadAll()).subscriptions.find((s) => s.siteId !== undefined)?.nonce, 5n, 'a put replaces the same subscription');
  await store.apply([{ kind: 'delete-subscription', subscription: rfc }]);
  t.same((await store.loadAll()).subscriptions, [lispers], 'deleted');
  await store.close();
});

t.test('a registration keeps how its ETR authenticated (key ID, algorithm, digest length, key index)', async (t) => {
  const store = await Store.open(t.testdir(), { sync: false });
  t.teardown(() => store.close());
  const record = { eid: parseEidPrefix('10.16.50.50/32'), ttl: 1, action: 0, authoritative: true, mapVersion: 0, locators: [] };
  const registration = {
    site: 'a', etrId: 'rloc:127.0.0.9', source: { address: '127.0.0.9', port: 4342 }, proxyReply: false, merge: false,
    auth: { keyId: 2, algId: 2, length: 16, keyIndex: 2 }, record, claimedAt: 1, lastRefreshed: 2, expiresAt: 3,
  };
  await store.apply([{ kind: 'put-registration', registration }]);
  t.same((await store.loadAll()).registrations, [registration]);
});

t.test('apply is atomic: one unstorable change writes nothing', async (t) => {
  const store = await Store.open(t.testdir());
  t.teardown(() => store.close());
  await store.apply([{ kind: 'put-site', site: siteA }]);
  const bad: MappingRecord = { ...mapping, locators: [{ ...mapping.locators[0]!, rloc: { afi: 'ipv4', ip: 'not-an-ip' } }] };
  await t.rejects(
    store.apply([
      { kind: 'delete-site', name: 'dc-a' },
      { kind: 'put-registration', registration },
      { kind: 'put-mapping', mapping: bad },
    ]),
    { name: 'StoreCodecError' },
  );
  t.same(await store.loadAll(), { sites: [siteA], mappings: [], registrations: [], nonces: [], requesters: [], subscriptions: [], corrupt: [] });
});

t.test('corrupt values are reported, the rest still loads', async (t) => {
  const dir = t.testdir();
  let store = await Store.open(dir);
  await store.apply([{ kind: 'put-site', site: siteA }, { kind: 'put-mapping', mapping }]);
  await store.close();
  const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await raw.open();
  await raw.put('map/0:ipv4:10.0.0.0/8', Uint8Array.of(0x0a, 0xff, 0xff, 0xff)); // truncated message
  await raw.put('site/other', encodeSite({ ...siteA })); // holds site dc-a under the wrong key
  await raw.put('reg/0:ipv4:10.1.0.0/16/rloc:1.2.3.4', encodeMapping(mapping)); // wrong message type
  await raw.put('junk/1', Uint8Array.of(1));
  // A valid registration by one ETR under another ETR's key.
  await raw.put('reg/0:ipv4:10.2.0.0/16/rloc:9.9.9.9', encodeRegistration(fixtureRegistration('dc-a', '1.1.1.1', fixtureRecord('10.2.0.0/16', ['1.1.1.1']), 1_700_000_000_000)));
  await raw.close();
  store = await Store.open(dir);
  const state = await store.loadAll();
  await store.close();
  // The same store read the start-up way: on a worker thread.
  const opened = await Store.openAndLoad(dir);
  await opened.store.close();
  t.equal(opened.loadedBy, 'worker');
  for (const [how, s] of [['on this thread', state], ['on a worker thread', opened.state]] as const) {
    t.same(s.sites, [siteA], how);
    t.same(s.mappings, [mapping], how);
    t.same(s.corrupt.map((c) => c.key).sort(), ['junk/1', 'map/0:ipv4:10.0.0.0/8', 'reg/0:ipv4:10.1.0.0/16/rloc:1.2.3.4', 'reg/0:ipv4:10.2.0.0/16/rloc:9.9.9.9', 'site/other'], how);
    for (const c of s.corrupt) t.type(c.reason, 'string');
    t.match(s.corrupt.find((c) => c.key === 'site/other')?.reason, /holds site 'dc-a'/, how);
    t.match(s.corrupt.find((c) => c.key.endsWith('rloc:9.9.9.9'))?.reason, /holds a registration by rloc:1\.1\.1\.1/, how);
    t.same(s.registrations, [], how);
  }
});

t.test('openAndLoad: a worker thread reads exactly what loadAll reads; a new store is created on this thread', async (t) => {
  const fresh = await Store.openAndLoad(t.testdir());
  t.equal(fresh.loadedBy, 'main', 'nothing to read yet');
  t.same(fresh.state, { sites: [], mappings: [], registrations: [], nonces: [], requesters: [], subscriptions: [], corrupt: [] });
  await fresh.store.close();
  const dir = t.testdir();
  let store = await Store.open(dir);
  // Enough registrations for several 1 MiB chunks, plus a site and a mapping.
  const regs = [...Array(30_000)].map((_, i) => fixtureRegistration('dc', '127.0.0.2', fixtureRecord(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, ['127.0.0.2', '127.0.0.3']), 1_700_000_000_000 + i));
  await store.apply([{ kind: 'put-site', site: siteA }, { kind: 'put-mapping', mapping }, ...regs.map((registration): StateChange => ({ kind: 'put-registration', registration }))]);
  const direct = await store.loadAll();
  await store.close();
  const opened = await Store.openAndLoad(dir);
  t.equal(opened.loadedBy, 'worker');
  t.equal(opened.state.registrations.length, 30_000);
  deepStrictEqual(opened.state, direct);
  // The worker has let go of the store: this handle can write.
  await opened.store.apply([{ kind: 'delete-mapping', eid: mapping.eid }]);
  t.same((await opened.store.loadAll()).mappings, []);
  await opened.store.close();
});

t.test('openAndLoad: a worker that dies mid-stream is replaced by a read on this thread, and nothing it sent is kept', async (t) => {
  const dir = t.testdir();
  const store = await Store.open(dir);
  const regs = [...Array(50)].map((_, i) => fixtureRegistration('dc', '127.0.0.2', fixtureRecord(`10.9.0.${i}/32`, ['127.0.0.2']), 1_700_000_000_000 + i));
  await store.apply([{ kind: 'put-site', site: siteA }, { kind: 'put-mapping', mapping }, ...regs.map((registration): StateChange => ({ kind: 'put-registration', registration }))]);
  const direct = await store.loadAll();
  await store.close();
  const opened = await Store.openAndLoad(dir, {}, new URL('./fixtures/failing-load-worker.ts', import.meta.url));
  t.equal(opened.loadedBy, 'main');
  t.match(opened.workerError, /load worker failed on purpose/);
  deepStrictEqual(opened.state, direct);
  t.equal(opened.state.registrations.length, 50, 'the entry the worker sent before dying is not counted twice');
  await opened.store.apply([{ kind: 'delete-mapping', eid: mapping.eid }]);
  await opened.store.close();
});

t.test('a store written by a newer schema is refused', async (t) => {
  const dir = t.testdir();
  const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await raw.open();
  await raw.put(META_SCHEMA_KEY, encodeMeta(SCHEMA_VERSION + 1));
  await raw.close();
  await t.rejects(Store.open(dir), { name: 'StoreError', message: /newer/ });
  // The refused open released the database lock.
  const again = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await again.open();
  await again.close();
});

// ---- write coalescing ----

t.test('StoreWriter coalesces a burst into few batches, in order', async (t) => {
  const store = await Store.open(t.testdir());
  t.teardown(() => store.close());
  const commits: number[] = [];
  const sink: BatchSink = {
    prepare: (changes) => store.prepare(changes),
    commit: async (batches) => {
      commits.push(batches.length);
      await store.commit(batches);
    },
  };
  const writer = new StoreWriter(sink);
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < 200; i++) {
    const r: Registration = { ...registration, etrId: `rloc:192.0.2.${i}`, lastRefreshed: i };
    writes.push(writer.write([{ kind: 'put-registration', registration: r }]));
  }
  // Same key written twice in one burst: the later write wins.
  writes.push(writer.write([{ kind: 'put-registration', registration: { ...registration, etrId: 'rloc:192.0.2.0', lastRefreshed: 999 } }]));
  await Promise.all(writes);
  t.equal(commits.reduce((a, b) => a + b, 0), 201, 'every write committed once');
  t.ok(commits.length <= 3, `${commits.length} batches for 201 writes`);
  const state = await store.loadAll();
  t.equal(state.registrations.length, 200);
  t.equal(state.registrations.find((r) => r.etrId === 'rloc:192.0.2.0')?.lastRefreshed, 999);
  await writer.flush();
  t.equal(writer.pending, 0);
});

t.test('StoreWriter: an unencodable change fails alone; a failed batch fails its callers only', async (t) => {
  let fail = false;
  const committed: number[] = [];
  const store = await Store.open(t.testdir());
  t.teardown(() => store.close());
  const sink: BatchSink = {
    prepare: (changes) => store.prepare(changes),
    commit: async (batches) => {
      if (fail) throw new Error('disk full');
      committed.push(batches.length);
      await store.commit(batches);
    },
  };
  const writer = new StoreWriter(sink);
  const ok1 = writer.write([{ kind: 'put-site', site: siteA }]);
  const bad = writer.write([{ kind: 'put-mapping', mapping: { ...mapping, ttl: -5 } }]);
  await t.rejects(bad, { name: 'StoreCodecError' });
  await ok1;
  fail = true;
  const failing = [writer.write([{ kind: 'put-mapping', mapping }]), writer.write([{ kind: 'delete-site', name: 'dc-a' }])];
  for (const p of failing) await t.rejects(p, { message: 'disk full' });
  fail = false;
  await writer.write([{ kind: 'put-registration', registration }]);
  const state = await store.loadAll();
  t.same(state.sites, [siteA], 'failed batch wrote nothing');
  t.same(state.mappings, []);
  t.same(state.registrations, [registration]);
});

function sampleRegistration(): Registration {
  return fixtureRegistration('dc', '127.0.0.2', fixtureRecord('10.1.2.3/32', ['127.0.0.2']), 1_700_000_000_000);
}

t.test('registration reader: shared values, unknown fields skipped, damage reported as StoreCodecError', async (t) => {
  let truncations = 0;
  fc.assert(
    fc.property(fc.array(arbRegistration, { minLength: 1, maxLength: 8 }), (regs) => {
      // One interner across the batch, as loadAll uses it: values shared, results unchanged.
      const interner = new Interner();
      const encoded = regs.map(encodeRegistration);
      encoded.forEach((bytes, i) => deepStrictEqual(decodeRegistration(bytes, interner), regs[i]));
      // A later schema may add fields: field 99 (varint) and 100 (bytes) are skipped.
      const extended = Uint8Array.of(...encoded[0]!, 0x98, 0x06, 0x2a, 0xa2, 0x06, 0x02, 0x01, 0x02);
      deepStrictEqual(decodeRegistration(extended, interner), regs[0]);
      for (let cut = 0; cut < encoded[0]!.length; cut++) {
        try {
          decodeRegistration(encoded[0]!.subarray(0, cut), interner);
        } catch (err) {
          if (!(err instanceof StoreCodecError)) throw err;
        }
        truncations++;
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.ok(truncations > 1000, `${truncations} truncated values: each decoded or refused with StoreCodecError`);
  const two = [...Array(2)].map((_, i) => decodeRegistration(encodeRegistration({ ...sampleRegistration(), etrId: `xtr:${i}` }), new Interner()));
  const shared = new Interner();
  const [a, b] = [0, 1].map(() => decodeRegistration(encodeRegistration(sampleRegistration()), shared));
  t.equal(a!.site, b!.site);
  t.equal(a!.source, b!.source, 'one source endpoint object for both');
  t.equal(a!.record.locators, b!.record.locators, 'one locator list for both');
  t.not(two[0]!.record.locators, two[1]!.record.locators, 'separate interners share nothing');
});

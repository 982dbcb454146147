import t from 'tap';
import fc from 'fast-check';
import type { EidFamily, EidPrefix } from '../../mapserver/codec/types.js';
import { PrefixTable, type TrieOptions } from '../../mapserver/db/trie.js';
import {
  FAMILY_BITS,
  containsPrefix,
  formatEidPrefix,
  normalizePrefix,
  parseEidPrefix,
  prefixBytes,
  prefixFromBytes,
  prefixKey,
  prefixesOverlap,
} from '../../mapserver/codec/prefix.js';

// Few distinct byte values so random prefixes nest and collide often.
const arbByte = fc.constantFrom(0, 0, 0, 1, 10, 64, 128, 192, 255);
const arbFamily = fc.constantFrom<EidFamily>('ipv4', 'ipv4', 'ipv6', 'mac');
const arbIid = fc.constantFrom(0, 0, 7, 0xffffffff);

function arbAddressBytes(family: EidFamily): fc.Arbitrary<Uint8Array> {
  const n = FAMILY_BITS[family] / 8;
  return fc.array(arbByte, { minLength: n, maxLength: n }).map((b) => Uint8Array.from(b));
}

function arbLength(family: EidFamily): fc.Arbitrary<number> {
  const max = FAMILY_BITS[family];
  // Favour short lengths (more nesting) but reach full host routes too.
  return fc.oneof(fc.integer({ min: 0, max: Math.min(max, 12) }), fc.integer({ min: 0, max }), fc.constant(max));
}

const arbPrefix: fc.Arbitrary<EidPrefix> = fc
  .tuple(arbIid, arbFamily)
  .chain(([iid, family]) =>
    fc.tuple(arbAddressBytes(family), arbLength(family)).map(([bytes, len]) => prefixFromBytes(iid, family, bytes, len)),
  );

const arbQuery = fc
  .tuple(arbIid, arbFamily)
  .chain(([iid, family]) => arbAddressBytes(family).map((bytes) => ({ iid, family, bytes })));

type Op = { readonly op: 'set'; readonly prefix: EidPrefix; readonly value: number } | { readonly op: 'delete'; readonly prefix: EidPrefix };

const arbOps: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), prefix: arbPrefix, value: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), prefix: arbPrefix }) },
  ),
  { maxLength: 60 },
);

interface Built {
  readonly table: PrefixTable<number>;
  readonly model: Map<string, { prefix: EidPrefix; value: number }>;
  readonly deletedKeys: string[];
}

/** Applies ops to a table and to a Map model; re-deletes some stored prefixes so deletion paths get exercised. */
function build(ops: readonly Op[], options: TrieOptions): Built {
  const table = new PrefixTable<number>(options);
  const model = new Map<string, { prefix: EidPrefix; value: number }>();
  const deletedKeys: string[] = [];
  for (const op of ops) {
    const key = prefixKey(op.prefix);
    if (op.op === 'set') {
      table.set(op.prefix, op.value);
      model.set(key, { prefix: op.prefix, value: op.value });
    } else {
      const had = model.delete(key);
      if (table.delete(op.prefix) !== had) throw new Error(`delete(${formatEidPrefix(op.prefix)}) disagrees with model`);
      deletedKeys.push(key);
    }
  }
  // Delete every third stored prefix in insertion order.
  let i = 0;
  for (const [key, { prefix }] of [...model]) {
    if (i++ % 3 !== 0) continue;
    if (!table.delete(prefix)) throw new Error(`delete of stored ${key} returned false`);
    model.delete(key);
    deletedKeys.push(key);
  }
  return { table, model, deletedKeys };
}

function queryPrefix(q: { iid: number; family: EidFamily; bytes: Uint8Array }, len: number): EidPrefix {
  return prefixFromBytes(q.iid, q.family, q.bytes, len);
}

function bruteBest(model: Built['model'], q: { iid: number; family: EidFamily; bytes: Uint8Array }): string | undefined {
  const host = queryPrefix(q, FAMILY_BITS[q.family]);
  let best: EidPrefix | undefined;
  for (const { prefix } of model.values()) {
    if (containsPrefix(prefix, host) && (!best || prefix.length > best.length)) best = prefix;
  }
  return best && prefixKey(best);
}

function bruteWidestNegative(model: Built['model'], q: { iid: number; family: EidFamily; bytes: Uint8Array }): string | undefined {
  for (let len = 0; len <= FAMILY_BITS[q.family]; len++) {
    const candidate = queryPrefix(q, len);
    if (![...model.values()].some(({ prefix }) => prefixesOverlap(prefix, candidate))) return prefixKey(candidate);
  }
  return undefined;
}

/** Queries: random addresses plus addresses inside the stored and deleted prefixes. */
function queriesFor(built: Built, random: ReadonlyArray<{ iid: number; family: EidFamily; bytes: Uint8Array }>) {
  const out = [...random];
  for (const { prefix } of built.model.values()) {
    const bytes = prefixBytes(prefix);
    bytes[bytes.length - 1] ^= 1; // flip a host bit (when the prefix has one)
    out.push({ iid: prefix.iid, family: prefix.address.afi as EidFamily, bytes });
  }
  return out;
}

t.test('examples: widest negative prefixes', async (t) => {
  const table = new PrefixTable<string>();
  for (const s of ['10.16.10.0/24', '192.168.20.0/24', '172.16.30.0/24', '[7] 172.16.31.0/24']) table.set(parseEidPrefix(s), s);
  const neg = (iid: number, address: string) => {
    const p = table.lookupWidestNegative(iid, 'ipv4', address);
    return p && formatEidPrefix(p);
  };
  t.equal(neg(0, '10.16.99.1'), '10.16.64.0/18');
  t.equal(neg(7, '10.16.10.10'), '[7] 0.0.0.0/1');
  t.equal(neg(3, '10.16.10.10'), '[3] 0.0.0.0/0', 'unknown IID: everything is negative');
  t.equal(neg(0, '10.16.10.99'), undefined, 'covered addresses have no negative prefix');
  t.equal(formatEidPrefix(new PrefixTable<number>().lookupWidestNegative(0, 'ipv4', '1.2.3.4')!), '0.0.0.0/0');
  t.equal(formatEidPrefix(table.lookupWidestNegative(0, 'ipv6', '2001:db8::1')!), '::/0');
});

t.test('examples: longest match, exact get, covering, coveredBy, delete', async (t) => {
  const table = new PrefixTable<string>();
  const names = ['10.0.0.0/8', '10.16.0.0/16', '10.16.10.0/24', '10.16.10.10/32', '2001:db8::/32', '2001:db8:1::/48', 'aa:bb:cc:00:00:00/24', '[7] 10.0.0.0/8'];
  for (const s of names) table.set(parseEidPrefix(s), s);
  t.equal(table.size, names.length);
  t.equal(table.lookupBest(0, 'ipv4', '10.16.10.10')?.value, '10.16.10.10/32');
  t.equal(table.lookupBest(0, 'ipv4', Uint8Array.of(10, 16, 10, 11))?.value, '10.16.10.0/24');
  t.equal(table.lookupBest(0, 'ipv4', { afi: 'ipv4', ip: '10.16.11.1' })?.value, '10.16.0.0/16');
  t.equal(table.lookupBestValue(0, 'ipv4', Uint8Array.of(10, 99, 0, 1)), '10.0.0.0/8');
  t.equal(table.lookupBest(0, 'ipv4', '11.0.0.1'), undefined);
  t.equal(table.lookupBest(7, 'ipv4', '10.16.10.10')?.value, '[7] 10.0.0.0/8');
  t.equal(table.lookupBest(0, 'ipv6', '2001:db8:1::5')?.value, '2001:db8:1::/48');
  t.equal(table.lookupBest(0, 'mac', 'aa:bb:cc:01:02:03')?.value, 'aa:bb:cc:00:00:00/24');
  t.equal(table.get(parseEidPrefix('10.16.0.0/16')), '10.16.0.0/16');
  t.equal(table.get(parseEidPrefix('10.16.0.0/17')), undefined);
  t.same(table.covering(parseEidPrefix('10.16.10.0/24')).map((m) => m.value), ['10.0.0.0/8', '10.16.0.0/16', '10.16.10.0/24']);
  t.same(table.coveredBy(parseEidPrefix('10.16.0.0/12')).map((m) => m.value), ['10.16.0.0/16', '10.16.10.0/24', '10.16.10.10/32']);
  t.ok(table.delete(parseEidPrefix('10.16.0.0/16')));
  t.notOk(table.delete(parseEidPrefix('10.16.0.0/16')));
  t.equal(table.lookupBest(0, 'ipv4', '10.16.11.1')?.value, '10.0.0.0/8');
  t.equal(table.size, names.length - 1);
  for (const { prefix } of [...table.entries()]) t.ok(table.delete(prefix));
  t.equal(table.size, 0);
  t.same([...table.entries()], []);
  t.throws(() => table.lookupBest(0, 'ipv4', 'nope'), { name: 'PrefixError' });
  t.throws(() => table.set({ iid: 0, address: { afi: 'none' }, length: 0 }, 'x'), { name: 'PrefixError' });
});

t.test('stored prefixes are normalised; the caller object is kept when already canonical', async (t) => {
  const table = new PrefixTable<number>();
  const canonical = parseEidPrefix('10.1.0.0/16');
  table.set(canonical, 1);
  t.equal(table.lookupBest(0, 'ipv4', '10.1.2.3')?.prefix, canonical);
  table.set({ iid: 0, address: { afi: 'ipv6', ip: '2001:DB8::1' }, length: 32 }, 2);
  t.same(table.lookupBest(0, 'ipv6', '2001:db8::9')?.prefix, parseEidPrefix('2001:db8::/32'));
});

// Small jump tables (always on, or switched on mid-way) so their upkeep is checked too.
const arbOptions: fc.Arbitrary<TrieOptions> = fc.constantFrom<TrieOptions>(
  {},
  { jumpBits: 4, jumpThreshold: 0 },
  { jumpBits: 1, jumpThreshold: 1 },
  { jumpBits: 6, jumpThreshold: 8 },
  { jumpBits: 24, jumpThreshold: 2 },
);

t.test('property: table agrees with a brute-force scan', async (t) => {
  fc.assert(
    fc.property(arbOps, fc.array(arbQuery, { maxLength: 20 }), arbOptions, (ops, random, options) => {
      const built = build(ops, options);
      const { table, model } = built;
      if (table.size !== model.size) return false;
      const stored = [...table.entries()].map((e) => `${prefixKey(e.prefix)}=${e.value}`).sort();
      const expected = [...model].map(([k, v]) => `${k}=${v.value}`).sort();
      if (stored.join() !== expected.join()) {
        t.fail(`entries: ${stored} vs ${expected}`);
        return false;
      }
      for (const [, { prefix, value }] of model) if (table.get(prefix) !== value) return false;
      for (const key of built.deletedKeys) {
        if (model.has(key)) continue;
        const prefix = [...ops].map((o) => o.prefix).find((p) => prefixKey(p) === key)!;
        if (table.has(prefix)) return false;
      }
      for (const q of queriesFor(built, random)) {
        const got = table.lookupBest(q.iid, q.family, q.bytes);
        const gotKey = got && prefixKey(got.prefix);
        if (gotKey !== bruteBest(model, q)) {
          t.fail(`lookupBest ${formatEidPrefix(queryPrefix(q, FAMILY_BITS[q.family]))}: ${gotKey} vs ${bruteBest(model, q)}`);
          return false;
        }
        const neg = table.lookupWidestNegative(q.iid, q.family, q.bytes);
        if ((neg && prefixKey(neg)) !== bruteWidestNegative(model, q)) {
          t.fail(`widest negative ${formatEidPrefix(queryPrefix(q, FAMILY_BITS[q.family]))}: ${neg && prefixKey(neg)} vs ${bruteWidestNegative(model, q)}`);
          return false;
        }
      }
      return true;
    }),
    { numRuns: 500 },
  );
});

t.test('property: coveredBy and covering agree with a brute-force scan', async (t) => {
  fc.assert(
    fc.property(arbOps, fc.array(arbPrefix, { maxLength: 15 }), arbOptions, (ops, probes, options) => {
      const built = build(ops, options);
      const all = [...built.model.values()];
      for (const probe of [...probes, ...all.map((e) => e.prefix)]) {
        const inside = built.table.coveredBy(probe).map((m) => prefixKey(m.prefix));
        const insideExpected = all.filter((e) => containsPrefix(probe, e.prefix)).map((e) => prefixKey(e.prefix));
        if (inside.length !== insideExpected.length || [...inside].sort().join() !== [...insideExpected].sort().join()) {
          t.fail(`coveredBy ${formatEidPrefix(probe)}: ${inside} vs ${insideExpected}`);
          return false;
        }
        const around = built.table.covering(probe).map((m) => prefixKey(m.prefix));
        const aroundExpected = all
          .filter((e) => containsPrefix(e.prefix, probe))
          .sort((a, b) => a.prefix.length - b.prefix.length)
          .map((e) => prefixKey(e.prefix));
        if (around.join() !== aroundExpected.join()) {
          t.fail(`covering ${formatEidPrefix(probe)}: ${around} vs ${aroundExpected}`);
          return false;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
});

t.test('property: deleting everything in random order leaves an empty, reusable table', async (t) => {
  fc.assert(
    fc.property(fc.array(arbPrefix, { maxLength: 80 }), fc.infiniteStream(fc.nat()), arbOptions, (prefixes, rnd, options) => {
      const table = new PrefixTable<string>(options);
      for (const p of prefixes) table.set(p, prefixKey(p));
      const keys = new Map(prefixes.map((p) => [prefixKey(p), p]));
      const order = [...keys.values()];
      const it = rnd[Symbol.iterator]();
      for (let i = order.length - 1; i > 0; i--) {
        const j = it.next().value! % (i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const p of order) if (!table.delete(p)) return false;
      if (table.size !== 0 || [...table.entries()].length !== 0) return false;
      for (const p of order) table.set(p, prefixKey(p));
      return table.size === keys.size && [...table.entries()].every((e) => e.value === prefixKey(e.prefix));
    }),
    { numRuns: 200 },
  );
  t.pass('ok');
});

t.test('large table with the default jump table agrees with one without it', async (t) => {
  let seed = 7;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const withJump = new PrefixTable<number>();
  const plain = new PrefixTable<number>({ jumpThreshold: Infinity });
  const stored: EidPrefix[] = [];
  const lengths = [0, 3, 8, 12, 15, 16, 17, 20, 24, 24, 28, 32, 32];
  for (let i = 0; i < 40_000; i++) {
    const r = rand();
    const p = prefixFromBytes(0, 'ipv4', Uint8Array.of(r >>> 24, r >>> 16, r >>> 8, r), lengths[rand() % lengths.length]!);
    withJump.set(p, i);
    plain.set(p, i);
    stored.push(p);
  }
  // Delete a third, including short prefixes whose removal rewrites many jump entries.
  let mismatches = 0;
  for (let i = 0; i < stored.length; i += 3) if (withJump.delete(stored[i]!) !== plain.delete(stored[i]!)) mismatches++;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 100_000; i++) {
    const r = rand();
    bytes[0] = r >>> 24; bytes[1] = r >>> 16; bytes[2] = r >>> 8; bytes[3] = r;
    const a = withJump.lookupBest(0, 'ipv4', bytes);
    const b = plain.lookupBest(0, 'ipv4', bytes);
    if (a?.prefix !== b?.prefix || a?.value !== b?.value) mismatches++;
  }
  t.equal(mismatches, 0, 'same longest matches for 100k random addresses');
  t.equal(withJump.size, plain.size);
});

t.test('hasMoreSpecifics agrees with coveredBy on random tables', async (t) => {
  const table = new PrefixTable<number>();
  const prefixes = ['10.0.0.0/8', '10.16.0.0/16', '10.16.10.0/24', '10.16.10.50/32', '192.168.0.0/16', '0.0.0.0/0'].map((p) => parseEidPrefix(p));
  prefixes.forEach((p, i) => table.set(p, i));
  const probes = ['10.0.0.0/8', '10.16.10.0/24', '10.16.10.50/32', '10.16.11.0/24', '192.168.0.0/16', '192.0.0.0/8', '0.0.0.0/0', '172.16.0.0/12'].map((p) => parseEidPrefix(p));
  for (const probe of probes) {
    const inside = table.coveredBy(probe).filter((m) => m.prefix.length > probe.length).length > 0;
    t.equal(table.hasMoreSpecifics(probe), inside, formatEidPrefix(probe));
  }
  for (let run = 0; run < 300; run++) {
    const random = new PrefixTable<number>();
    const rnd = (n: number): number => Math.floor(Math.random() * n);
    const stored = Array.from({ length: 20 }, () =>
      normalizePrefix({ iid: 0, address: { afi: 'ipv4', ip: `10.${rnd(4)}.${rnd(4)}.${rnd(256)}` }, length: 8 + rnd(25) }),
    );
    stored.forEach((p, i) => random.set(p, i));
    const probe = stored[(Math.random() * stored.length) | 0]!;
    const expected = random.coveredBy(probe).some((m) => m.prefix.length > probe.length);
    if (random.hasMoreSpecifics(probe) !== expected) {
      t.fail(`hasMoreSpecifics(${formatEidPrefix(probe)}) wrong`);
      return;
    }
  }
  t.pass('300 random tables agree');
});

t.test('getOrSet finds the stored value or stores the made one, once', async (t) => {
  const table = new PrefixTable<string>();
  let made = 0;
  const make = (v: string) => (): string => { made++; return v; };
  t.equal(table.getOrSet(parseEidPrefix('10.1.0.0/16'), make('a')), 'a');
  t.equal(table.getOrSet(parseEidPrefix('10.1.0.0/16'), make('b')), 'a', 'existing value returned');
  t.equal(table.getOrSet({ iid: 0, address: { afi: 'ipv4', ip: '10.1.2.3' }, length: 16 }, make('c')), 'a', 'host bits ignored');
  t.equal(table.getOrSet(parseEidPrefix('10.1.0.0/17'), make('d')), 'd', 'a longer prefix is another entry');
  t.equal(table.getOrSet(parseEidPrefix('10.1.0.0/16', 7), make('e')), 'e', 'another instance is another entry');
  t.equal(made, 3);
  t.equal(table.size, 3);
  t.equal(table.lookupBestValue(0, 'ipv4', '10.1.0.9'), 'd');
});

t.test('exact-match lookups of the same prefix object see every change in between', async (t) => {
  const table = new PrefixTable<string>();
  const p = parseEidPrefix('10.9.0.0/16');
  t.equal(table.get(p), undefined);
  table.set(p, 'a');
  t.equal(table.get(p), 'a', 'after set');
  t.equal(table.get(p), 'a', 'asked again');
  table.set(parseEidPrefix('10.9.0.0/16'), 'b');
  t.equal(table.get(p), 'b', 'after a set through another object');
  table.delete(parseEidPrefix('10.9.0.0/16'));
  t.equal(table.get(p), undefined, 'after delete');
  t.equal(table.getOrSet(parseEidPrefix('10.9.0.0/16'), () => 'c'), 'c');
  t.equal(table.get(p), 'c', 'after getOrSet inserted');
  table.clear();
  t.equal(table.get(p), undefined, 'after clear');
});

t.test('IPv4 host routes (found by hash, not by walking): replaced, deleted, per instance ID, cleared', async (t) => {
  const table = new PrefixTable<string>();
  const host = (iid: number, ip: string): EidPrefix => ({ iid, address: { afi: 'ipv4', ip }, length: 32 });
  table.set(parseEidPrefix('10.0.0.0/8'), 'site');
  table.set(host(0, '10.1.2.3'), 'vm');
  table.set(host(7, '10.1.2.3'), 'vm in IID 7');
  t.equal(table.lookupBestValue(0, 'ipv4', '10.1.2.3'), 'vm');
  t.equal(table.lookupBestValue(7, 'ipv4', '10.1.2.3'), 'vm in IID 7', 'the same address in another instance ID is another route');
  t.equal(table.lookupBest(0, 'ipv4', '10.1.2.3')?.prefix.length, 32);
  t.equal(table.lookupBestValue(0, 'ipv4', '10.1.2.4'), 'site', 'a neighbour is still matched by the walk');
  table.set(host(0, '10.1.2.3'), 'vm moved');
  t.equal(table.lookupBestValue(0, 'ipv4', '10.1.2.3'), 'vm moved', 'a replaced value is what the hash finds');
  t.ok(table.delete(host(0, '10.1.2.3')));
  t.equal(table.lookupBestValue(0, 'ipv4', '10.1.2.3'), 'site', 'a deleted host falls back to its site');
  t.equal(table.lookupBestValue(7, 'ipv4', '10.1.2.3'), 'vm in IID 7');
  // The freed node is reused by the next prefix: the deleted host must not find it.
  table.set(parseEidPrefix('10.9.0.0/16'), 'other');
  t.equal(table.lookupBestValue(0, 'ipv4', '10.1.2.3'), 'site');
  table.set(host(0, '192.0.2.1'), 'outside');
  table.clear();
  t.equal(table.lookupBestValue(0, 'ipv4', '192.0.2.1'), undefined, 'nothing after clear');
  t.equal(table.lookupBestValue(7, 'ipv4', '10.1.2.3'), undefined);
  table.set(host(0, '192.0.2.1'), 'again');
  t.equal(table.lookupBestValue(0, 'ipv4', '192.0.2.1'), 'again', 'reusable after clear');
});

import t from 'tap';
import fc from 'fast-check';
import type { EidFamily } from '../../mapserver/codec/types.js';
import {
  FAMILY_BITS,
  PrefixError,
  containsAddress,
  containsPrefix,
  eidFamily,
  formatBareEidPrefix,
  formatEidPrefix,
  normalizePrefix,
  parseEidPrefix,
  prefixBytes,
  prefixFromBytes,
  prefixKey,
  prefixesOverlap,
  samePrefix,
} from '../../mapserver/codec/prefix.js';

t.test('parses the accepted forms', async (t) => {
  t.same(parseEidPrefix('10.16.10.0/24'), { iid: 0, address: { afi: 'ipv4', ip: '10.16.10.0' }, length: 24 });
  t.same(parseEidPrefix('2001:DB8::/32'), { iid: 0, address: { afi: 'ipv6', ip: '2001:db8::' }, length: 32 });
  t.same(parseEidPrefix('AA:bb:cc:dd:ee:ff/48'), { iid: 0, address: { afi: 'mac', mac: 'aa:bb:cc:dd:ee:ff' }, length: 48 });
  t.same(parseEidPrefix('aa-bb-cc-00-00-00/24'), { iid: 0, address: { afi: 'mac', mac: 'aa:bb:cc:00:00:00' }, length: 24 });
  t.same(parseEidPrefix('[7]10.0.0.0/8'), { iid: 7, address: { afi: 'ipv4', ip: '10.0.0.0' }, length: 8 });
  t.same(parseEidPrefix('[7] 172.16.31.0/24'), { iid: 7, address: { afi: 'ipv4', ip: '172.16.31.0' }, length: 24 });
  t.same(parseEidPrefix('10.1.2.3'), { iid: 0, address: { afi: 'ipv4', ip: '10.1.2.3' }, length: 32 }, 'bare address is a host prefix');
  t.same(parseEidPrefix('::1'), { iid: 0, address: { afi: 'ipv6', ip: '::1' }, length: 128 });
  t.equal(parseEidPrefix('10.0.0.0/8', 9).iid, 9, 'iid argument');
  t.equal(parseEidPrefix('[3] 10.0.0.0/8', 9).iid, 3, 'bracketed iid wins');
  t.equal(parseEidPrefix('0.0.0.0/0').length, 0);
});

t.test('rejects with messages a person understands', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['10.0.0.0/33', /^10\.0\.0\.0\/33: prefix length 33 is longer than 32 bits for IPv4$/],
    ['2001:db8::/129', /longer than 128 bits for IPv6/],
    ['aa:bb:cc:dd:ee:ff/49', /longer than 48 bits for MAC/],
    ['10.0.0.1/24', /host bits are set past \/24 \(did you mean 10\.0\.0\.0\/24\?\)/],
    ['[7] 10.0.0.1/8', /did you mean \[7\] 10\.0\.0\.0\/8/],
    ['10.0.0/8', /'10\.0\.0' is not an IPv4, IPv6 or MAC address/],
    ['banana', /not an IPv4, IPv6 or MAC address/],
    ['', /empty/],
    ['10.0.0.0/', /prefix length '' is not a number/],
    ['10.0.0.0/-1', /is not a number/],
    ['10.0.0.0/8/8', /is not a number/],
    ['[x] 10.0.0.0/8', /instance ID must be written as \[number\]/],
    ['[4294967296] 10.0.0.0/8', /out of range/],
    ['1:2:3:4:5/8', /not an IPv4, IPv6 or MAC/],
  ];
  for (const [text, message] of cases) {
    t.throws(() => parseEidPrefix(text), { name: 'PrefixError', message }, text);
  }
  t.throws(() => parseEidPrefix('10.0.0.0/8', -1), PrefixError);
});

t.test('formats, keys and compares', async (t) => {
  t.equal(formatEidPrefix(parseEidPrefix('10.16.10.0/24')), '10.16.10.0/24');
  t.equal(formatEidPrefix(parseEidPrefix('[7]172.16.31.0/24')), '[7] 172.16.31.0/24');
  t.equal(formatBareEidPrefix(parseEidPrefix('[7]172.16.31.0/24')), '172.16.31.0/24', 'the IID goes in a field of its own');
  t.equal(prefixKey(parseEidPrefix('[7]172.16.31.0/24')), '7:ipv4:172.16.31.0/24');
  t.equal(prefixKey({ iid: 0, address: { afi: 'ipv6', ip: '2001:DB8::1' }, length: 32 }), '0:ipv6:2001:db8::/32', 'key ignores host bits and case');
  t.equal(prefixKey({ iid: 0, address: { afi: 'none' }, length: 0 }), '0:none:none/0');
  t.equal(eidFamily(parseEidPrefix('aa:bb:cc:dd:ee:ff')), 'mac');
  t.equal(eidFamily({ iid: 0, address: { afi: 'none' }, length: 0 }), undefined);
  t.same([...prefixBytes(parseEidPrefix('10.1.0.0/16'))], [10, 1, 0, 0]);
  t.same(normalizePrefix({ iid: 1, address: { afi: 'ipv4', ip: '10.1.2.3' }, length: 16 }), parseEidPrefix('[1] 10.1.0.0/16'));
  const p = parseEidPrefix('10.1.0.0/16');
  t.equal(normalizePrefix(p), p, 'already normal: same object');
  t.ok(samePrefix(p, { iid: 0, address: { afi: 'ipv4', ip: '10.1.9.9' }, length: 16 }));
  t.notOk(samePrefix(p, parseEidPrefix('[1] 10.1.0.0/16')));
  t.notOk(samePrefix(p, parseEidPrefix('10.1.0.0/17')));
  t.ok(containsPrefix(parseEidPrefix('10.0.0.0/8'), p));
  t.ok(containsPrefix(p, p));
  t.notOk(containsPrefix(p, parseEidPrefix('10.0.0.0/8')));
  t.notOk(containsPrefix(parseEidPrefix('0.0.0.0/0'), parseEidPrefix('::/0')), 'families never contain each other');
  t.notOk(containsPrefix(parseEidPrefix('0.0.0.0/0'), parseEidPrefix('[7] 10.0.0.0/8')), 'IIDs never contain each other');
  t.ok(containsAddress(p, 0, '10.1.255.1'));
  t.ok(containsAddress(p, 0, { afi: 'ipv4', ip: '10.1.0.1' }));
  t.notOk(containsAddress(p, 7, '10.1.255.1'));
  t.notOk(containsAddress(p, 0, '10.2.0.1'));
  t.notOk(containsAddress(p, 0, '::1'));
  t.ok(containsAddress(parseEidPrefix('aa:bb:cc:00:00:00/24'), 0, 'aa:bb:cc:12:34:56'));
  t.ok(prefixesOverlap(p, parseEidPrefix('10.0.0.0/8')));
  t.ok(prefixesOverlap(parseEidPrefix('10.0.0.0/8'), p));
  t.notOk(prefixesOverlap(p, parseEidPrefix('10.2.0.0/16')));
});

const arbFamily = fc.constantFrom<EidFamily>('ipv4', 'ipv6', 'mac');
const arbPrefix = fc
  .tuple(fc.nat({ max: 0xffffffff }), arbFamily)
  .chain(([iid, family]) =>
    fc
      .tuple(fc.uint8Array({ minLength: FAMILY_BITS[family] / 8, maxLength: FAMILY_BITS[family] / 8 }), fc.integer({ min: 0, max: FAMILY_BITS[family] }))
      .map(([bytes, len]) => prefixFromBytes(iid, family, bytes, len)),
  );

t.test('property: format/parse round-trips and keys identify prefixes', async (t) => {
  fc.assert(
    fc.property(arbPrefix, arbPrefix, (a, b) => {
      const back = parseEidPrefix(formatEidPrefix(a));
      if (!samePrefix(a, back) || prefixKey(a) !== prefixKey(back)) return false;
      if ((prefixKey(a) === prefixKey(b)) !== samePrefix(a, b)) return false;
      if (prefixesOverlap(a, b) !== (containsPrefix(a, b) || containsPrefix(b, a))) return false;
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('ok');
});

t.test('property: containment is bit-prefix equality', async (t) => {
  fc.assert(
    fc.property(arbPrefix, fc.nat(), (inner, cut) => {
      const family = eidFamily(inner)!;
      const outer = prefixFromBytes(inner.iid, family, prefixBytes(inner), cut % (inner.length + 1));
      if (!containsPrefix(outer, inner)) return false;
      const host = prefixBytes(inner);
      return containsAddress(outer, inner.iid, host.length === 6 ? { afi: 'mac', mac: formatEidPrefix({ ...inner, iid: 0 }).split('/')[0]! } : formatEidPrefix({ ...inner, iid: 0 }).split('/')[0]!);
    }),
    { numRuns: 300 },
  );
  t.pass('ok');
});

// The decoder's side channel of EID wire bytes (codec/eid-bytes.ts) and the trie lookups that use
// it: a just-decoded EID is looked up by its bytes, anything else by its text, with the same answer.
import t from 'tap';
import { decode, encode, ecmAround, mapRequest, parseEidPrefix, prefixBytes, type EidPrefix, type MapRequest } from '../../mapserver/codec/index.js';
import { decodedEidBytes } from '../../mapserver/codec/eid-bytes.js';
import { PrefixTable } from '../../mapserver/db/trie.js';

function requestFor(...records: EidPrefix[]): MapRequest {
  return mapRequest({ nonce: 7n, sourceEid: { afi: 'ipv4', ip: '172.16.30.10' }, itrRlocs: [{ afi: 'ipv4', ip: '127.0.0.1' }], records });
}

/** The EID records of `request` after a trip through the wire (inside an ECM, as ITRs send them). */
function decodedRecords(request: MapRequest): readonly EidPrefix[] {
  const message = decode(encode(ecmAround(request, { source: '127.0.0.1', destination: '10.16.10.50', sourcePort: 40000 })));
  if (message.type !== 'ecm' || message.message.type !== 'map-request') throw new Error('expected an ECM Map-Request');
  return message.message.records;
}

t.test('a decoded EID address brings its wire bytes: IPv4, IPv6, MAC, inside an Instance-ID LCAF too', async (t) => {
  const prefixes = ['10.16.10.50/32', '2001:db8:a::1/128', 'aa:bb:cc:dd:ee:ff/48', '[7] 172.16.31.0/24'].map((p) => parseEidPrefix(p));
  const records = decodedRecords(requestFor(...prefixes));
  t.equal(records.length, 4);
  records.forEach((eid, i) => {
    const expected = prefixBytes(prefixes[i]!);
    const bytes = decodedEidBytes(eid.address);
    t.ok(bytes, `bytes kept for ${eid.address.afi}`);
    t.same([...bytes!.subarray(0, expected.length)], [...expected], `the wire bytes of record ${i}`);
  });
});

t.test('only the last decoded EIDs are kept, and only by object identity', async (t) => {
  const first = decodedRecords(requestFor(parseEidPrefix('10.16.10.50/32')))[0]!;
  t.ok(decodedEidBytes(first.address), 'just decoded');
  t.equal(decodedEidBytes({ ...first.address }), undefined, 'an equal Address that is another object is not known');
  for (let i = 0; i < 8; i++) decodedRecords(requestFor(parseEidPrefix(`10.16.11.${i}/32`)));
  t.equal(decodedEidBytes(first.address), undefined, 'pushed out by later decodes');
});

t.test('lookups of a decoded EID agree with lookups of its text, before and after its slot is reused', async (t) => {
  const table = new PrefixTable<string>();
  table.set(parseEidPrefix('10.16.10.0/24'), 'site');
  table.set(parseEidPrefix('10.16.10.50/32'), 'vm');
  table.set(parseEidPrefix('2001:db8::/32'), 'v6');
  const asked = ['10.16.10.50/32', '10.16.10.51/32', '10.99.0.1/32', '2001:db8:a::1/128', '2001:db9::1/128'].map((p) => parseEidPrefix(p));
  const decoded = decodedRecords(requestFor(...asked));
  const byText = (eid: EidPrefix): string | undefined => table.lookupBestValue(eid.iid, eid.address.afi === 'ipv6' ? 'ipv6' : 'ipv4', eid.address.afi === 'ipv6' || eid.address.afi === 'ipv4' ? eid.address.ip : '');
  const byAddress = (eid: EidPrefix): string | undefined => table.lookupBestValue(eid.iid, eid.address.afi === 'ipv6' ? 'ipv6' : 'ipv4', eid.address);
  const expected = ['vm', 'site', undefined, 'v6', undefined];
  // Five records, four slots: the first has already been pushed out and is looked up by text.
  t.equal(decodedEidBytes(decoded[0]!.address), undefined);
  t.ok(decodedEidBytes(decoded[4]!.address));
  t.same(decoded.map(byAddress), expected, 'by the decoded Address');
  t.same(decoded.map(byText), expected, 'by text');
  decodedRecords(requestFor(parseEidPrefix('2001:db8:ffff::1/128'), parseEidPrefix('10.0.0.1/32'), parseEidPrefix('10.0.0.2/32'), parseEidPrefix('10.0.0.3/32')));
  t.same(decoded.map(byAddress), expected, 'after other decodes took the slots');
});

// Explicit wire bytes for each address kind and for EID prefixes (round-trips alone would not
// catch a consistently wrong AFI number or LCAF layout).
import t from 'tap';
import { Reader, decodeAddress, encodeAddress, addressLength, encodeEid, eidLength, decodeEid, type Address, type EidPrefix } from '../../mapserver/codec/index.js';

const hx = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

function bytesOf(a: Address): Buffer {
  const buf = Buffer.alloc(addressLength(a));
  t.equal(encodeAddress(a, buf, 0), buf.length);
  return buf;
}

const cases: Array<[string, Address, string]> = [
  ['AFI 0', { afi: 'none' }, '0000'],
  ['IPv4', { afi: 'ipv4', ip: '10.99.0.2' }, '0001 0a630002'],
  ['IPv6', { afi: 'ipv6', ip: '2001:db8::1' }, '0002 20010db8000000000000000000000001'],
  ['MAC (AFI 16389)', { afi: 'mac', mac: '52:54:00:ab:cd:ef' }, '4005 525400abcdef'],
  ['Instance-ID LCAF', { afi: 'lcaf-iid', iid: 7, maskLen: 32, flags: 0, address: { afi: 'ipv4', ip: '172.16.31.10' } }, '4003 00 00 02 20 000a 00000007 0001 ac101f0a'],
  ['AFI-list LCAF', { afi: 'lcaf-afi-list', flags: 0, addresses: [{ afi: 'ipv4', ip: '1.2.3.4' }, { afi: 'mac', mac: '00:00:00:00:00:01' }] }, '4003 00 00 01 00 000e 0001 01020304 4005 000000000001'],
  ['opaque LCAF (type 11, distinguished name)', { afi: 'lcaf', lcafType: 11, rsvd1: 1, flags: 2, rsvd2: 3, payload: new Uint8Array([0x61, 0x62, 0]) }, '4003 01 02 0b 03 0003 616200'],
];

for (const [name, addr, hex] of cases) {
  t.test(name, async (t) => {
    const wire = hx(hex);
    t.same(bytesOf(addr).toString('hex'), wire.toString('hex'), 'encodes');
    const r = new Reader(wire);
    t.same(decodeAddress(r), addr, 'decodes');
    t.equal(r.pos, wire.length, 'consumes exactly its bytes');
  });
}

t.test('EID prefixes: IID 0 is the bare address, other IIDs an Instance-ID LCAF with mask-len byte 32', async (t) => {
  const eids: Array<[EidPrefix, string]> = [
    [{ iid: 0, address: { afi: 'ipv4', ip: '10.16.10.0' }, length: 24 }, '0001 0a100a00'],
    [{ iid: 7, address: { afi: 'ipv4', ip: '172.16.31.0' }, length: 24 }, '4003 0000 0220 000a 00000007 0001 ac101f00'],
    [{ iid: 0xffffffff, address: { afi: 'mac', mac: '00:11:22:33:44:55' }, length: 48 }, '4003 0000 0220 000c ffffffff 4005 001122334455'],
  ];
  for (const [eid, hex] of eids) {
    const buf = Buffer.alloc(eidLength(eid));
    encodeEid(eid, buf, 0);
    t.equal(buf.toString('hex'), hx(hex).toString('hex'));
    t.same(decodeEid(new Reader(buf), eid.length, 0), eid);
  }
  // An IID LCAF with mask-len byte 24 (RFC 8060 §4.1: 24 significant IID bits) and flags is
  // lifted to iid; the flags are normalised, the mask-len byte is kept and written back.
  const wire = hx('4003 0005 0218 000a 00000009 0001 0a000000');
  const decoded = decodeEid(new Reader(wire), 8, 0);
  t.same(decoded, { iid: 9, address: { afi: 'ipv4', ip: '10.0.0.0' }, length: 8, iidMaskLen: 24 });
  const again = Buffer.alloc(eidLength(decoded));
  encodeEid(decoded, again, 0);
  t.equal(again.toString('hex'), hx('4003 0000 0218 000a 00000009 0001 0a000000').toString('hex'), 'mask-len 24 re-encoded, not forced to 32');
});

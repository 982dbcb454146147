// Malformed input: every bad-input class raises only LispCodecError with the byte offset and a
// readable reason; plus a mutation fuzz of the golden corpus (see test/helpers/mutate.ts).
import t, { type Test } from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import fc from 'fast-check';
import { readCapture } from '../../mapserver/pcap/read.js';
import {
  decode,
  decodeWithLength,
  encode,
  verifyMessage,
  signMessage,
  LispCodecError,
  MAX_LCAF_DEPTH,
  type EncapsulatedControl,
  type Address,
  type LispMessage,
  type MapRegister,
  type MapRequest,
} from '../../mapserver/codec/index.js';
import { fuzzDecode } from '../helpers/mutate.js';
import { arbLispMessage } from '../helpers/arbitraries.js';

const hx = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
function patch(b: Buffer, offset: number, ...bytes: number[]): Buffer {
  const c = Buffer.from(b);
  bytes.forEach((v, i) => { c[offset + i] = v; });
  return c;
}

// From the OOR vectors (see test/vectors/oor/README.md).
const MREG = hx('38000101ffd90d6f762919dc0001001445354f28b5508d602980c771f16ab528d0bff3640000000a0118100000000001c0a814000164ff00000500010a630004');
const MREP = hx('200000018ff9656b4945b08f0000000a0118000000000001c0a814000164ff00000100010a630004');
const SMR = hx('1100000100000000000000000001c0a8140000010a630005001800010a100a00');
const ECM = hx('800000004500003c00024000ff1192e20a100a0ac0a8140a10f610f600280255100000018ff9656b4945b08f00010a100a0a00010a63000300200001c0a8140a');
const IID_MREG = hx('30000101fbfff57b57d67f70000100143d074eb4c1a74587ae024760cdacb6138a0f17730000000a011810000000400300000220000a000000070001ac101f000164ff00000500010a630006');
const NEG_REPLY = hx('200000015bdd1f7b5f3f15490000000f00123000000000010b104000');

function rejects(t: Test, bytes: Uint8Array, offset: number, reason: RegExp, name = reason.source): void {
  try {
    decode(bytes);
    t.fail(`${name}: decoded without error`);
  } catch (e) {
    if (!(e instanceof LispCodecError)) {
      t.fail(`${name}: threw ${String(e)}`);
      return;
    }
    t.equal(e.offset, offset, `${name}: offset`);
    t.match(e.reason, reason, `${name}: reason`);
    t.equal(e.message, `offset ${e.offset}: ${e.reason}`);
  }
}

function encodeRejects(t: Test, msg: LispMessage, reason: RegExp): void {
  try {
    encode(msg);
    t.fail(`encode accepted: ${reason.source}`);
  } catch (e) {
    t.ok(e instanceof LispCodecError, `encode throws LispCodecError for ${reason.source}`);
    if (e instanceof LispCodecError) t.match(e.reason, reason);
  }
}

t.test('the vectors used here are valid', async (t) => {
  for (const b of [MREG, MREP, SMR, ECM, IID_MREG, NEG_REPLY]) t.ok(encode(decode(b)).equals(b));
});

t.test('every truncation of every golden message is rejected', async (t) => {
  let n = 0;
  for (const b of [MREG, MREP, SMR, ECM, IID_MREG, NEG_REPLY]) {
    for (let len = 0; len < b.length; len++) {
      try {
        decode(b.subarray(0, len));
        t.fail(`prefix of ${len} bytes decoded`);
      } catch (e) {
        if (!(e instanceof LispCodecError)) t.fail(`prefix of ${len}: ${String(e)}`);
        else if (e.offset > len) t.fail(`offset ${e.offset} beyond the ${len} bytes`);
        n++;
      }
    }
  }
  t.equal(n, MREG.length + MREP.length + SMR.length + ECM.length + IID_MREG.length + NEG_REPLY.length);
  rejects(t, new Uint8Array(0), 0, /truncated: message type needs 1 bytes, 0 left/);
  rejects(t, MREG.subarray(0, 40), 3, /record count 1 exceeds the data \(4 bytes left\)/);
  rejects(t, MREG.subarray(0, 50), 48, /truncated: IPv4 address needs 4 bytes, 2 left/);
  rejects(t, MREG.subarray(0, 30), 16, /truncated: authentication data needs 20 bytes, 14 left/);
});

t.test('message types', async (t) => {
  rejects(t, patch(MREP, 0, 0x00), 0, /message type 0 is reserved/);
  for (const type of [6, 7, 9, 10, 15]) rejects(t, patch(MREP, 0, type << 4), 0, new RegExp(`unsupported message type ${type}`));
  // ECM inside an ECM: the inner message starts at offset 32.
  rejects(t, patch(ECM, 32, 0x80), 32, /ECM inside an ECM/);
});

t.test('counts larger than the data', async (t) => {
  rejects(t, patch(MREP, 3, 3), 3, /record count 3 exceeds the data \(28 bytes left\)/);
  rejects(t, patch(MREG, 3, 200), 3, /record count 200 exceeds the data/);
  rejects(t, patch(MREP, 16, 5), 16, /locator count 5 exceeds the data/);
  // IRC 31 -> 32 ITR-RLOCs of at least 2 bytes each.
  rejects(t, patch(SMR, 2, 0x1f), 2, /ITR-RLOC count 32 exceeds the data/);
  // IRC 1: the record's reserved/mask-len bytes are read as a second ITR-RLOC AFI.
  rejects(t, patch(SMR, 2, 0x01), 24, /unsupported AFI 24/);
  rejects(t, patch(SMR, 3, 3), 3, /record count 3 exceeds the data \(8 bytes left\)/);
  rejects(t, patch(SMR, 3, 2), 32, /truncated: Map-Request record header needs 2 bytes, 0 left/);
  // Map-Request M bit without a Map-Reply record.
  rejects(t, patch(SMR, 0, 0x15), 32, /truncated: EID-record header/);
  // I bit without xTR-ID/site-ID.
  rejects(t, patch(SMR, 1, 0x10), 32, /truncated: xTR-ID and site-ID needs 24 bytes, 0 left/);
  rejects(t, patch(MREG, 0, 0x3a), 64, /xTR-ID and site-ID/);
});

t.test('LCAF lengths', async (t) => {
  // LCAF length field at 52..53 (content is 10 bytes, 20 bytes follow it).
  rejects(t, patch(IID_MREG, 52, 0x00, 0xff), 52, /LCAF length 255 overruns the data \(22 bytes left\)/);
  rejects(t, patch(IID_MREG, 52, 0x00, 0x08), 60, /truncated: IPv4 address needs 4 bytes, 2 left inside the LCAF of length 8 at offset 46/);
  rejects(t, patch(IID_MREG, 52, 0x00, 0x0c), 52, /LCAF length 12 is longer than its content \(10 bytes\)/);
  rejects(t, patch(IID_MREG, 52, 0x00, 0x03), 54, /truncated: Instance-ID needs 4 bytes, 3 left inside the LCAF/);
  // A Map-Request source EID that is an AFI-list LCAF claiming 4 bytes but holding a 6-byte IPv4 address.
  const req: MapRequest = {
    type: 'map-request', authoritative: false, mapDataPresent: false, probe: false, smr: false, pitr: false, smrInvoked: false,
    notifyRequested: false, localXtr: false, dontMapReply: false, nonce: 1n,
    sourceEid: { afi: 'lcaf-afi-list', flags: 0, addresses: [{ afi: 'ipv4', ip: '10.0.0.1' }] },
    itrRlocs: [{ afi: 'ipv4', ip: '10.0.0.2' }], records: [],
  };
  const listed = encode(req);
  t.equal(listed.readUInt16BE(18), 6);
  rejects(t, patch(listed, 18, 0, 4), 22, /IPv4 address needs 4 bytes, 2 left inside the LCAF of length 4 at offset 12/);
  rejects(t, patch(listed, 18, 0, 7), 26, /truncated: address AFI needs 2 bytes, 1 left inside the LCAF of length 7/);
  // Unknown LCAF types are opaque; a length overrun is still caught before the payload is copied.
  rejects(t, patch(listed, 16, 0x63, 0, 0xff, 0xff), 18, /LCAF length 65535 overruns the data/);
  t.same((decode(patch(listed, 16, 0x63)) as MapRequest).sourceEid, {
    afi: 'lcaf', lcafType: 0x63, rsvd1: 0, flags: 0, rsvd2: 0, payload: new Uint8Array([0, 1, 10, 0, 0, 1]),
  });
});

t.test('LCAF nesting is bounded', async (t) => {
  const deep = (n: number): Address =>
    n === 0 ? { afi: 'ipv4', ip: '10.0.0.1' } : { afi: 'lcaf-afi-list', flags: 0, addresses: [deep(n - 1)] };
  const base: MapRequest = {
    type: 'map-request', authoritative: false, mapDataPresent: false, probe: false, smr: false, pitr: false, smrInvoked: false,
    notifyRequested: false, localXtr: false, dontMapReply: false, nonce: 1n,
    sourceEid: deep(MAX_LCAF_DEPTH), itrRlocs: [{ afi: 'none' }], records: [],
  };
  t.same(decode(encode(base)), base, `${MAX_LCAF_DEPTH} nested LCAFs are fine`);
  encodeRejects(t, { ...base, sourceEid: deep(MAX_LCAF_DEPTH + 1) }, /LCAF nested deeper than 8/);
  // Hand-built: 2000 nested AFI-list headers must not reach the stack limit.
  const levels = 2000;
  const parts: Buffer[] = [hx('10000000 0000000000000000')];
  for (let i = 0; i < levels; i++) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(16387, 0);
    h[4] = 1;
    h.writeUInt16BE((levels - i - 1) * 8 + 2, 6);
    parts.push(h);
  }
  parts.push(hx('0000 0000'));
  rejects(t, Buffer.concat(parts), 12 + 8 * MAX_LCAF_DEPTH, /LCAF nested deeper than 8/);
});

t.test('addresses and EID mask-lens', async (t) => {
  rejects(t, patch(MREP, 22, 0x00, 0x03), 22, /unsupported AFI 3/);
  rejects(t, patch(MREP, 34, 0x40, 0x05), 36, /truncated: MAC address needs 6 bytes, 4 left/);
  rejects(t, patch(MREP, 17, 33), 17, /EID mask-len 33 exceeds the 32 bits of ipv4/);
  rejects(t, patch(SMR, 25, 0xff), 25, /EID mask-len 255 exceeds the 32 bits of ipv4/);
  rejects(t, patch(IID_MREG, 41, 40), 41, /EID mask-len 40 exceeds the 32 bits of ipv4/);
  // Map-Request record whose EID is an IID LCAF inside an IID LCAF.
  const nested = hx(`10000001 0000000000000000 0000 0000
    00 18 4003 0000 0220 0016 00000007 4003 0000 0220 000a 00000008 0001 0a100a00`);
  rejects(t, nested, 18, /EID has an Instance-ID LCAF inside an Instance-ID LCAF/);
  // As a plain address (source EID) the same nesting is fine.
  const asSource = hx(`10000000 0000000000000000 4003 0000 0220 0016 00000007 4003 0000 0220 000a 00000008 0001 0a100a00 0000`);
  t.same((decode(asSource) as MapRequest).sourceEid, {
    afi: 'lcaf-iid', iid: 7, maskLen: 32, flags: 0,
    address: { afi: 'lcaf-iid', iid: 8, maskLen: 32, flags: 0, address: { afi: 'ipv4', ip: '10.16.10.0' } },
  });
});

t.test('authentication field', async (t) => {
  rejects(t, patch(MREG, 14, 0x00, 0x20), 14, /authentication data length 32 does not match algorithm 1 \(needs 12 or 20\)/);
  rejects(t, patch(MREG, 13, 0x02), 14, /authentication data length 20 does not match algorithm 2 \(needs 16 or 32\)/);
  rejects(t, patch(MREG, 13, 0x00), 14, /authentication data length 20 does not match algorithm 0 \(needs 0\)/);
  rejects(t, patch(MREG, 12, 0x00, 0x07), 12, /unknown authentication algorithm 7 \(key field 0x0007\)/);
  // RFC 9301 reading: high byte = key ID.
  const keyed = decode(patch(MREG, 12, 0x05)) as MapRegister;
  t.match(keyed.auth, { keyId: 5, algId: 1 });
  // verifyMessage works on raw bytes and checks the same things.
  t.ok(verifyMessage(MREG, 'lisp-interop-key'));
  t.notOk(verifyMessage(patch(MREG, 63, 5), 'lisp-interop-key'), 'a changed RLOC breaks the HMAC');
  t.throws(() => verifyMessage(MREP, 'k'), LispCodecError, 'Map-Reply has no auth');
  t.throws(() => verifyMessage(MREG.subarray(0, 20), 'k'), LispCodecError, 'truncated auth');
  t.throws(() => verifyMessage(patch(MREG, 14, 0, 32), 'k'), LispCodecError, 'auth length mismatch');
  const none = encode({ ...(decode(MREG) as MapRegister), auth: { keyId: 0, algId: 0, authData: new Uint8Array(0) } });
  t.equal(verifyMessage(none, 'k'), false, 'algorithm 0 never verifies');
  t.throws(() => signMessage(decode(none) as MapRegister, 'k'), LispCodecError, 'cannot sign with algorithm 0');
  const sha256 = signMessage({ ...(decode(MREG) as MapRegister), auth: { keyId: 0, algId: 2, authData: new Uint8Array(32) } }, 'k');
  t.equal(sha256.readUInt16BE(14), 32);
  t.ok(verifyMessage(sha256, 'k'), 'HMAC-SHA-256 signs and verifies');
  t.ok(verifyMessage(sha256, Buffer.from('k')), 'secret as bytes');
});

t.test('ECM inner headers', async (t) => {
  rejects(t, patch(ECM, 4, 0x55), 4, /inner IP version 5 is neither 4 nor 6/);
  rejects(t, patch(ECM, 4, 0x44), 4, /inner IPv4 header length 16 is below 20/);
  rejects(t, patch(ECM, 13, 6), 13, /inner IP protocol 6 is not UDP/);
  rejects(t, patch(ECM, 10, 0x20), 10, /inner IPv4 packet is a fragment/);
  rejects(t, patch(ECM, 11, 0x01), 10, /inner IPv4 packet is a fragment/);
  rejects(t, patch(ECM, 6, 0x00, 0x50), 6, /inner IPv4 total length 80 does not fit/);
  rejects(t, patch(ECM, 6, 0x00, 0x10), 6, /inner IPv4 total length 16 does not fit/);
  rejects(t, patch(ECM, 28, 0x00, 0x20), 28, /inner UDP length 32 does not match the IP payload length 40/);
  // The inner Map-Request cannot read past the UDP datagram even when the outer buffer goes on.
  const longer = Buffer.concat([patch(ECM, 6, 0x00, 0x38, ...[]), Buffer.alloc(0)]);
  const shrunk = patch(patch(longer, 6, 0x00, 0x38), 28, 0x00, 0x24);
  rejects(t, shrunk, 60, /truncated: IPv4 address needs 4 bytes, 0 left inside the inner UDP datagram/);
  // Bad checksums decode but are reported; encode writes correct ones again.
  const badIp = decode(patch(ECM, 14, 0x00, 0x00)) as EncapsulatedControl;
  t.equal(badIp.inner.badIpChecksum, true);
  t.notOk(badIp.inner.badUdpChecksum);
  t.ok(encode(badIp).equals(ECM), 'encode repairs the IPv4 header checksum');
  const badUdp = decode(patch(ECM, 30, 0x12, 0x34)) as EncapsulatedControl;
  t.equal(badUdp.inner.badUdpChecksum, true);
  t.ok(encode(badUdp).equals(ECM), 'encode repairs the UDP checksum');
  const zeroUdp = decode(patch(ECM, 30, 0, 0)) as EncapsulatedControl;
  t.equal(zeroUdp.inner.udpChecksumZero, true);
  t.notOk(zeroUdp.inner.badUdpChecksum, 'UDP checksum 0 is legal over IPv4');
  t.ok(encode(zeroUdp).equals(patch(ECM, 30, 0, 0)), 'and is kept');
  // IPv6 inner header: checksum 0 is not legal there.
  const v6: EncapsulatedControl = {
    ...(decode(ECM) as EncapsulatedControl),
    inner: { version: 6, source: '2001:db8::1', destination: '2001:db8::2', sourcePort: 4342, destinationPort: 4342, ttl: 64, tos: 0xb8, flowLabel: 0x12345 },
  };
  const v6bytes = encode(v6);
  t.same(decode(v6bytes), v6);
  const v6zero = decode(patch(v6bytes, 4 + 40 + 6, 0, 0)) as EncapsulatedControl;
  t.equal(v6zero.inner.badUdpChecksum, true);
  rejects(t, patch(v6bytes, 4 + 6, 6), 10, /inner IPv6 next header 6 is not UDP/);
  rejects(t, patch(v6bytes, 4 + 4, 0x01, 0x00), 8, /inner IPv6 payload length 256 does not fit UDP/);
  rejects(t, v6bytes.subarray(0, 30), 4, /truncated: inner IPv6 header needs 40 bytes/);
});

t.test('trailing bytes are ignored and reported by decodeWithLength', async (t) => {
  const withTail = Buffer.concat([MREP, hx('deadbeef')]);
  t.same(decode(withTail), decode(MREP));
  t.equal(decodeWithLength(withTail).length, MREP.length);
  t.equal(decodeWithLength(ECM).length, ECM.length);
});

t.test('encode rejects invalid messages with LispCodecError', async (t) => {
  const req = decode(SMR) as MapRequest;
  encodeRejects(t, { ...req, itrRlocs: [] }, /needs 1\.\.32 ITR-RLOCs, not 0/);
  encodeRejects(t, { ...req, itrRlocs: Array(33).fill({ afi: 'none' }) }, /not 33/);
  encodeRejects(t, { ...req, mapDataPresent: true }, /M bit/);
  encodeRejects(t, { ...req, nonce: -1n }, /nonce -1 is not a 64-bit unsigned bigint/);
  encodeRejects(t, { ...req, nonce: 1n << 64n }, /nonce/);
  encodeRejects(t, { ...req, sourceEid: { afi: 'ipv4', ip: '10.0.0.256' } }, /invalid IPv4 address/);
  encodeRejects(t, { ...req, sourceEid: { afi: 'ipv6', ip: 'x::' } }, /invalid IPv6 address/);
  encodeRejects(t, { ...req, sourceEid: { afi: 'mac', mac: '00:11' } }, /invalid MAC address/);
  encodeRejects(t, { ...req, records: [{ iid: 0, address: { afi: 'ipv4', ip: '10.0.0.0' }, length: 33 }] }, /mask-len 33 exceeds the 32 bits/);
  encodeRejects(t, { ...req, records: [{ iid: 0, address: { afi: 'mac', mac: '00:11:22:33:44:55' }, length: 49 }] }, /exceeds the 48 bits of mac/);
  encodeRejects(t, { ...req, records: [{ iid: -1, address: { afi: 'ipv4', ip: '10.0.0.0' }, length: 8 }] }, /instance ID -1/);
  encodeRejects(t, { ...req, siteId: new Uint8Array(8) }, /siteId given without xtrId/);
  encodeRejects(t, { ...req, xtrId: new Uint8Array(15), siteId: new Uint8Array(8) }, /xTR-ID must be 16 bytes/);
  const reg = decode(MREG) as MapRegister;
  encodeRejects(t, { ...reg, auth: { ...reg.auth, authData: new Uint8Array(32) } }, /authentication data length 32 does not match algorithm 1/);
  encodeRejects(t, { ...reg, auth: { ...reg.auth, algId: 9 } }, /unknown authentication algorithm 9/);
  encodeRejects(t, { ...reg, xtrIdPresent: true }, /xTR-ID must be 16 bytes/);
  encodeRejects(t, { ...reg, xtrId: new Uint8Array(16) }, /without the I bit/);
  encodeRejects(t, { ...reg, records: [{ ...reg.records[0]!, ttl: 2 ** 32 }] }, /record TTL 4294967296/);
  encodeRejects(t, { ...reg, records: [{ ...reg.records[0]!, action: 8 }] }, /record action 8/);
  encodeRejects(t, { ...reg, records: [{ ...reg.records[0]!, mapVersion: 4096 }] }, /map-version 4096/);
  encodeRejects(t, { ...reg, records: [{ ...reg.records[0]!, locators: [{ ...reg.records[0]!.locators[0]!, weight: 256 }] }] }, /locator weight 256/);
  encodeRejects(t, { ...reg, records: Array(256).fill(reg.records[0]) }, /256 records do not fit/);
  encodeRejects(t, { ...req, sourceEid: { afi: 'lcaf', lcafType: 2, rsvd1: 0, flags: 0, rsvd2: 0, payload: new Uint8Array(0) } }, /opaque LCAF cannot have type 2/);
  const ecm = decode(ECM) as EncapsulatedControl;
  encodeRejects(t, { ...ecm, message: ecm }, /an ECM cannot carry another ECM/);
  encodeRejects(t, { ...ecm, inner: { ...ecm.inner, ipFlags: 1 } }, /cannot set MF/);
  encodeRejects(t, { ...ecm, inner: { ...ecm.inner, ipOptions: new Uint8Array(3) } }, /options of 3 bytes/);
  encodeRejects(t, { ...ecm, inner: { ...ecm.inner, source: '::1' } }, /invalid inner IPv4 source/);
  encodeRejects(t, { ...ecm, inner: { ...ecm.inner, version: 6, ipFlags: 2, source: '::1', destination: '::2' } }, /IPv6 inner header has no identification/);
  encodeRejects(t, { ...ecm, inner: { ...ecm.inner, ttl: 256 } }, /inner TTL 256/);
});

// Corpus: every control message of the OOR vectors plus a sample of generated messages.
function corpus(): Uint8Array[] {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors', 'oor');
  const out: Uint8Array[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.pcap'))) {
    for (const frame of readCapture(readFileSync(join(dir, f)))) {
      if (frame.udp && (frame.udp.sourcePort === 4342 || frame.udp.destinationPort === 4342)) out.push(frame.udp.payload);
    }
  }
  for (const m of fc.sample(arbLispMessage, { numRuns: 100, seed: 42 })) out.push(encode(m));
  return out;
}

t.test('mutation fuzz: only LispCodecError escapes, nothing hangs', async (t) => {
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 20000);
  const stats = fuzzDecode(corpus(), iterations, Number(process.env.FUZZ_SEED ?? 1));
  t.equal(stats.decoded + stats.rejected, iterations);
  t.ok(stats.rejected > iterations / 10, `${stats.rejected} rejected`);
  t.ok(stats.decoded > 0, `${stats.decoded} decoded`);
  t.ok(stats.slowestMs < 1000, `slowest decode ${stats.slowestMs.toFixed(2)} ms`);
  t.comment(`reasons: ${[...stats.reasons].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join('; ')}`);
});

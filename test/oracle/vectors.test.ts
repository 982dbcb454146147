// The bits tshark 4.0 cannot show (Map-Request N, I, L, D; Map-Register E, T, merge; ECM S, D,
// E, M), checked against hand-written vectors (test/vectors/interop.ts: RFC 9437 / RFC 9301
// figures and lispers.net's encoder) rather than against livmap's own layout: livmap decodes
// each vector to the bits the cited text defines, and re-encodes it to the same bytes. tshark
// reads the same frames for what it can see (its reserved-bit fields are compared with values
// taken from the vector bytes by the figure's bit positions, not from livmap).
import t from 'tap';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { EncapsulatedControl, MapRegister, MapRequest } from '../../mapserver/codec/types.js';
import { writePcap } from '../../mapserver/pcap/write.js';
import { assertNoMalformed, field, nodes, tsharkDecode, tsharkSkip } from '../helpers/tshark.js';
import { ECM_VECTORS, REGISTER_VECTORS, REQUEST_VECTORS, hex } from '../vectors/interop.js';

/** A Map-Register around a vector's first 4 bytes: nonce, no authentication, one record (RFC 9301 §5.6). */
function registerBytes(header: string): Buffer {
  return hex(`${header}  0102030405060708  0000 0000  0000000a 00 20 10 00 0000 0001 0a103232`);
}

/** RFC 1071 checksum of an IPv4 header (written here, not livmap's). */
function ipv4Checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An ECM (RFC 9301 §5.8) with first byte `first` around the L/D Map-Request vector: IPv4 + UDP 4342, UDP checksum 0. */
function ecmBytes(first: number): Buffer {
  const inner = REQUEST_VECTORS.find((v) => v.name === 'L and D bits')!.bytes;
  const udpLength = 8 + inner.length;
  const ip = hex(`45 00 ${(20 + udpLength).toString(16).padStart(4, '0')} 0000 0000 40 11 0000 0a630006 0a103232`);
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  const udp = hex(`10f6 10f6 ${udpLength.toString(16).padStart(4, '0')} 0000`);
  return Buffer.concat([Buffer.from([first, 0, 0, 0]), ip, udp, inner]);
}

t.test('Map-Request vectors: livmap reads N, I, L, D and the xTR-ID where the RFC / lispers.net put them', async (t) => {
  for (const v of REQUEST_VECTORS) {
    const m = decode(v.bytes) as MapRequest;
    t.equal(m.type, 'map-request', v.name);
    t.equal(m.notifyRequested, v.expect.n, `${v.name}: N (${v.source})`);
    t.equal(m.xtrId !== undefined && m.siteId !== undefined, v.expect.i, `${v.name}: I`);
    t.equal(m.localXtr, v.expect.l, `${v.name}: L`);
    t.equal(m.dontMapReply, v.expect.d, `${v.name}: D`);
    t.equal(m.xtrId ? Buffer.from(m.xtrId).toString('hex') : undefined, v.expect.xtrId, `${v.name}: xTR-ID`);
    t.equal(m.siteId ? Buffer.from(m.siteId).toString('hex') : undefined, v.expect.siteId, `${v.name}: site-ID`);
    const nonce = Buffer.alloc(8);
    nonce.writeBigUInt64BE(m.nonce);
    t.equal(nonce.toString('hex'), v.expect.nonceBytes, `${v.name}: nonce bytes kept as sent`);
    // Re-encoded byte for byte, except the reserved R bit, which livmap writes as 0.
    const expected = Buffer.from(v.bytes);
    expected[1] = expected[1]! & ~0x20;
    t.equal(encode(m).toString('hex'), expected.toString('hex'), `${v.name}: re-encoded to the vector (R cleared)`);
  }
});

t.test('Map-Register vectors: E, T, merge, M at RFC 9301 §5.6 positions', async (t) => {
  for (const v of REGISTER_VECTORS) {
    const bytes = registerBytes(v.header);
    const m = decode(bytes) as MapRegister;
    t.same([m.eidNotify === true, m.ttlTimeout === true, m.merge, m.wantMapNotify], [v.expect.e, v.expect.t, v.expect.merge, v.expect.m], `${v.name} (${v.source})`);
    t.equal(encode(m).toString('hex'), bytes.toString('hex'), `${v.name}: re-encoded to the vector`);
  }
});

t.test('ECM vectors: S, D, E, M at RFC 9301 §5.8 positions', async (t) => {
  for (const v of ECM_VECTORS) {
    const m = decode(ecmBytes(v.first)) as EncapsulatedControl;
    t.same([m.security, m.ddt, m.toEtr === true, m.toMs === true], [v.expect.s, v.expect.d, v.expect.e, v.expect.m], `ECM ${v.name}`);
    t.equal(encode(m)[0], v.first, `ECM ${v.name}: re-encoded first byte`);
  }
});

const skip = tsharkSkip();
if (skip) t.comment(skip);

t.test('tshark reads the vectors as the figures define them', { skip }, async (t) => {
  const payloads = [...REQUEST_VECTORS.map((v) => v.bytes), ...REGISTER_VECTORS.map((v) => registerBytes(v.header)), ...ECM_VECTORS.map((v) => ecmBytes(v.first))];
  const pcap = writePcap(payloads.map((payload, i) => ({
    timestampMicros: 1_700_000_000_000_000 + i * 1000, source: '10.99.0.6', destination: '10.99.0.2', sourcePort: 4342, destinationPort: 4342, payload,
  })));
  const frames = await tsharkDecode(pcap);
  t.equal(frames.length, payloads.length);
  t.doesNotThrow(() => assertNoMalformed(frames), 'nothing malformed');
  REQUEST_VECTORS.forEach((v, i) => {
    const layer = frames[i]!.lisp[0];
    // tshark 4.0's lisp.mreq.res: the 9 bits after s: R 0x100, I 0x080, (5 reserved), L 0x002, D 0x001.
    const fromBytes = (((v.bytes[1]! & 0x3f) << 3) | (v.bytes[2]! >> 5)) & 0x1ff;
    t.equal(Number(field(layer, 'lisp.mreq.res')), fromBytes, `${v.name}: tshark's reserved field is the vector's bits`);
    t.equal((fromBytes & 0x80) !== 0, v.expect.i, `${v.name}: I as tshark reads it`);
    t.equal(((fromBytes & 0x2) !== 0), v.expect.l, `${v.name}: L as tshark reads it`);
    t.equal(((fromBytes & 0x1) !== 0), v.expect.d, `${v.name}: D as tshark reads it`);
    t.equal(field(layer, 'lisp.nonce'), `0x${v.expect.nonceBytes}`, `${v.name}: tshark's nonce = the bytes`);
    t.equal(nodes(layer, 'lisp.mreq.record').length, 1, `${v.name}: one record`);
  });
  REGISTER_VECTORS.forEach((v, j) => {
    const layer = frames[REQUEST_VECTORS.length + j]!.lisp[0];
    const res = Number(field(layer, 'lisp.mreg.res'));
    // tshark 4.0 shows E 0x08, T 0x04, merge 0x02 in lisp.mreg.res; M as lisp.mreg.flags.wmn.
    t.same([(res & 0x8) !== 0, (res & 0x4) !== 0, (res & 0x2) !== 0], [v.expect.e, v.expect.t, v.expect.merge], `Map-Register ${v.name}: tshark's reserved field`);
    t.equal(field(layer, 'lisp.mreg.flags.wmn') === '1' || field(layer, 'lisp.mreg.flags.wmn') === 'True', v.expect.m, `Map-Register ${v.name}: M`);
  });
  ECM_VECTORS.forEach((v, j) => {
    const layer = frames[REQUEST_VECTORS.length + REGISTER_VECTORS.length + j]!.lisp[0];
    const flag = (name: string): boolean => field(layer, name) === '1' || field(layer, name) === 'True';
    t.same([flag('lisp.ecm.flags.sec'), flag('lisp.ecm.flags.ddt')], [v.expect.s, v.expect.d], `ECM ${v.name}: S, D`);
  });
});

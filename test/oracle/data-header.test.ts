// LISP data header (UDP 4341): round trips, inner packet summaries, and tshark's lisp-data
// dissector as an independent reading of randomized headers.
import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import {
  DataHeaderError,
  decodeDataHeader,
  decodeDataPacket,
  encodeDataHeader,
  summarizeInnerPacket,
  type LispDataHeader,
} from '../../mapserver/codec/data-header.js';
import { internetChecksum, writePcap } from '../../mapserver/pcap/write.js';
import { ipUdp } from '../helpers/pcap.js';
import { assertNoMalformed, field, nodes, tsharkDecode, tsharkSkip } from '../helpers/tshark.js';
import { parseIp } from '../../mapserver/codec/ip.js';

/** Valid headers: fields only where their flag says so (decode zeroes the others). */
const arbHeader: fc.Arbitrary<LispDataHeader> = fc
  .record({
    mode: fc.constantFrom('nonce', 'version', 'none'),
    lsbEnabled: fc.boolean(),
    echoNonceRequest: fc.boolean(),
    instanceIdPresent: fc.boolean(),
    reservedBit: fc.boolean(),
    keyId: fc.integer({ min: 0, max: 3 }),
    nonce: fc.integer({ min: 0, max: 0xffffff }),
    sourceMapVersion: fc.integer({ min: 0, max: 0xfff }),
    destMapVersion: fc.integer({ min: 0, max: 0xfff }),
    instanceId: fc.integer({ min: 0, max: 0xffffff }),
    lsb32: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((r) => ({
    noncePresent: r.mode === 'nonce',
    lsbEnabled: r.lsbEnabled,
    echoNonceRequest: r.echoNonceRequest,
    mapVersionPresent: r.mode === 'version',
    instanceIdPresent: r.instanceIdPresent,
    reservedBit: r.reservedBit,
    keyId: r.keyId,
    nonce: r.mode === 'nonce' ? r.nonce : 0,
    sourceMapVersion: r.mode === 'version' ? r.sourceMapVersion : 0,
    destMapVersion: r.mode === 'version' ? r.destMapVersion : 0,
    instanceId: r.instanceIdPresent ? r.instanceId : 0,
    locatorStatusBits: r.lsbEnabled ? (r.instanceIdPresent ? r.lsb32 & 0xff : r.lsb32) : 0,
  }));

t.test('encode/decode round trip and malformed headers', async (t) => {
  fc.assert(fc.property(arbHeader, (h) => isDeepStrictEqual(decodeDataHeader(encodeDataHeader(h)), h)), { seed: 4341, numRuns: 500 });
  t.pass('500 random headers round-trip');
  // Any 8 bytes decode or fail with DataHeaderError (only N+V together is invalid).
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), (bytes) => {
      try {
        decodeDataHeader(bytes);
        return (bytes[0]! & 0x90) !== 0x90;
      } catch (error) {
        return error instanceof DataHeaderError && (bytes[0]! & 0x90) === 0x90;
      }
    }),
    { seed: 1, numRuns: 500 },
  );
  t.throws(() => decodeDataHeader(new Uint8Array(7)), { name: 'DataHeaderError', offset: 7, reason: /truncated \(7 of 8 bytes\)/ });
  t.throws(() => decodeDataHeader(Buffer.from('9000000000000000', 'hex')), { name: 'DataHeaderError', offset: 0, reason: 'N and V bits are both set' });
  const base = decodeDataHeader(new Uint8Array(8));
  t.throws(() => encodeDataHeader({ ...base, instanceIdPresent: true, instanceId: 0x1000000 }), DataHeaderError);
  t.throws(() => encodeDataHeader({ ...base, noncePresent: true, mapVersionPresent: true }), DataHeaderError);
  t.throws(() => encodeDataHeader({ ...base, lsbEnabled: true, instanceIdPresent: true, locatorStatusBits: 256 }), DataHeaderError);
  // RFC 9300 §5.3 example layout: I=1, L=1 puts the IID in the top 24 bits and 8 LSBs below.
  t.equal(encodeDataHeader({ ...base, instanceIdPresent: true, instanceId: 7, lsbEnabled: true, locatorStatusBits: 3 }).toString('hex'), '4800000000000703');
});

function icmpEcho(source: string, destination: string, ttl: number, type: number): Buffer {
  const icmp = Buffer.from('0000000012340005' + '61'.repeat(16), 'hex');
  icmp[0] = type;
  icmp.writeUInt16BE(internetChecksum([icmp]), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip[8] = ttl;
  ip[9] = 1;
  ip.set(parseIp(source)!.bytes, 12);
  ip.set(parseIp(destination)!.bytes, 16);
  ip.writeUInt16BE(internetChecksum([ip]), 10);
  return Buffer.concat([ip, icmp]);
}

t.test('inner packet summaries', async (t) => {
  t.same(summarizeInnerPacket(icmpEcho('10.16.10.10', '192.168.20.10', 63, 8)), {
    version: 4, source: '10.16.10.10', destination: '192.168.20.10', protocol: 1, ttl: 63, length: 44, icmp: { type: 8, code: 0, id: 0x1234, sequence: 5 },
  });
  const udp6 = ipUdp({ source: '2001:db8::1', destination: '2001:db8::2', sourcePort: 53, destinationPort: 5353, payload: new Uint8Array(4), ttl: 9, ipv6Extensions: [0, 60] });
  t.match(summarizeInnerPacket(udp6), { version: 6, source: '2001:db8::1', protocol: 17, ttl: 9, ports: { source: 53, destination: 5353 } });
  t.equal(summarizeInnerPacket(new Uint8Array([0x45, 0])), null, 'truncated IPv4');
  t.equal(summarizeInnerPacket(new Uint8Array(0)), null, 'empty');
  t.equal(summarizeInnerPacket(new Uint8Array(40).fill(0x10)), null, 'not IP');
  t.equal(decodeDataPacket(Buffer.concat([Buffer.alloc(8), Buffer.from('ff', 'hex')])).inner, null);
});

const skip = tsharkSkip();

t.test('tshark reads randomized data headers the same way', { skip }, async (t) => {
  const headers = fc.sample(arbHeader, { seed: 9300, numRuns: 300 });
  const inner = headers.map((_, i) => icmpEcho(`10.16.${i % 256}.10`, '192.168.20.10', (i * 7) % 256, i % 2 ? 0 : 8));
  const frames = await tsharkDecode(
    writePcap(headers.map((h, i) => ({ timestampMicros: i, source: '10.99.0.3', destination: '10.99.0.4', sourcePort: 4341, destinationPort: 4341, payload: Buffer.concat([encodeDataHeader(h), inner[i]!]) }))),
  );
  t.doesNotThrow(() => assertNoMalformed(frames));
  const mismatches: string[] = [];
  let fields = 0;
  const eq = (i: number, name: string, actual: string | number | undefined, expected: number): void => {
    fields++;
    if (actual === undefined || Number(actual) !== expected) mismatches.push(`frame ${i + 1} ${name}: tshark ${String(actual)} != livmap ${expected}`);
  };
  headers.forEach((h, i) => {
    const layer = frames[i]?.lispData;
    const flags = nodes(layer, 'lisp-data.flags_tree')[0];
    eq(i, 'N', field(flags, 'lisp-data.flags.nonce'), Number(h.noncePresent));
    eq(i, 'L', field(flags, 'lisp-data.flags.lsb'), Number(h.lsbEnabled));
    eq(i, 'E', field(flags, 'lisp-data.flags.enr'), Number(h.echoNonceRequest));
    eq(i, 'V', field(flags, 'lisp-data.flags.mv'), Number(h.mapVersionPresent));
    eq(i, 'I', field(flags, 'lisp-data.flags.iid'), Number(h.instanceIdPresent));
    // tshark's reserved field is the R bit and the two KK bits.
    eq(i, 'R/KK', field(flags, 'lisp-data.flags.res'), (h.reservedBit ? 4 : 0) | h.keyId);
    if (h.noncePresent) eq(i, 'nonce', field(layer, 'lisp-data.nonce'), h.nonce);
    if (h.mapVersionPresent) {
      const versions = nodes(layer, 'lisp-data.mapver_tree')[0];
      eq(i, 'source map-version', field(versions, 'lisp-data.srcmapver'), h.sourceMapVersion);
      eq(i, 'dest map-version', field(versions, 'lisp-data.dstmapver'), h.destMapVersion);
    }
    if (h.instanceIdPresent) eq(i, 'IID', field(layer, 'lisp-data.iid'), h.instanceId);
    if (h.lsbEnabled) eq(i, 'LSBs', field(layer, h.instanceIdPresent ? 'lisp-data.lsb8' : 'lisp-data.lsb'), h.locatorStatusBits);
    // The inner packet as tshark and livmap's summary see it.
    const summary = decodeDataPacket(Buffer.concat([encodeDataHeader(h), inner[i]!])).inner!;
    const ip = frames[i]?.ip[1];
    fields += 3;
    if (field(ip, 'ip.src') !== summary.source || field(ip, 'ip.dst') !== summary.destination || Number(field(ip, 'ip.ttl')) !== summary.ttl) {
      mismatches.push(`frame ${i + 1}: inner IP differs`);
    }
  });
  t.same(mismatches.slice(0, 20), []);
  t.ok(fields > 2500, `${fields} data-header fields of ${headers.length} packets compared with tshark`);
});

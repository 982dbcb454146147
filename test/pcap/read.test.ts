import t from 'tap';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { CaptureError, LINKTYPE, readCapture, type CaptureFrame } from '../../mapserver/pcap/read.js';
import { writePcap } from '../../mapserver/pcap/write.js';
import { classicPcap, ethernet, ipUdp, loopback, pcapng, sll, sll2, type UdpSpec } from '../helpers/pcap.js';

const VECTORS = new URL('../vectors/oor/', import.meta.url);
// Frame counts from test/vectors/oor/README.md.
const EXPECTED_FRAMES: Record<string, number> = {
  '01-register-notify': 4,
  '02-resolve-ping': 10,
  '03-negative-map-reply': 6,
  '04-smr-rloc-change': 106,
  '05-mobility-ttl-expiry': 22,
  '06-mobility-smr-assisted': 17,
  '07-iid-lcaf': 12,
};

/** Frames as plain JSON-comparable values (payloads as hex). */
function plain(frames: readonly CaptureFrame[]): unknown[] {
  return frames.map(({ linkType: _linkType, ...frame }) => ({
    ...frame,
    ...(frame.udp ? { udp: { ...frame.udp, payload: Buffer.from(frame.udp.payload).toString('hex') } } : {}),
  }));
}

t.test('OOR vectors: classic pcap and pcapng copies read to the same frames', async (t) => {
  const names = readdirSync(VECTORS).filter((name) => name.endsWith('.pcap')).map((name) => name.slice(0, -5));
  t.same(names.sort(), Object.keys(EXPECTED_FRAMES).sort(), 'every vector is listed');
  let total = 0;
  for (const name of names) {
    const classic = readCapture(readFileSync(new URL(`${name}.pcap`, VECTORS)));
    const ng = readCapture(readFileSync(new URL(`pcapng/${name}.pcapng`, VECTORS)));
    t.equal(classic.length, EXPECTED_FRAMES[name], `${name}: frame count`);
    t.same(plain(ng), plain(classic), `${name}: pcapng frames (ns timestamps truncated to µs) equal the pcap frames`);
    classic.forEach((frame, i) => {
      if (frame.index !== i + 1 || frame.linkType !== LINKTYPE.ethernet || frame.ip?.version !== 4 || !frame.udp) {
        t.fail(`${name} frame ${i + 1}: not an Ethernet/IPv4/UDP frame with a 1-based index`, { frame });
      }
      const ports = [frame.udp?.sourcePort, frame.udp?.destinationPort];
      if (!ports.includes(4342) && !ports.includes(4341)) t.fail(`${name} frame ${i + 1}: not LISP ports`, { ports });
      if (!frame.ip?.source.startsWith('10.99.0.')) t.fail(`${name} frame ${i + 1}: outer source is not an underlay RLOC`);
      if (i > 0 && frame.timestampMicros < classic[i - 1]!.timestampMicros) t.fail(`${name} frame ${i + 1}: time goes backwards`);
    });
    total += classic.length;
  }
  t.equal(total, 177, 'all 177 frames read from each format');
  const first = readCapture(readFileSync(new URL('01-register-notify.pcap', VECTORS)))[0]!;
  t.match(first, {
    index: 1,
    ip: { version: 4, source: '10.99.0.4', destination: '10.99.0.2', ttl: 255, protocol: 17 },
    udp: { sourcePort: 4342, destinationPort: 4342 },
  });
  t.equal(Buffer.from(first.udp!.payload.subarray(4, 12)).toString('hex'), 'ffd90d6f762919dc', 'Map-Register nonce from the README');
  const ping = readCapture(readFileSync(new URL('02-resolve-ping.pcap', VECTORS)))[2]!;
  t.match(ping, { ip: { source: '10.99.0.3', destination: '10.99.0.4', ttl: 63 }, udp: { sourcePort: 4341, destinationPort: 4341 } });
});

const SPECS: UdpSpec[] = [
  { source: '10.99.0.3', destination: '10.99.0.2', sourcePort: 4342, destinationPort: 4342, payload: Buffer.from('1000000100', 'hex'), ttl: 255 },
  { source: '2001:db8::1', destination: 'fd00::2', sourcePort: 61000, destinationPort: 4342, payload: Buffer.from('80000000deadbeef', 'hex'), ttl: 17 },
  { source: '10.1.2.3', destination: '10.1.2.4', sourcePort: 4341, destinationPort: 4341, payload: new Uint8Array(0) },
];

function expectedFrame(spec: UdpSpec, index: number, micros: number, linkType: number): Record<string, unknown> {
  return {
    index,
    timestampMicros: micros,
    linkType,
    ip: { version: spec.source.includes(':') ? 6 : 4, source: spec.source, destination: spec.destination, ttl: spec.ttl ?? 64, protocol: 17 },
    udp: { sourcePort: spec.sourcePort, destinationPort: spec.destinationPort, payload: Buffer.from(spec.payload).toString('hex') },
  };
}

const LINKS: Array<[string, number, (ip: Uint8Array) => Uint8Array]> = [
  ['Ethernet', LINKTYPE.ethernet, (ip) => ethernet(ip)],
  ['Ethernet 802.1Q', LINKTYPE.ethernet, (ip) => ethernet(ip, [100])],
  ['Ethernet QinQ', LINKTYPE.ethernet, (ip) => ethernet(ip, [200, 100])],
  ['Ethernet padded to 60 bytes', LINKTYPE.ethernet, (ip) => ethernet(ip, [], 60)],
  ['raw IP', LINKTYPE.raw, (ip) => ip],
  ['Linux SLL', LINKTYPE.linuxSll, sll],
  ['Linux SLL2', LINKTYPE.linuxSll2, sll2],
  ['null (little-endian host)', LINKTYPE.null, (ip) => loopback(ip, 'le')],
  ['null (big-endian host)', LINKTYPE.null, (ip) => loopback(ip, 'be')],
  ['OpenBSD loop', LINKTYPE.loop, (ip) => loopback(ip, 'be')],
];

t.test('every link type, byte order and timestamp resolution', async (t) => {
  const micros = [1_795_541_256_627_847, 1_795_541_256_628_084, 1_000_001];
  for (const [name, linkType, wrap] of LINKS) {
    const packets = SPECS.map((spec, i) => ({ micros: micros[i]!, data: wrap(ipUdp(spec)) }));
    const expected = SPECS.map((spec, i) => expectedFrame(spec, i + 1, micros[i]!, linkType));
    for (const le of [true, false]) {
      for (const nanos of [false, true]) {
        const frames = readCapture(classicPcap({ le, nanos, linkType, packets }));
        t.same(plainWithLink(frames), expected, `${name}: classic pcap ${le ? 'LE' : 'BE'} ${nanos ? 'ns' : 'µs'}`);
      }
      // Microseconds, nanoseconds, and a binary resolution of 2^-20 (rounded down to whole µs).
      for (const tsresol of [undefined, 9, 0x94]) {
        const frames = readCapture(pcapng([{ le, interfaces: [{ linkType, ...(tsresol === undefined ? {} : { tsresol }) }], packets }]));
        const want = tsresol === 0x94 ? expected.map((e) => ({ ...e, timestampMicros: Number })) : expected;
        t.match(plainWithLink(frames), want, `${name}: pcapng ${le ? 'LE' : 'BE'} tsresol ${tsresol ?? 'default'}`);
        if (tsresol === 0x94) {
          frames.forEach((f, i) => t.ok(Math.abs(f.timestampMicros - micros[i]!) <= 1, 'binary resolution within 1 µs'));
        }
      }
    }
  }
});

function plainWithLink(frames: readonly CaptureFrame[]): unknown[] {
  return frames.map((frame) => ({
    ...frame,
    ...(frame.udp ? { udp: { ...frame.udp, payload: Buffer.from(frame.udp.payload).toString('hex') } } : {}),
  }));
}

t.test('pcapng: several sections in different byte orders, interfaces, offsets, SPB, other blocks', async (t) => {
  const a = ipUdp(SPECS[0]!);
  const b = ipUdp(SPECS[1]!);
  const file = pcapng([
    {
      le: true,
      interfaces: [{ linkType: LINKTYPE.ethernet }, { linkType: LINKTYPE.linuxSll2, tsresol: 9, tsoffset: 1000 }],
      extraBlocks: [{ type: 4, body: Buffer.from('0000000000000000', 'hex') }], // empty name resolution block
      packets: [
        { micros: 5_000_000, data: ethernet(a) },
        { micros: 1_700_000_000_000_001, data: sll2(b), iface: 1 },
      ],
    },
    {
      le: false,
      interfaces: [{ linkType: LINKTYPE.raw }],
      packets: [
        { micros: 0, data: b, simple: true },
        { micros: 7_000_001, data: a },
      ],
    },
  ]);
  const frames = readCapture(file);
  t.same(plainWithLink(frames), [
    expectedFrame(SPECS[0]!, 1, 5_000_000, LINKTYPE.ethernet),
    expectedFrame(SPECS[1]!, 2, 1_700_000_000_000_001, LINKTYPE.linuxSll2),
    expectedFrame(SPECS[1]!, 3, 0, LINKTYPE.raw),
    expectedFrame(SPECS[0]!, 4, 7_000_001, LINKTYPE.raw),
  ]);
});

t.test('IPv4 options, IPv6 extension headers and fragments', async (t) => {
  const base = SPECS[0]!;
  const v6 = SPECS[1]!;
  const packets = [
    ipUdp({ ...base, ipv4Options: Buffer.from('94040000', 'hex') }), // router alert
    ipUdp({ ...v6, ipv6Extensions: [0, 60, 43] }),
    ipUdp({ ...v6, ipv6Extensions: [0, 44] }), // first fragment
    ipUdp({ ...base, fragment: { offset: 0, more: true } }),
    ipUdp({ ...base, fragment: { offset: 1480, more: false } }),
  ];
  const frames = readCapture(classicPcap({ le: true, nanos: false, linkType: LINKTYPE.raw, packets: packets.map((data) => ({ micros: 1, data })) }));
  t.match(frames[0], { ip: { source: base.source, protocol: 17 }, udp: { sourcePort: 4342 } }, 'IPv4 with options');
  t.equal(Buffer.from(frames[0]!.udp!.payload).toString('hex'), '1000000100');
  t.match(frames[1], { ip: { version: 6, source: v6.source, protocol: 17 }, udp: { sourcePort: 61000 } }, 'IPv6 hop-by-hop + dest opts + routing');
  t.equal(Buffer.from(frames[1]!.udp!.payload).toString('hex'), '80000000deadbeef');
  t.match(frames[2], { ip: { fragment: { offset: 0, more: true } }, udp: { destinationPort: 4342 } }, 'IPv6 first fragment keeps its UDP header');
  t.match(frames[3], { ip: { fragment: { offset: 0, more: true } }, udp: { destinationPort: 4342 } }, 'IPv4 first fragment');
  t.match(frames[4], { ip: { fragment: { offset: 1480, more: false } } }, 'IPv4 later fragment is noted');
  t.equal(frames[4]!.udp, undefined, 'and carries no UDP header');
});

t.test('frames that are not IP/UDP are kept with a note', async (t) => {
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  const tcp = ipUdp(SPECS[0]!);
  tcp[9] = 6;
  const frames = readCapture(
    pcapng([
      { le: true, interfaces: [{ linkType: LINKTYPE.ethernet }, { linkType: 147 }], packets: [{ micros: 1, data: arp }, { micros: 2, data: ethernet(tcp) }, { micros: 3, data: Buffer.from('abcd', 'hex'), iface: 1 }, { micros: 4, data: Buffer.alloc(10) }] },
    ]),
  );
  t.equal(frames.length, 4);
  t.match(frames[0], { note: /ethertype 0x0806/ });
  t.match(frames[1], { ip: { protocol: 6 } });
  t.equal(frames[1]!.udp, undefined);
  t.match(frames[2], { note: /link type 147/ });
  t.match(frames[3], { note: /Ethernet header truncated/ });
});

t.test('writePcap output reads back (IPv4 and IPv6, random datagrams)', async (t) => {
  const arbIp = fc.oneof(fc.ipV4(), fc.ipV6());
  const arbDatagram = arbIp.chain((source) =>
    fc.record({
      timestampMicros: fc.integer({ min: 0, max: 2 ** 32 * 1e6 - 1 }),
      source: fc.constant(source),
      destination: source.includes(':') ? fc.ipV6() : fc.ipV4(),
      sourcePort: fc.integer({ min: 0, max: 0xffff }),
      destinationPort: fc.integer({ min: 0, max: 0xffff }),
      payload: fc.uint8Array({ maxLength: 300 }),
      ttl: fc.integer({ min: 0, max: 255 }),
    }),
  );
  let count = 0;
  fc.assert(
    fc.property(fc.array(arbDatagram, { maxLength: 8 }), (datagrams) => {
      const frames = readCapture(writePcap(datagrams));
      count += frames.length;
      if (frames.length !== datagrams.length) return false;
      return datagrams.every((d, i) => {
        const f = frames[i]!;
        const parsedSource = d.source.includes(':') ? f.ip?.version === 6 : f.ip?.version === 4;
        return (
          parsedSource &&
          f.index === i + 1 &&
          f.timestampMicros === d.timestampMicros &&
          f.ip?.ttl === d.ttl &&
          f.udp?.sourcePort === d.sourcePort &&
          f.udp.destinationPort === d.destinationPort &&
          Buffer.from(f.udp.payload).equals(Buffer.from(d.payload))
        );
      });
    }),
    { seed: 4342, numRuns: 200 },
  );
  t.ok(count > 300, `${count} written frames read back`);
  // Canonical text: the reader formats addresses the same way as the codec.
  const [v6] = readCapture(writePcap([{ timestampMicros: 0, source: '2001:DB8:0:0:0:0:0:1', destination: '::ffff:10.0.0.1', sourcePort: 1, destinationPort: 2, payload: new Uint8Array(1) }]));
  t.match(v6, { ip: { source: '2001:db8::1', destination: '::ffff:a00:1' } });
  t.throws(() => writePcap([{ timestampMicros: 0, source: '10.0.0.1', destination: '::1', sourcePort: 1, destinationPort: 2, payload: new Uint8Array(0) }]), TypeError);
  t.throws(() => writePcap([{ timestampMicros: 0, source: '10.0.0.1', destination: '10.0.0.2', sourcePort: 1, destinationPort: 2, payload: new Uint8Array(70000) }]), RangeError);
});

/** [type, offset] of every block of a little-endian pcapng. */
function blockOffsets(bytes: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let offset = 0; offset < bytes.length; offset += bytes.readUInt32LE(offset + 4)) out.push([bytes.readUInt32LE(offset), offset]);
  return out;
}

function captureErrorOf(fn: () => unknown): CaptureError | null {
  try {
    fn();
    return null;
  } catch (error) {
    if (error instanceof CaptureError) return error;
    throw error;
  }
}

t.test('truncated and garbage captures fail with CaptureError', async (t) => {
  const classic = readFileSync(new URL('02-resolve-ping.pcap', VECTORS));
  const ng = readFileSync(new URL('pcapng/02-resolve-ping.pcapng', VECTORS));
  // Record/block boundaries: cutting there leaves a shorter but valid capture.
  const boundaries = (bytes: Buffer, ng: boolean): Set<number> => {
    const set = new Set<number>([ng ? 0 : 24]);
    let offset = ng ? 0 : 24;
    while (offset < bytes.length) {
      offset += ng ? bytes.readUInt32LE(offset + 4) : 16 + bytes.readUInt32LE(offset + 8);
      set.add(offset);
    }
    return set;
  };
  for (const [name, bytes, isNg] of [['pcap', classic, false], ['pcapng', ng, true]] as const) {
    const ok = boundaries(bytes, isNg);
    let errors = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      const error = captureErrorOf(() => readCapture(bytes.subarray(0, cut)));
      if (ok.has(cut) && cut > 0) {
        if (error) t.fail(`${name} cut at block boundary ${cut} should read`, { error: error.message });
      } else if (!error) {
        t.fail(`${name} cut at ${cut} should fail`);
      } else {
        errors++;
        if (!/^(capture header|frame \d+): /.test(error.message)) t.fail(`${name} cut at ${cut}: message ${error.message}`);
      }
    }
    t.ok(errors > bytes.length - 40, `${name}: ${errors} truncations rejected with CaptureError`);
  }
  const last = captureErrorOf(() => readCapture(classic.subarray(0, classic.length - 1)));
  t.equal(last?.frame, 10, 'a cut in the last record blames frame 10');
  t.match(last?.reason, /truncated/);
  // tshark ends the pcapng with an interface statistics block: a cut there is blamed on the last frame.
  const lastNg = captureErrorOf(() => readCapture(ng.subarray(0, ng.length - 1)));
  t.match(lastNg, { frame: 10, reason: /block type 5 .*truncated|truncated.*block type 5/ });
  const blocks = blockOffsets(ng);
  const lastEpb = blocks.filter(([type]) => type === 6).at(-1)![1];
  t.match(captureErrorOf(() => readCapture(ng.subarray(0, lastEpb + 20))), { frame: 10, reason: /truncated/ }, 'a cut in the last packet block blames frame 10');

  t.match(captureErrorOf(() => readCapture(new Uint8Array(0))), { frame: 0, message: /too short/ });
  t.match(captureErrorOf(() => readCapture(Buffer.from('GIF89a............................'))), { frame: 0, message: /not a pcap or pcapng/ });
  const badVersion = Buffer.from(classic);
  badVersion.writeUInt16LE(3, 4);
  t.match(captureErrorOf(() => readCapture(badVersion)), { frame: 0, reason: /version 3/ });
  const hugeRecord = Buffer.from(classic);
  hugeRecord.writeUInt32LE(0xffffffff, 24 + 8);
  t.match(captureErrorOf(() => readCapture(hugeRecord)), { frame: 1, reason: /truncated/ });
  const badOrder = Buffer.from(ng);
  badOrder.writeUInt32LE(0x11223344, 8);
  t.match(captureErrorOf(() => readCapture(badOrder)), { frame: 0, reason: /byte-order magic/ });
  const badTrailer = Buffer.from(ng);
  const shbLength = ng.readUInt32LE(4);
  badTrailer.writeUInt32LE(shbLength + 4, shbLength - 4);
  t.match(captureErrorOf(() => readCapture(badTrailer)), { reason: /trailing block length/ });
  const oddLength = Buffer.from(ng);
  oddLength.writeUInt32LE(shbLength + 1, 4);
  t.match(captureErrorOf(() => readCapture(oddLength)), { reason: /bad block length/ });
  const noShb = pcapng([{ le: true, interfaces: [{ linkType: 1 }], packets: [] }]).subarray(28 + 20); // drop the SHB
  t.match(captureErrorOf(() => readCapture(Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), noShb]))), { frame: 0 });
  const noIdb = pcapng([{ le: true, interfaces: [{ linkType: 1 }], packets: [{ micros: 1, data: new Uint8Array(4), iface: 0 }] }]);
  const undeclared = Buffer.from(noIdb);
  // Point the EPB at interface 5.
  const epbAt = blockOffsets(noIdb).find(([type]) => type === 6)![1];
  undeclared.writeUInt32LE(5, epbAt + 8);
  t.match(captureErrorOf(() => readCapture(undeclared)), { frame: 1, reason: /undeclared interface 5/ });
  const overrun = Buffer.from(noIdb);
  overrun.writeUInt32LE(1000, epbAt + 20); // captured length
  t.match(captureErrorOf(() => readCapture(overrun)), { frame: 1, reason: /overruns its block/ });
});

t.test('random corruption never escapes as anything but CaptureError', async (t) => {
  const inputs = [readFileSync(new URL('07-iid-lcaf.pcap', VECTORS)), readFileSync(new URL('pcapng/07-iid-lcaf.pcapng', VECTORS))];
  let runs = 0;
  fc.assert(
    fc.property(fc.constantFrom(...inputs), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (input, flips) => {
      const bytes = Buffer.from(input);
      for (const [where, value] of flips) bytes[where % bytes.length] = value;
      runs++;
      captureErrorOf(() => readCapture(bytes));
    }),
    { seed: 7, numRuns: 1500 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => void captureErrorOf(() => readCapture(garbage))), { seed: 8, numRuns: 500 });
  t.equal(runs, 1500, 'corrupted captures were read or rejected with CaptureError only');
});

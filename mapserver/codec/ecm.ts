// Encapsulated Control Message (type 8), RFC 9301 §5.8:
//   Type=8 |S|D|E|M| Reserved(24), then an inner IPv4 or IPv6 header, a UDP header and the inner
//   LISP control message. Decode keeps every header field needed to re-encode a peer's ECM
//   byte-identical (IPv4 id/TOS/flags/options, IPv6 traffic class/flow label) and reports bad
//   checksums instead of rejecting them. Encode always writes correct checksums: the IPv4 header
//   checksum, and the UDP checksum over both families (OOR computes it for IPv4 too, e.g.
//   0x0255 in 02-resolve-ping frame 1), unless `udpChecksumZero` asks for 0 over IPv4.
import { writeU16 } from './address.js';
import { fail } from './errors.js';
import { formatIpv4, formatIpv6, parseIpv4Into, parseIpv6Into } from './ip.js';
import type { Reader } from './reader.js';
import type { EncapsulatedControl, InnerHeader, LispMessage, Mutable } from './types.js';

const UDP = 17;

/** One's-complement sum of 16-bit big-endian words in [start, end), added to `acc` (unfolded). */
function sum16(b: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (i < end) acc += b[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** Pseudo-header sum; the addresses are already in `b` at the IP header offsets. */
function pseudoSum(b: Uint8Array, ipAt: number, version: 4 | 6, udpLength: number): number {
  return version === 4
    ? sum16(b, ipAt + 12, ipAt + 20, UDP + udpLength)
    : sum16(b, ipAt + 8, ipAt + 40, UDP + udpLength);
}

export function decodeEcm(r: Reader, decodeInner: (r: Reader) => LispMessage): EncapsulatedControl {
  const at = r.pos;
  r.need(5, 'ECM header and inner IP version');
  const b = r.buf;
  const b0 = b[at]!;
  const ipAt = at + 4;
  const version = b[ipAt]! >> 4;
  const inner: Mutable<InnerHeader> = { version: 4, source: '', destination: '', sourcePort: 0, destinationPort: 0, ttl: 0 };
  let udpAt: number;
  let udpEnd: number;
  let ipChecksumOk = true;
  r.pos = ipAt;
  if (version === 4) {
    r.need(20, 'inner IPv4 header');
    const headerLength = (b[ipAt]! & 0x0f) * 4;
    if (headerLength < 20) fail(ipAt, `inner IPv4 header length ${headerLength} is below 20`);
    r.need(headerLength, 'inner IPv4 header with options');
    const totalLength = (b[ipAt + 2]! << 8) | b[ipAt + 3]!;
    const flagsFragment = (b[ipAt + 6]! << 8) | b[ipAt + 7]!;
    const protocol = b[ipAt + 9]!;
    if (protocol !== UDP) fail(ipAt + 9, `inner IP protocol ${protocol} is not UDP`);
    if ((flagsFragment & 0x3fff) !== 0) fail(ipAt + 6, 'inner IPv4 packet is a fragment');
    if (totalLength < headerLength + 8 || totalLength > r.end - ipAt) {
      fail(ipAt + 2, `inner IPv4 total length ${totalLength} does not fit ${headerLength}-byte header + UDP in ${r.end - ipAt} bytes`);
    }
    ipChecksumOk = fold(sum16(b, ipAt, ipAt + headerLength, 0)) === 0xffff;
    inner.source = formatIpv4(b, ipAt + 12);
    inner.destination = formatIpv4(b, ipAt + 16);
    inner.ttl = b[ipAt + 8]!;
    const tos = b[ipAt + 1]!;
    const ipId = (b[ipAt + 4]! << 8) | b[ipAt + 5]!;
    const ipFlags = flagsFragment >> 13;
    if (tos) inner.tos = tos;
    if (ipId) inner.ipId = ipId;
    if (ipFlags) inner.ipFlags = ipFlags;
    if (headerLength > 20) {
      r.pos = ipAt + 20;
      inner.ipOptions = r.bytes(headerLength - 20, 'inner IPv4 options');
    }
    udpAt = ipAt + headerLength;
    udpEnd = ipAt + totalLength;
  } else if (version === 6) {
    r.need(40, 'inner IPv6 header');
    const payloadLength = (b[ipAt + 4]! << 8) | b[ipAt + 5]!;
    const next = b[ipAt + 6]!;
    if (next !== UDP) fail(ipAt + 6, `inner IPv6 next header ${next} is not UDP`);
    if (payloadLength < 8 || payloadLength > r.end - ipAt - 40) {
      fail(ipAt + 4, `inner IPv6 payload length ${payloadLength} does not fit UDP in ${r.end - ipAt - 40} bytes`);
    }
    inner.version = 6;
    inner.source = formatIpv6(b, ipAt + 8);
    inner.destination = formatIpv6(b, ipAt + 24);
    inner.ttl = b[ipAt + 7]!;
    const tos = ((b[ipAt]! & 0x0f) << 4) | (b[ipAt + 1]! >> 4);
    const flowLabel = ((b[ipAt + 1]! & 0x0f) << 16) | (b[ipAt + 2]! << 8) | b[ipAt + 3]!;
    if (tos) inner.tos = tos;
    if (flowLabel) inner.flowLabel = flowLabel;
    udpAt = ipAt + 40;
    udpEnd = udpAt + payloadLength;
  } else {
    return fail(ipAt, `inner IP version ${version} is neither 4 nor 6`);
  }
  // The IP length checks above guarantee the 8 UDP header bytes are there.
  inner.sourcePort = (b[udpAt]! << 8) | b[udpAt + 1]!;
  inner.destinationPort = (b[udpAt + 2]! << 8) | b[udpAt + 3]!;
  const udpLength = (b[udpAt + 4]! << 8) | b[udpAt + 5]!;
  const udpChecksum = (b[udpAt + 6]! << 8) | b[udpAt + 7]!;
  if (udpLength !== udpEnd - udpAt) fail(udpAt + 4, `inner UDP length ${udpLength} does not match the IP payload length ${udpEnd - udpAt}`);
  if (udpChecksum === 0 && version === 4) {
    inner.udpChecksumZero = true;
  } else if (udpChecksum === 0 || fold(sum16(b, udpAt, udpEnd, pseudoSum(b, ipAt, version, udpLength))) !== 0xffff) {
    inner.badUdpChecksum = true;
  }
  if (!ipChecksumOk) inner.badIpChecksum = true;

  const savedEnd = r.end;
  const savedBound = r.bound;
  r.pos = udpAt + 8;
  r.end = udpEnd;
  r.bound = 'inner UDP datagram';
  const message = decodeInner(r);
  r.end = savedEnd;
  r.bound = savedBound;
  r.pos = udpEnd;
  const out: EncapsulatedControl = {
    type: 'ecm',
    security: (b0 & 0x08) !== 0,
    ddt: (b0 & 0x04) !== 0,
    inner,
    message,
  };
  if (b0 & 0x02) (out as { toEtr?: boolean }).toEtr = true;
  if (b0 & 0x01) (out as { toMs?: boolean }).toMs = true;
  return out;
}

/** Bytes of the ECM word plus inner IP and UDP headers (everything but the inner message). */
export function ecmHeaderLength(m: EncapsulatedControl): number {
  return 4 + (m.inner.version === 6 ? 40 : 20 + (m.inner.ipOptions?.length ?? 0)) + 8;
}

function checkRange(v: number | undefined, max: number, o: number, field: string): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > max) fail(o, `inner ${field} ${String(v)} is not an integer in 0..${max}`);
  return v;
}

export function encodeEcm(
  m: EncapsulatedControl,
  buf: Buffer,
  o: number,
  encodeInner: (msg: LispMessage, buf: Buffer, o: number) => number,
): number {
  const h = m.inner;
  if (m.message.type === 'ecm') fail(o, 'an ECM cannot carry another ECM');
  buf[o] = 0x80 | (m.security ? 0x08 : 0) | (m.ddt ? 0x04 : 0) | (m.toEtr ? 0x02 : 0) | (m.toMs ? 0x01 : 0);
  buf[o + 1] = 0;
  buf[o + 2] = 0;
  buf[o + 3] = 0;
  const ipAt = o + 4;
  const ttl = checkRange(h.ttl, 255, ipAt, 'TTL');
  const tos = checkRange(h.tos, 255, ipAt, 'TOS / traffic class');
  let udpAt: number;
  if (h.version === 4) {
    const options = h.ipOptions ?? EMPTY;
    if (options.length % 4 !== 0 || options.length > 40) fail(ipAt, `inner IPv4 options of ${options.length} bytes are not a multiple of 4 up to 40`);
    if (h.flowLabel) fail(ipAt, 'an IPv4 inner header has no flow label');
    const ipId = checkRange(h.ipId, 0xffff, ipAt + 4, 'IPv4 identification');
    const ipFlags = checkRange(h.ipFlags, 7, ipAt + 6, 'IPv4 flags');
    if (ipFlags & 1) fail(ipAt + 6, 'inner IPv4 header cannot set MF (fragments are not supported)');
    const headerLength = 20 + options.length;
    buf[ipAt] = 0x40 | (headerLength >> 2);
    buf[ipAt + 1] = tos;
    // total length is written after the inner message is known
    writeU16(buf, ipAt + 4, ipId);
    buf[ipAt + 6] = ipFlags << 5;
    buf[ipAt + 7] = 0;
    buf[ipAt + 8] = ttl;
    buf[ipAt + 9] = UDP;
    buf[ipAt + 10] = 0;
    buf[ipAt + 11] = 0;
    if (!parseIpv4Into(h.source, buf, ipAt + 12)) fail(ipAt + 12, `invalid inner IPv4 source ${JSON.stringify(h.source)}`);
    if (!parseIpv4Into(h.destination, buf, ipAt + 16)) fail(ipAt + 16, `invalid inner IPv4 destination ${JSON.stringify(h.destination)}`);
    buf.set(options, ipAt + 20);
    udpAt = ipAt + headerLength;
  } else if (h.version === 6) {
    const flow = checkRange(h.flowLabel, 0xfffff, ipAt + 1, 'IPv6 flow label');
    if (h.ipId || h.ipFlags || (h.ipOptions && h.ipOptions.length) || h.udpChecksumZero) {
      fail(ipAt, 'an IPv6 inner header has no identification, flags or options, and needs a UDP checksum');
    }
    buf[ipAt] = 0x60 | (tos >> 4);
    buf[ipAt + 1] = ((tos & 0x0f) << 4) | (flow >> 16);
    buf[ipAt + 2] = (flow >> 8) & 0xff;
    buf[ipAt + 3] = flow & 0xff;
    buf[ipAt + 6] = UDP;
    buf[ipAt + 7] = ttl;
    if (!parseIpv6Into(h.source, buf, ipAt + 8)) fail(ipAt + 8, `invalid inner IPv6 source ${JSON.stringify(h.source)}`);
    if (!parseIpv6Into(h.destination, buf, ipAt + 24)) fail(ipAt + 24, `invalid inner IPv6 destination ${JSON.stringify(h.destination)}`);
    udpAt = ipAt + 40;
  } else {
    return fail(ipAt, `inner IP version ${String(h.version)} is neither 4 nor 6`);
  }
  writeU16(buf, udpAt, checkRange(h.sourcePort, 0xffff, udpAt, 'UDP source port'));
  writeU16(buf, udpAt + 2, checkRange(h.destinationPort, 0xffff, udpAt + 2, 'UDP destination port'));
  buf[udpAt + 6] = 0;
  buf[udpAt + 7] = 0;
  const end = encodeInner(m.message, buf, udpAt + 8);
  const udpLength = end - udpAt;
  const ipLength = end - ipAt;
  if (ipLength > 0xffff) fail(ipAt, `inner packet of ${ipLength} bytes does not fit the 16-bit IP length`);
  writeU16(buf, udpAt + 4, udpLength);
  if (h.version === 4) {
    writeU16(buf, ipAt + 2, ipLength);
    writeU16(buf, ipAt + 10, ~fold(sum16(buf, ipAt, udpAt, 0)) & 0xffff);
  } else {
    writeU16(buf, ipAt + 4, udpLength);
  }
  if (!(h.version === 4 && h.udpChecksumZero)) {
    const sum = ~fold(sum16(buf, udpAt, end, pseudoSum(buf, ipAt, h.version, udpLength))) & 0xffff;
    // A computed 0 is sent as 0xffff: 0 means "no checksum" (RFC 768).
    writeU16(buf, udpAt + 6, sum === 0 ? 0xffff : sum);
  }
  return end;
}

const EMPTY = new Uint8Array(0);

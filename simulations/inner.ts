// The packets the emulated xTRs carry inside the LISP data header: real IPv4 + UDP bytes
// (20-byte IPv4 header without options, correct header checksum, DF set, UDP checksum 0 as
// IPv4 allows). Real bytes rather than a private format, so `livmap decode`/tshark read the
// simulated data plane and the netns variant can hand the same bytes to a TUN device.
import { formatIpv4, parseIpv4Into } from '../mapserver/codec/ip.js';

export const IPV4_HEADER_LENGTH = 20;
export const UDP_HEADER_LENGTH = 8;

export interface InnerUdpPacket {
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly ttl: number;
  readonly payload: Uint8Array;
}

function ipv4Checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

let nextId = 1;

/** IPv4 + UDP bytes; throws on a non-IPv4 address (the simulation's EIDs are IPv4). */
export function buildUdpPacket(p: Omit<InnerUdpPacket, 'ttl'> & { readonly ttl?: number }): Buffer {
  const total = IPV4_HEADER_LENGTH + UDP_HEADER_LENGTH + p.payload.length;
  if (total > 0xffff) throw new RangeError(`inner packet of ${total} bytes is too long`);
  const b = Buffer.alloc(total);
  b[0] = 0x45;
  b.writeUInt16BE(total, 2);
  b.writeUInt16BE(nextId, 4);
  nextId = (nextId + 1) & 0xffff;
  b[6] = 0x40; // DF
  b[8] = p.ttl ?? 64;
  b[9] = 17;
  if (!parseIpv4Into(p.source, b, 12)) throw new RangeError(`'${p.source}' is not an IPv4 address`);
  if (!parseIpv4Into(p.destination, b, 16)) throw new RangeError(`'${p.destination}' is not an IPv4 address`);
  b.writeUInt16BE(ipv4Checksum(b, 0, IPV4_HEADER_LENGTH), 10);
  b.writeUInt16BE(p.sourcePort, 20);
  b.writeUInt16BE(p.destinationPort, 22);
  b.writeUInt16BE(UDP_HEADER_LENGTH + p.payload.length, 24);
  b.set(p.payload, IPV4_HEADER_LENGTH + UDP_HEADER_LENGTH);
  return b;
}

/** IPv4 destination of a packet without parsing the rest; undefined when it is not IPv4. */
export function ipv4Destination(packet: Uint8Array): string | undefined {
  if (packet.length < IPV4_HEADER_LENGTH || packet[0]! >> 4 !== 4) return undefined;
  return formatIpv4(packet, 16);
}

export function ipv4Source(packet: Uint8Array): string | undefined {
  if (packet.length < IPV4_HEADER_LENGTH || packet[0]! >> 4 !== 4) return undefined;
  return formatIpv4(packet, 12);
}

/** The UDP packet inside IPv4 bytes, or undefined when the bytes are not IPv4/UDP. */
export function parseUdpPacket(packet: Uint8Array): InnerUdpPacket | undefined {
  if (packet.length < IPV4_HEADER_LENGTH + UDP_HEADER_LENGTH || packet[0]! >> 4 !== 4 || packet[9] !== 17) return undefined;
  const ihl = (packet[0]! & 0x0f) * 4;
  const total = (packet[2]! << 8) | packet[3]!;
  if (ihl < IPV4_HEADER_LENGTH || total > packet.length || total < ihl + UDP_HEADER_LENGTH) return undefined;
  const u = ihl;
  const udpLength = (packet[u + 4]! << 8) | packet[u + 5]!;
  if (udpLength < UDP_HEADER_LENGTH || u + udpLength > total) return undefined;
  return {
    source: formatIpv4(packet, 12),
    destination: formatIpv4(packet, 16),
    sourcePort: (packet[u]! << 8) | packet[u + 1]!,
    destinationPort: (packet[u + 2]! << 8) | packet[u + 3]!,
    ttl: packet[8]!,
    payload: packet.subarray(u + UDP_HEADER_LENGTH, u + udpLength),
  };
}

// Writes UDP datagrams as a classic pcap (Ethernet + IPv4/IPv6 + UDP) so tests can hand
// whatever livmap sends to tshark. Checksums are real: tshark flags bad ones when asked to.
import { parseIp } from '../codec/ip.js';

export interface PcapDatagram {
  readonly timestampMicros: number;
  /** IPv4 or IPv6 text; source and destination must be of the same family. */
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
  /** IPv4 TTL / IPv6 hop limit; 64 when absent. */
  readonly ttl?: number;
}

const ETHERNET = 14;
const SOURCE_MAC = [0x02, 0, 0, 0, 0, 0x01];
const DESTINATION_MAC = [0x02, 0, 0, 0, 0, 0x02];

/** A classic pcap (little-endian, microsecond timestamps, link type Ethernet) of the datagrams. */
export function writePcap(frames: readonly PcapDatagram[]): Buffer {
  const packets = frames.map((frame, i) => ethernetFrame(frame, i));
  const total = 24 + packets.reduce((sum, packet) => sum + 16 + packet.length, 0);
  const out = Buffer.alloc(total);
  out.writeUInt32LE(0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(262144, 16); // snap length
  out.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  let offset = 24;
  packets.forEach((packet, i) => {
    const micros = frames[i]!.timestampMicros;
    if (!Number.isInteger(micros) || micros < 0) throw new RangeError(`frame ${i + 1}: timestamp ${micros} is not a non-negative integer`);
    out.writeUInt32LE(Math.floor(micros / 1e6), offset);
    out.writeUInt32LE(micros % 1e6, offset + 4);
    out.writeUInt32LE(packet.length, offset + 8);
    out.writeUInt32LE(packet.length, offset + 12);
    out.set(packet, offset + 16);
    offset += 16 + packet.length;
  });
  return out;
}

function ethernetFrame(frame: PcapDatagram, i: number): Buffer {
  const source = parseIp(frame.source);
  const destination = parseIp(frame.destination);
  if (!source || !destination) throw new TypeError(`frame ${i + 1}: '${frame.source}' -> '${frame.destination}' is not a pair of IP addresses`);
  if (source.family !== destination.family) throw new TypeError(`frame ${i + 1}: source and destination are of different families`);
  for (const port of [frame.sourcePort, frame.destinationPort]) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`frame ${i + 1}: bad UDP port ${port}`);
  }
  const v6 = source.family === 'ipv6';
  const ipHeader = v6 ? 40 : 20;
  const udpLength = 8 + frame.payload.length;
  if (udpLength + (v6 ? 0 : ipHeader) > 0xffff) throw new RangeError(`frame ${i + 1}: payload of ${frame.payload.length} bytes is too large for one datagram`);
  const out = Buffer.alloc(ETHERNET + ipHeader + udpLength);
  out.set(DESTINATION_MAC, 0);
  out.set(SOURCE_MAC, 6);
  out.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  const ip = ETHERNET;
  const ttl = frame.ttl ?? 64;
  if (v6) {
    out.writeUInt32BE(0x60000000, ip);
    out.writeUInt16BE(udpLength, ip + 4);
    out[ip + 6] = 17;
    out[ip + 7] = ttl;
    out.set(source.bytes, ip + 8);
    out.set(destination.bytes, ip + 24);
  } else {
    out[ip] = 0x45;
    out.writeUInt16BE(ipHeader + udpLength, ip + 2);
    out.writeUInt16BE((i + 1) & 0xffff, ip + 4); // identification
    out.writeUInt16BE(0x4000, ip + 6); // DF
    out[ip + 8] = ttl;
    out[ip + 9] = 17;
    out.set(source.bytes, ip + 12);
    out.set(destination.bytes, ip + 16);
    out.writeUInt16BE(internetChecksum([out.subarray(ip, ip + 20)]), ip + 10);
  }
  const udp = ip + ipHeader;
  out.writeUInt16BE(frame.sourcePort, udp);
  out.writeUInt16BE(frame.destinationPort, udp + 2);
  out.writeUInt16BE(udpLength, udp + 4);
  out.set(frame.payload, udp + 8);
  // Pseudo-header: addresses, protocol and UDP length (RFC 768 / RFC 8200 §8.1).
  const pseudo = Buffer.alloc(v6 ? 8 : 4);
  if (v6) {
    pseudo.writeUInt32BE(udpLength, 0);
    pseudo[7] = 17;
  } else {
    pseudo[1] = 17;
    pseudo.writeUInt16BE(udpLength, 2);
  }
  const sum = internetChecksum([source.bytes, destination.bytes, pseudo, out.subarray(udp, udp + udpLength)]);
  // A computed 0 is sent as all ones: 0 means "no checksum" for IPv4 UDP.
  out.writeUInt16BE(sum === 0 ? 0xffff : sum, udp + 6);
  return out;
}

/** RFC 1071 one's-complement sum over the concatenation of `parts`. */
export function internetChecksum(parts: readonly Uint8Array[]): number {
  let sum = 0;
  let odd = -1; // a byte left over from the previous part
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      if (odd < 0) odd = part[i]!;
      else {
        sum += (odd << 8) | part[i]!;
        odd = -1;
      }
    }
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (odd >= 0) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

// Builders for synthetic captures, so the reader is tested on formats and link types the
// OOR vectors do not use (big-endian, nanosecond, pcapng sections, SLL, VLAN, IPv6 ...).
import { internetChecksum, type PcapDatagram } from '../../mapserver/pcap/write.js';
import { parseIp } from '../../mapserver/codec/ip.js';

export interface SyntheticPacket {
  /** Timestamp in microseconds since the epoch. */
  readonly micros: number;
  readonly data: Uint8Array;
}

function u16(value: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(value);
  else b.writeUInt16BE(value);
  return b;
}
function u32(value: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

/** Classic pcap in either byte order, with micro- or nanosecond timestamps. */
export function classicPcap(opts: { le: boolean; nanos: boolean; linkType: number; packets: readonly SyntheticPacket[] }): Buffer {
  const { le } = opts;
  const parts: Buffer[] = [
    u32(opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le),
    u16(2, le),
    u16(4, le),
    u32(0, le),
    u32(0, le),
    u32(65535, le),
    u32(opts.linkType, le),
  ];
  for (const packet of opts.packets) {
    const seconds = Math.floor(packet.micros / 1e6);
    const micros = packet.micros % 1e6;
    parts.push(u32(seconds, le), u32(opts.nanos ? micros * 1000 + 999 : micros, le), u32(packet.data.length, le), u32(packet.data.length, le), Buffer.from(packet.data));
  }
  return Buffer.concat(parts);
}

export interface NgInterface {
  readonly linkType: number;
  /** if_tsresol byte; absent = default microseconds. */
  readonly tsresol?: number;
  /** if_tsoffset in seconds. */
  readonly tsoffset?: number;
  readonly snapLength?: number;
}

export interface NgPacket extends SyntheticPacket {
  readonly iface?: number;
  /** Write a Simple Packet Block (no timestamp, interface 0). */
  readonly simple?: boolean;
}

export interface NgSection {
  readonly le: boolean;
  readonly interfaces: readonly NgInterface[];
  readonly packets: readonly NgPacket[];
  /** Extra non-packet blocks (type, body) written before the packets, e.g. name resolution. */
  readonly extraBlocks?: ReadonlyArray<{ type: number; body: Uint8Array }>;
}

function pad4(b: Uint8Array): Buffer {
  const padded = Buffer.alloc((b.length + 3) & ~3);
  padded.set(b);
  return padded;
}

function block(type: number, body: Uint8Array, le: boolean): Buffer {
  const padded = pad4(body);
  const length = 12 + padded.length;
  return Buffer.concat([u32(type, le), u32(length, le), padded, u32(length, le)]);
}

function option(code: number, value: Uint8Array, le: boolean): Buffer {
  return Buffer.concat([u16(code, le), u16(value.length, le), pad4(value)]);
}

/** Ticks per second for an if_tsresol byte. */
function unitsPerSecond(tsresol: number | undefined): bigint {
  if (tsresol === undefined) return 1_000_000n;
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

/** pcapng with any number of sections, each in its own byte order. */
export function pcapng(sections: readonly NgSection[]): Buffer {
  const blocks: Buffer[] = [];
  for (const section of sections) {
    const { le } = section;
    const shbBody = Buffer.concat([u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), Buffer.from('ffffffffffffffff', 'hex'), option(4, Buffer.from('livmap-test'), le), u32(0, le)]);
    blocks.push(block(0x0a0d0d0a, shbBody, le));
    for (const iface of section.interfaces) {
      const options: Buffer[] = [option(2, Buffer.from('eth0'), le)];
      if (iface.tsresol !== undefined) options.push(option(9, Buffer.from([iface.tsresol]), le));
      if (iface.tsoffset !== undefined) {
        const v = Buffer.alloc(8);
        if (le) v.writeBigInt64LE(BigInt(iface.tsoffset));
        else v.writeBigInt64BE(BigInt(iface.tsoffset));
        options.push(option(14, v, le));
      }
      options.push(u32(0, le));
      blocks.push(block(1, Buffer.concat([u16(iface.linkType, le), u16(0, le), u32(iface.snapLength ?? 0, le), ...options]), le));
    }
    for (const extra of section.extraBlocks ?? []) blocks.push(block(extra.type, extra.body, le));
    for (const packet of section.packets) {
      if (packet.simple) {
        blocks.push(block(3, Buffer.concat([u32(packet.data.length, le), Buffer.from(packet.data)]), le));
        continue;
      }
      const iface = section.interfaces[packet.iface ?? 0]!;
      const seconds = BigInt(Math.floor(packet.micros / 1e6)) - BigInt(iface.tsoffset ?? 0);
      const ticks = seconds * unitsPerSecond(iface.tsresol) + (BigInt(packet.micros % 1e6) * unitsPerSecond(iface.tsresol)) / 1_000_000n;
      blocks.push(
        block(
          6,
          Buffer.concat([
            u32(packet.iface ?? 0, le),
            u32(Number(ticks >> 32n), le),
            u32(Number(ticks & 0xffffffffn), le),
            u32(packet.data.length, le),
            u32(packet.data.length, le),
            pad4(packet.data),
            option(1, Buffer.from('comment'), le),
            u32(0, le),
          ]),
          le,
        ),
      );
    }
  }
  return Buffer.concat(blocks);
}

/** A datagram as `writePcap` takes it (less the timestamp), plus the oddities the reader must handle. */
export interface UdpSpec extends Omit<PcapDatagram, 'timestampMicros'> {
  /** IPv4 option bytes (a multiple of 4). */
  readonly ipv4Options?: Uint8Array;
  /** IPv6 extension headers to insert, by next-header number (0, 43, 60, 44 first fragment). */
  readonly ipv6Extensions?: readonly number[];
  /** Make an IPv4 fragment: byte offset and more-fragments flag. */
  readonly fragment?: { offset: number; more: boolean };
}

/** An IPv4 or IPv6 packet carrying one UDP datagram (checksum left 0, which is legal for IPv4). */
export function ipUdp(spec: UdpSpec): Buffer {
  const source = parseIp(spec.source)!;
  const destination = parseIp(spec.destination)!;
  const udp = Buffer.alloc(8 + spec.payload.length);
  udp.writeUInt16BE(spec.sourcePort, 0);
  udp.writeUInt16BE(spec.destinationPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.set(spec.payload, 8);
  if (source.family === 'ipv4') {
    const options = spec.ipv4Options ?? new Uint8Array(0);
    const header = Buffer.alloc(20 + options.length);
    header[0] = 0x40 | (header.length / 4);
    const body = spec.fragment && spec.fragment.offset !== 0 ? udp.subarray(8) : udp;
    header.writeUInt16BE(header.length + body.length, 2);
    header.writeUInt16BE(spec.fragment ? (spec.fragment.offset / 8) | (spec.fragment.more ? 0x2000 : 0) : 0x4000, 6);
    header[8] = spec.ttl ?? 64;
    header[9] = 17;
    header.set(source.bytes, 12);
    header.set(destination.bytes, 16);
    header.set(options, 20);
    header.writeUInt16BE(internetChecksum([header]), 10);
    return Buffer.concat([header, body]);
  }
  const extensions: Buffer[] = [];
  const kinds = spec.ipv6Extensions ?? [];
  kinds.forEach((kind, i) => {
    const next = i + 1 < kinds.length ? kinds[i + 1]! : 17;
    if (kind === 44) {
      const frag = Buffer.alloc(8);
      frag[0] = next;
      frag.writeUInt16BE(0x0001, 2); // offset 0, more fragments
      frag.writeUInt32BE(0x12345678, 4);
      extensions.push(frag);
    } else {
      const ext = Buffer.alloc(16); // (1 + 1) * 8 bytes with PadN
      ext[0] = next;
      ext[1] = 1;
      ext[2] = 1;
      ext[3] = 12;
      extensions.push(ext);
    }
  });
  const rest = Buffer.concat([...extensions, udp]);
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x60000000, 0);
  header.writeUInt16BE(rest.length, 4);
  header[6] = kinds.length > 0 ? kinds[0]! : 17;
  header[7] = spec.ttl ?? 64;
  header.set(source.bytes, 8);
  header.set(destination.bytes, 24);
  return Buffer.concat([header, rest]);
}

const ethertypeOf = (ip: Uint8Array): number => (ip[0]! >> 4 === 6 ? 0x86dd : 0x0800);

/** Ethernet II frame, optionally with stacked VLAN tags (802.1ad outer, 802.1Q inner). */
export function ethernet(ip: Uint8Array, vlans: readonly number[] = [], padTo = 0): Buffer {
  const header = Buffer.alloc(12 + vlans.length * 4 + 2);
  header.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  vlans.forEach((vid, i) => {
    header.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, 12 + i * 4);
    header.writeUInt16BE(vid, 14 + i * 4);
  });
  header.writeUInt16BE(ethertypeOf(ip), 12 + vlans.length * 4);
  const frame = Buffer.concat([header, ip]);
  return frame.length >= padTo ? frame : Buffer.concat([frame, Buffer.alloc(padTo - frame.length)]);
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL). */
export function sll(ip: Uint8Array): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0, 0); // to us
  header.writeUInt16BE(1, 2); // ARPHRD_ETHER
  header.writeUInt16BE(6, 4);
  header.set([2, 0, 0, 0, 0, 1], 6);
  header.writeUInt16BE(ethertypeOf(ip), 14);
  return Buffer.concat([header, ip]);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2). */
export function sll2(ip: Uint8Array): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(ethertypeOf(ip), 0);
  header.writeUInt32BE(3, 4); // interface index
  header.writeUInt16BE(1, 8); // ARPHRD_ETHER
  header[10] = 0;
  header[11] = 6;
  header.set([2, 0, 0, 0, 0, 1], 12);
  return Buffer.concat([header, ip]);
}

/** BSD loopback: address family in host byte order (null) or network order (loop). */
export function loopback(ip: Uint8Array, order: 'le' | 'be'): Buffer {
  const family = ip[0]! >> 4 === 6 ? 24 : 2;
  return Buffer.concat([u32(family, order === 'le'), ip]);
}

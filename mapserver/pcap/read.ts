// Reads classic pcap and pcapng captures into frames with their IP and UDP headers decoded.
// Only what `livmap decode` and the golden tests need: link layer -> IPv4/IPv6 -> UDP.
import { formatIpv4, formatIpv6 } from '../codec/ip.js';

/** A capture that cannot be read. `frame` is the 1-based frame number, 0 for the file header. */
export class CaptureError extends Error {
  readonly frame: number;
  readonly reason: string;
  constructor(frame: number, reason: string) {
    super(frame === 0 ? `capture header: ${reason}` : `frame ${frame}: ${reason}`);
    this.name = 'CaptureError';
    this.frame = frame;
    this.reason = reason;
  }
}

export interface CaptureIp {
  readonly version: 4 | 6;
  readonly source: string;
  readonly destination: string;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  /** The upper-layer protocol after IPv6 extension headers (17 = UDP). */
  readonly protocol: number;
  /** Set when the packet is an IP fragment; only the first fragment carries the UDP header. */
  readonly fragment?: { readonly offset: number; readonly more: boolean };
}

export interface CaptureUdp {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
  /** The payload is shorter than the UDP length says (snap length or first fragment). */
  readonly truncated?: boolean;
}

export interface CaptureFrame {
  /** 1-based frame number, counted as tshark does. */
  readonly index: number;
  /** Microseconds since the Unix epoch (sub-microsecond resolution is truncated). */
  readonly timestampMicros: number;
  /** pcap LINKTYPE_* of the frame's interface. */
  readonly linkType: number;
  readonly ip?: CaptureIp;
  readonly udp?: CaptureUdp;
  /** Why the frame's IP/UDP headers were not decoded, when they were not (unknown link type, bad header). */
  readonly note?: string;
}

export const LINKTYPE = {
  null: 0,
  ethernet: 1,
  raw: 101,
  loop: 108,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;

/** Detects classic pcap or pcapng by the magic number and reads every frame. */
export function readCapture(bytes: Uint8Array): CaptureFrame[] {
  if (bytes.length < 4) throw new CaptureError(0, `file too short for a capture (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic === 0x0a0d0d0a) return readPcapng(bytes, view);
  if (CLASSIC_MAGIC.has(magic) || CLASSIC_MAGIC.has(view.getUint32(0, true))) return readClassic(bytes, view);
  throw new CaptureError(0, `not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, '0')})`);
}

// Magic read big-endian -> nanosecond timestamps?
const CLASSIC_MAGIC = new Map<number, boolean>([
  [0xa1b2c3d4, false],
  [0xa1b23c4d, true],
]);

function readClassic(bytes: Uint8Array, view: DataView): CaptureFrame[] {
  if (bytes.length < 24) throw new CaptureError(0, `pcap file header truncated (${bytes.length} of 24 bytes)`);
  const big = CLASSIC_MAGIC.has(view.getUint32(0, false));
  const le = !big;
  const nanos = CLASSIC_MAGIC.get(view.getUint32(0, le)) === true;
  const major = view.getUint16(4, le);
  if (major !== 2) throw new CaptureError(0, `unsupported pcap version ${major}.${view.getUint16(6, le)}`);
  // The upper bits of the link-type field carry FCS information, not the link type.
  const linkType = view.getUint32(20, le) & 0xffff;
  const frames: CaptureFrame[] = [];
  let offset = 24;
  while (offset < bytes.length) {
    const index = frames.length + 1;
    if (bytes.length - offset < 16) {
      throw new CaptureError(index, `record header truncated at byte ${offset} (${bytes.length - offset} of 16 bytes)`);
    }
    const seconds = view.getUint32(offset, le);
    const fraction = view.getUint32(offset + 4, le);
    const captured = view.getUint32(offset + 8, le);
    if (fraction >= (nanos ? 1e9 : 1e6)) throw new CaptureError(index, `sub-second timestamp ${fraction} out of range`);
    const start = offset + 16;
    if (captured > bytes.length - start) {
      throw new CaptureError(index, `packet data truncated at byte ${start} (${bytes.length - start} of ${captured} bytes)`);
    }
    const micros = seconds * 1e6 + (nanos ? Math.floor(fraction / 1000) : fraction);
    frames.push(decodeFrame(index, micros, linkType, bytes.subarray(start, start + captured)));
    offset = start + captured;
  }
  return frames;
}

interface Interface {
  readonly linkType: number;
  readonly snapLength: number;
  /** Timestamp units per second, and an offset in seconds (if_tsresol, if_tsoffset). */
  readonly unitsPerSecond: bigint;
  readonly offsetSeconds: bigint;
}

const BLOCK = { shb: 0x0a0d0d0a, idb: 1, obsoletePacket: 2, spb: 3, epb: 6 } as const;

function readPcapng(bytes: Uint8Array, view: DataView): CaptureFrame[] {
  const frames: CaptureFrame[] = [];
  let interfaces: Interface[] = [];
  let le = true;
  let offset = 0;
  while (offset < bytes.length) {
    let type = bytes.length - offset >= 4 ? view.getUint32(offset, le) : -1;
    // A broken packet block is blamed on the frame it holds; any other block on the frame before
    // it (0, "capture header", before the first packet).
    const where = type === BLOCK.epb || type === BLOCK.spb || type === BLOCK.obsoletePacket ? frames.length + 1 : frames.length;
    const fail = (reason: string): never => {
      throw new CaptureError(where, `${reason} (block type ${type} at byte ${offset})`);
    };
    if (bytes.length - offset < 12) fail(`block header truncated (${bytes.length - offset} bytes left)`);
    if (view.getUint32(offset, false) === BLOCK.shb) {
      // Each section header sets the byte order of its section and starts a new interface list.
      if (bytes.length - offset < 28) fail('section header block truncated');
      const order = view.getUint32(offset + 8, false);
      if (order === 0x1a2b3c4d) le = false;
      else if (order === 0x4d3c2b1a) le = true;
      else fail(`bad byte-order magic 0x${order.toString(16)}`);
      const major = view.getUint16(offset + 12, le);
      if (major !== 1) fail(`unsupported pcapng version ${major}.${view.getUint16(offset + 14, le)}`);
      interfaces = [];
      type = BLOCK.shb;
    } else if (offset === 0) {
      fail('pcapng file does not start with a section header block');
    }
    const length = view.getUint32(offset + 4, le);
    if (length < 12 || length % 4 !== 0) fail(`bad block length ${length}`);
    if (length > bytes.length - offset) fail(`block truncated (${bytes.length - offset} of ${length} bytes)`);
    if (view.getUint32(offset + length - 4, le) !== length) fail('trailing block length does not match');
    const body = offset + 8;
    const bodyEnd = offset + length - 4;
    switch (type) {
      case BLOCK.idb: {
        if (bodyEnd - body < 8) fail('interface description block truncated');
        const options = readOptions(bytes, view, body + 8, bodyEnd, le);
        if (!options) fail('interface description block options malformed');
        let unitsPerSecond = 1_000_000n;
        let offsetSeconds = 0n;
        for (const [code, value] of options ?? []) {
          if (code === 9 && value.length >= 1) {
            const resolution = value[0]!;
            const exponent = BigInt(resolution & 0x7f);
            if (exponent > 60n) fail(`timestamp resolution ${resolution} out of range`);
            unitsPerSecond = resolution & 0x80 ? 1n << exponent : 10n ** exponent;
          } else if (code === 14 && value.length >= 8) {
            offsetSeconds = new DataView(value.buffer, value.byteOffset, 8).getBigInt64(0, le);
          }
        }
        interfaces.push({
          linkType: view.getUint16(body, le),
          snapLength: view.getUint32(body + 4, le),
          unitsPerSecond,
          offsetSeconds,
        });
        break;
      }
      case BLOCK.epb:
      case BLOCK.obsoletePacket: {
        const index = frames.length + 1;
        if (bodyEnd - body < 20) throw new CaptureError(index, `packet block truncated (block at byte ${offset})`);
        const interfaceId = type === BLOCK.epb ? view.getUint32(body, le) : view.getUint16(body, le);
        const iface = interfaces[interfaceId];
        if (!iface) throw new CaptureError(index, `packet refers to undeclared interface ${interfaceId}`);
        const timestamp = (BigInt(view.getUint32(body + 4, le)) << 32n) | BigInt(view.getUint32(body + 8, le));
        const captured = view.getUint32(body + 12, le);
        if (captured > bodyEnd - (body + 20)) {
          throw new CaptureError(index, `packet data (${captured} bytes) overruns its block (block at byte ${offset})`);
        }
        const micros = Number(timestamp * 1_000_000n / iface.unitsPerSecond + iface.offsetSeconds * 1_000_000n);
        frames.push(decodeFrame(index, micros, iface.linkType, bytes.subarray(body + 20, body + 20 + captured)));
        break;
      }
      case BLOCK.spb: {
        const index = frames.length + 1;
        const iface = interfaces[0];
        if (!iface) throw new CaptureError(index, 'simple packet block without an interface');
        if (bodyEnd - body < 4) throw new CaptureError(index, `simple packet block truncated (block at byte ${offset})`);
        const original = view.getUint32(body, le);
        // The captured length is implied: the original length cut by snap length and block size.
        let captured = Math.min(original, bodyEnd - (body + 4));
        if (iface.snapLength > 0) captured = Math.min(captured, iface.snapLength);
        frames.push(decodeFrame(index, 0, iface.linkType, bytes.subarray(body + 4, body + 4 + captured)));
        break;
      }
      default:
        // SHB (handled above), name resolution, statistics, secrets, custom: nothing for us.
        break;
    }
    offset += length;
  }
  return frames;
}

/** pcapng options as [code, value] pairs; null when they overrun the block. */
function readOptions(bytes: Uint8Array, view: DataView, start: number, end: number, le: boolean): Array<[number, Uint8Array]> | null {
  const options: Array<[number, Uint8Array]> = [];
  let offset = start;
  while (end - offset >= 4) {
    const code = view.getUint16(offset, le);
    const length = view.getUint16(offset + 2, le);
    if (code === 0) break; // opt_endofopt
    const valueEnd = offset + 4 + length;
    if (valueEnd > end) return null;
    options.push([code, bytes.subarray(offset + 4, valueEnd)]);
    offset = offset + 4 + ((length + 3) & ~3);
  }
  return options;
}

const ETHERTYPE = { ipv4: 0x0800, ipv6: 0x86dd, vlan: 0x8100, qinq: 0x88a8, vlanOld: 0x9100 } as const;

function decodeFrame(index: number, timestampMicros: number, linkType: number, data: Uint8Array): CaptureFrame {
  const base = { index, timestampMicros, linkType };
  const link = linkPayload(linkType, data);
  if (typeof link === 'string') return { ...base, note: link };
  return { ...base, ...decodeIp(link) };
}

/** The network-layer bytes of a frame, or why there are none. */
function linkPayload(linkType: number, data: Uint8Array): Uint8Array | string {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const byEthertype = (ethertype: number, offset: number): Uint8Array | string =>
    ethertype === ETHERTYPE.ipv4 || ethertype === ETHERTYPE.ipv6
      ? data.subarray(offset)
      : `ethertype 0x${ethertype.toString(16).padStart(4, '0')} is not IP`;
  switch (linkType) {
    case LINKTYPE.ethernet: {
      if (data.length < 14) return `Ethernet header truncated (${data.length} bytes)`;
      let offset = 12;
      let ethertype = view.getUint16(offset);
      // 802.1Q / 802.1ad tags, possibly stacked.
      while (ethertype === ETHERTYPE.vlan || ethertype === ETHERTYPE.qinq || ethertype === ETHERTYPE.vlanOld) {
        offset += 4;
        if (data.length < offset + 2) return 'VLAN tag truncated';
        ethertype = view.getUint16(offset);
      }
      return byEthertype(ethertype, offset + 2);
    }
    case LINKTYPE.raw:
    case LINKTYPE.ipv4:
    case LINKTYPE.ipv6:
      return data;
    case LINKTYPE.linuxSll:
      if (data.length < 16) return `Linux cooked header truncated (${data.length} bytes)`;
      return byEthertype(view.getUint16(14), 16);
    case LINKTYPE.linuxSll2:
      if (data.length < 20) return `Linux cooked v2 header truncated (${data.length} bytes)`;
      return byEthertype(view.getUint16(0), 20);
    case LINKTYPE.null:
    case LINKTYPE.loop: {
      if (data.length < 4) return `loopback header truncated (${data.length} bytes)`;
      // DLT_NULL stores the address family in the capturing host's byte order; LOOP in network order.
      let family = view.getUint32(0, false);
      if (linkType === LINKTYPE.null && family > 0xffff) family = view.getUint32(0, true);
      if (family === 2) return data.subarray(4);
      if (family === 10 || family === 24 || family === 28 || family === 30) return data.subarray(4);
      return `loopback address family ${family} is not IP`;
    }
    default:
      return `link type ${linkType} is not supported`;
  }
}

// IPv6 extension headers that use the generic (length + 1) * 8 layout.
const IPV6_GENERIC_EXTENSIONS = new Set([0, 43, 60, 135, 139, 140, 253, 254]);

function decodeIp(packet: Uint8Array): { ip?: CaptureIp; udp?: CaptureUdp; note?: string } {
  if (packet.length < 1) return { note: 'IP header missing' };
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const version = packet[0]! >> 4;
  if (version === 4) {
    if (packet.length < 20) return { note: `IPv4 header truncated (${packet.length} bytes)` };
    const headerLength = (packet[0]! & 0x0f) * 4;
    if (headerLength < 20) return { note: `IPv4 header length ${headerLength} is below 20` };
    if (packet.length < headerLength) return { note: `IPv4 options truncated (${packet.length} of ${headerLength} bytes)` };
    const totalLength = view.getUint16(2);
    if (totalLength < headerLength) return { note: `IPv4 total length ${totalLength} is below the header length` };
    const fragmentField = view.getUint16(6);
    const fragmentOffset = (fragmentField & 0x1fff) * 8;
    const more = (fragmentField & 0x2000) !== 0;
    const ip: CaptureIp = {
      version: 4,
      source: formatIpv4(packet, 12),
      destination: formatIpv4(packet, 16),
      ttl: packet[8]!,
      protocol: packet[9]!,
      ...(fragmentOffset !== 0 || more ? { fragment: { offset: fragmentOffset, more } } : {}),
    };
    // Ethernet padding can follow a short packet: the IP total length bounds the payload.
    const body = packet.subarray(headerLength, Math.min(totalLength, packet.length));
    if (ip.protocol !== 17 || fragmentOffset !== 0) return { ip };
    return withUdp(ip, body, totalLength > packet.length || more);
  }
  if (version === 6) {
    if (packet.length < 40) return { note: `IPv6 header truncated (${packet.length} bytes)` };
    const payloadLength = view.getUint16(4);
    let next = packet[6]!;
    let offset = 40;
    let fragment: { offset: number; more: boolean } | undefined;
    // payload length 0 is a jumbogram (RFC 2675): take what was captured.
    const end = payloadLength === 0 ? packet.length : Math.min(40 + payloadLength, packet.length);
    while (IPV6_GENERIC_EXTENSIONS.has(next) || next === 44 || next === 51) {
      if (end - offset < 8) return { note: `IPv6 extension header ${next} truncated` };
      const length = next === 44 ? 8 : next === 51 ? (packet[offset + 1]! + 2) * 4 : (packet[offset + 1]! + 1) * 8;
      if (next === 44) {
        const field = view.getUint16(offset + 2);
        fragment = { offset: field & 0xfff8, more: (field & 1) !== 0 };
      }
      next = packet[offset]!;
      offset += length;
      if (offset > end) return { note: 'IPv6 extension header overruns the packet' };
      if (fragment && fragment.offset !== 0) break;
    }
    const ip: CaptureIp = {
      version: 6,
      source: formatIpv6(packet, 8),
      destination: formatIpv6(packet, 24),
      ttl: packet[7]!,
      protocol: next,
      ...(fragment ? { fragment } : {}),
    };
    if (next !== 17 || (fragment && fragment.offset !== 0)) return { ip };
    const truncated = (payloadLength !== 0 && 40 + payloadLength > packet.length) || fragment?.more === true;
    return withUdp(ip, packet.subarray(offset, end), truncated);
  }
  return { note: `IP version ${version} is not 4 or 6` };
}

function withUdp(ip: CaptureIp, body: Uint8Array, cut: boolean): { ip: CaptureIp; udp?: CaptureUdp; note?: string } {
  if (body.length < 8) return { ip, note: `UDP header truncated (${body.length} bytes)` };
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const length = view.getUint16(4);
  if (length !== 0 && length < 8) return { ip, note: `UDP length ${length} is below 8` };
  // Length 0 happens for IPv6 jumbograms; otherwise the UDP length bounds the payload.
  const wanted = length === 0 ? body.length : length;
  if (wanted > body.length && !cut) return { ip, note: `UDP length ${length} overruns the IP payload (${body.length} bytes)` };
  const payload = body.subarray(8, Math.min(wanted, body.length));
  return {
    ip,
    udp: {
      sourcePort: view.getUint16(0),
      destinationPort: view.getUint16(2),
      payload,
      ...(wanted > body.length ? { truncated: true } : {}),
    },
  };
}

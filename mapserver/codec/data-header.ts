// The 8-byte LISP data-plane header (RFC 9300 §5.1) of UDP 4341 packets, and a summary of the
// encapsulated IP packet for printing. livmap does not forward data; this serves `livmap decode`.
import { formatIpv4, formatIpv6 } from './ip.js';

export const DATA_HEADER_LENGTH = 8;

export interface LispDataHeader {
  /** N: the 24-bit nonce field holds a nonce. */
  readonly noncePresent: boolean;
  /** L: locator-status bits are in the second word. */
  readonly lsbEnabled: boolean;
  /** E: echo-nonce request (meaningful only with N). */
  readonly echoNonceRequest: boolean;
  /** V: the 24-bit field holds source and destination map-versions. */
  readonly mapVersionPresent: boolean;
  /** I: the second word holds a 24-bit instance ID and 8 locator-status bits. */
  readonly instanceIdPresent: boolean;
  /** The reserved R bit (RFC 9300: 0 on send, ignored on receive). */
  readonly reservedBit: boolean;
  /** KK (RFC 8061 LISP-crypto key ID), 0-3. */
  readonly keyId: number;
  /** 24-bit nonce when N; 0 otherwise. */
  readonly nonce: number;
  /** 12-bit map-versions when V; 0 otherwise. */
  readonly sourceMapVersion: number;
  readonly destMapVersion: number;
  /** 24-bit instance ID when I; 0 otherwise. */
  readonly instanceId: number;
  /** 32 bits, or the low 8 bits when I is set; 0 when L is clear. */
  readonly locatorStatusBits: number;
}

/** A data header that cannot be decoded or encoded; `offset` is within the UDP payload. */
export class DataHeaderError extends Error {
  readonly offset: number;
  readonly reason: string;
  constructor(offset: number, reason: string) {
    super(`offset ${offset}: ${reason}`);
    this.name = 'DataHeaderError';
    this.offset = offset;
    this.reason = reason;
  }
}

const FLAG = { N: 0x80, L: 0x40, E: 0x20, V: 0x10, I: 0x08, R: 0x04 } as const;

export function decodeDataHeader(bytes: Uint8Array): LispDataHeader {
  if (bytes.length < DATA_HEADER_LENGTH) {
    throw new DataHeaderError(bytes.length, `LISP data header truncated (${bytes.length} of 8 bytes)`);
  }
  const flags = bytes[0]!;
  const n = (flags & FLAG.N) !== 0;
  const v = (flags & FLAG.V) !== 0;
  const i = (flags & FLAG.I) !== 0;
  const l = (flags & FLAG.L) !== 0;
  // RFC 9300 §5.3: N and V are mutually exclusive; such a packet must be dropped.
  if (n && v) throw new DataHeaderError(0, 'N and V bits are both set');
  const field = (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!;
  const word = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  return {
    noncePresent: n,
    lsbEnabled: l,
    echoNonceRequest: (flags & FLAG.E) !== 0,
    mapVersionPresent: v,
    instanceIdPresent: i,
    reservedBit: (flags & FLAG.R) !== 0,
    keyId: flags & 0x03,
    nonce: n ? field : 0,
    sourceMapVersion: v ? field >>> 12 : 0,
    destMapVersion: v ? field & 0xfff : 0,
    instanceId: i ? word >>> 8 : 0,
    locatorStatusBits: l ? (i ? word & 0xff : word) : 0,
  };
}

export function encodeDataHeader(header: LispDataHeader): Buffer {
  const out = Buffer.alloc(DATA_HEADER_LENGTH);
  if (header.noncePresent && header.mapVersionPresent) throw new DataHeaderError(0, 'N and V bits are both set');
  const check = (name: string, value: number, bits: number): void => {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) throw new DataHeaderError(0, `${name} ${value} does not fit in ${bits} bits`);
  };
  check('key ID', header.keyId, 2);
  out[0] =
    (header.noncePresent ? FLAG.N : 0) |
    (header.lsbEnabled ? FLAG.L : 0) |
    (header.echoNonceRequest ? FLAG.E : 0) |
    (header.mapVersionPresent ? FLAG.V : 0) |
    (header.instanceIdPresent ? FLAG.I : 0) |
    (header.reservedBit ? FLAG.R : 0) |
    header.keyId;
  let field = 0;
  if (header.noncePresent) {
    check('nonce', header.nonce, 24);
    field = header.nonce;
  } else if (header.mapVersionPresent) {
    check('source map-version', header.sourceMapVersion, 12);
    check('destination map-version', header.destMapVersion, 12);
    field = (header.sourceMapVersion << 12) | header.destMapVersion;
  }
  out[1] = field >>> 16;
  out[2] = (field >>> 8) & 0xff;
  out[3] = field & 0xff;
  let word = 0;
  if (header.instanceIdPresent) {
    check('instance ID', header.instanceId, 24);
    if (header.lsbEnabled) check('locator-status bits', header.locatorStatusBits, 8);
    word = header.instanceId * 256 + (header.lsbEnabled ? header.locatorStatusBits : 0);
  } else if (header.lsbEnabled) {
    check('locator-status bits', header.locatorStatusBits, 32);
    word = header.locatorStatusBits;
  }
  out.writeUInt32BE(word, 4);
  return out;
}

/** What `livmap decode` prints about the packet inside a LISP data header. */
export interface InnerPacketSummary {
  readonly version: 4 | 6;
  readonly source: string;
  readonly destination: string;
  /** Upper-layer protocol after any IPv6 extension headers (1 ICMP, 6 TCP, 17 UDP, 58 ICMPv6). */
  readonly protocol: number;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  /** IPv4 total length or IPv6 payload length + 40. */
  readonly length: number;
  /** ICMP / ICMPv6 type and code, with echo identifier and sequence for echo messages. */
  readonly icmp?: { readonly type: number; readonly code: number; readonly id?: number; readonly sequence?: number };
  /** TCP / UDP ports. */
  readonly ports?: { readonly source: number; readonly destination: number };
}

export interface LispDataPacket {
  readonly header: LispDataHeader;
  /** null when the inner bytes are not an IPv4/IPv6 packet we can summarize. */
  readonly inner: InnerPacketSummary | null;
}

/** Decodes a UDP 4341 payload: the data header and the inner packet summary. */
export function decodeDataPacket(payload: Uint8Array): LispDataPacket {
  const header = decodeDataHeader(payload);
  return { header, inner: summarizeInnerPacket(payload.subarray(DATA_HEADER_LENGTH)) };
}

const IPV6_EXTENSIONS = new Set([0, 43, 60, 135, 139, 140]);

/** Summary of an IPv4/IPv6 packet; null when it is too short or not IP. */
export function summarizeInnerPacket(packet: Uint8Array): InnerPacketSummary | null {
  if (packet.length < 1) return null;
  const version = packet[0]! >> 4;
  let base: Omit<InnerPacketSummary, 'icmp' | 'ports'>;
  let offset: number;
  let firstFragment = true;
  if (version === 4) {
    const headerLength = (packet[0]! & 0x0f) * 4;
    if (packet.length < 20 || headerLength < 20) return null;
    base = {
      version: 4,
      source: formatIpv4(packet, 12),
      destination: formatIpv4(packet, 16),
      protocol: packet[9]!,
      ttl: packet[8]!,
      length: (packet[2]! << 8) | packet[3]!,
    };
    offset = headerLength;
    firstFragment = (((packet[6]! << 8) | packet[7]!) & 0x1fff) === 0;
  } else if (version === 6) {
    if (packet.length < 40) return null;
    let next = packet[6]!;
    offset = 40;
    while ((IPV6_EXTENSIONS.has(next) || next === 44 || next === 51) && packet.length >= offset + 8) {
      if (next === 44) firstFragment = (((packet[offset + 2]! << 8) | packet[offset + 3]!) & 0xfff8) === 0;
      const length = next === 44 ? 8 : next === 51 ? (packet[offset + 1]! + 2) * 4 : (packet[offset + 1]! + 1) * 8;
      next = packet[offset]!;
      offset += length;
    }
    base = {
      version: 6,
      source: formatIpv6(packet, 8),
      destination: formatIpv6(packet, 24),
      protocol: next,
      ttl: packet[7]!,
      length: 40 + ((packet[4]! << 8) | packet[5]!),
    };
  } else {
    return null;
  }
  const rest = packet.subarray(offset);
  if (!firstFragment) return base;
  if ((base.protocol === 1 || base.protocol === 58) && rest.length >= 2) {
    const type = rest[0]!;
    const echo = base.protocol === 1 ? type === 0 || type === 8 : type === 128 || type === 129;
    const icmp =
      echo && rest.length >= 8
        ? { type, code: rest[1]!, id: (rest[4]! << 8) | rest[5]!, sequence: (rest[6]! << 8) | rest[7]! }
        : { type, code: rest[1]! };
    return { ...base, icmp };
  }
  if ((base.protocol === 6 || base.protocol === 17) && rest.length >= 4) {
    return { ...base, ports: { source: (rest[0]! << 8) | rest[1]!, destination: (rest[2]! << 8) | rest[3]! } };
  }
  return base;
}

// LISP addresses: AFI 0, IPv4, IPv6, 48-bit MAC, and LCAF (RFC 8060) with Instance-ID (type 2)
// and AFI-list (type 1) decoded; every other LCAF type is kept opaque and re-encoded unchanged.
import { fail } from './errors.js';
import { formatIpv4, formatIpv6, formatMac, parseIpv4Into, parseIpv6Into, parseMacInto } from './ip.js';
import type { Reader } from './reader.js';
import { AFI, LCAF_TYPE, type Address } from './types.js';

/** LCAFs may nest (AFI-list of Instance-IDs...); a bound keeps hostile nesting off the stack. */
export const MAX_LCAF_DEPTH = 8;

const NONE: Address = Object.freeze({ afi: 'none' });

/** Equal addresses: plain ones compared by text, LCAFs and the rest by value. */
export function sameAddress(a: Address, b: Address): boolean {
  if (a === b) return true;
  if (a.afi !== b.afi) return false;
  if ((a.afi === 'ipv4' || a.afi === 'ipv6') && (b.afi === 'ipv4' || b.afi === 'ipv6')) return a.ip === b.ip;
  if (a.afi === 'mac' && b.afi === 'mac') return a.mac === b.mac;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Bit length of an address family, for mask-len checks; -1 when it has none. */
export function addressBits(addr: Address): number {
  switch (addr.afi) {
    case 'ipv4': return 32;
    case 'ipv6': return 128;
    case 'mac': return 48;
    case 'none': return 0;
    default: return -1;
  }
}

export function decodeAddress(r: Reader, depth = 0): Address {
  const at = r.pos;
  const afi = r.u16('address AFI');
  const b = r.buf;
  switch (afi) {
    case AFI.none:
      return NONE;
    case AFI.ipv4: {
      r.need(4, 'IPv4 address');
      const ip = formatIpv4(b, r.pos);
      r.pos += 4;
      return { afi: 'ipv4', ip };
    }
    case AFI.ipv6: {
      r.need(16, 'IPv6 address');
      const ip = formatIpv6(b, r.pos);
      r.pos += 16;
      return { afi: 'ipv6', ip };
    }
    case AFI.mac: {
      r.need(6, 'MAC address');
      const mac = formatMac(b, r.pos);
      r.pos += 6;
      return { afi: 'mac', mac };
    }
    case AFI.lcaf:
      return decodeLcaf(r, at, depth);
    default:
      return fail(at, `unsupported AFI ${afi}`);
  }
}

function decodeLcaf(r: Reader, at: number, depth: number): Address {
  if (depth >= MAX_LCAF_DEPTH) fail(at, `LCAF nested deeper than ${MAX_LCAF_DEPTH}`);
  r.need(6, 'LCAF header');
  const b = r.buf;
  const p = r.pos;
  const rsvd1 = b[p]!;
  const flags = b[p + 1]!;
  const lcafType = b[p + 2]!;
  const rsvd2 = b[p + 3]!;
  const length = (b[p + 4]! << 8) | b[p + 5]!;
  r.pos = p + 6;
  if (length > r.end - r.pos) fail(p + 4, `LCAF length ${length} overruns the data (${r.end - r.pos} bytes left)`);
  const lcafEnd = r.pos + length;
  const savedEnd = r.end;
  const savedBound = r.bound;
  r.end = lcafEnd;
  r.bound = `LCAF of length ${length} at offset ${at}`;
  let out: Address;
  if (lcafType === LCAF_TYPE.instanceId) {
    const iid = r.u32('Instance-ID');
    const address = decodeAddress(r, depth + 1);
    out = { afi: 'lcaf-iid', iid, maskLen: rsvd2, flags, address };
  } else if (lcafType === LCAF_TYPE.afiList) {
    const addresses: Address[] = [];
    // Each address consumes at least its 2-byte AFI, so this loop always ends.
    while (r.pos < lcafEnd) addresses.push(decodeAddress(r, depth + 1));
    out = { afi: 'lcaf-afi-list', flags, addresses };
  } else {
    out = { afi: 'lcaf', lcafType, rsvd1, flags, rsvd2, payload: r.bytes(length, 'LCAF payload') };
  }
  if (r.pos !== lcafEnd) fail(p + 4, `LCAF length ${length} is longer than its content (${r.pos - p - 6} bytes)`);
  r.end = savedEnd;
  r.bound = savedBound;
  return out;
}

export function addressLength(addr: Address): number {
  switch (addr.afi) {
    case 'none': return 2;
    case 'ipv4': return 6;
    case 'ipv6': return 18;
    case 'mac': return 8;
    case 'lcaf-iid': return 12 + addressLength(addr.address);
    case 'lcaf-afi-list': {
      let n = 8;
      for (const a of addr.addresses) n += addressLength(a);
      return n;
    }
    case 'lcaf': return 8 + addr.payload.length;
    default: return fail(0, `unknown address kind ${JSON.stringify((addr as { afi?: unknown }).afi)}`);
  }
}

/** Writes `addr` at `o`; returns the offset after it. */
export function encodeAddress(addr: Address, buf: Buffer, o: number, depth = 0): number {
  switch (addr.afi) {
    case 'none':
      buf[o] = 0;
      buf[o + 1] = 0;
      return o + 2;
    case 'ipv4':
      buf[o] = 0;
      buf[o + 1] = AFI.ipv4;
      if (!parseIpv4Into(addr.ip, buf, o + 2)) fail(o, `invalid IPv4 address ${JSON.stringify(addr.ip)}`);
      return o + 6;
    case 'ipv6':
      buf[o] = 0;
      buf[o + 1] = AFI.ipv6;
      if (!parseIpv6Into(addr.ip, buf, o + 2)) fail(o, `invalid IPv6 address ${JSON.stringify(addr.ip)}`);
      return o + 18;
    case 'mac':
      buf[o] = AFI.mac >> 8;
      buf[o + 1] = AFI.mac & 0xff;
      if (!parseMacInto(addr.mac, buf, o + 2)) fail(o, `invalid MAC address ${JSON.stringify(addr.mac)}`);
      return o + 8;
    case 'lcaf-iid': {
      if (depth >= MAX_LCAF_DEPTH) fail(o, `LCAF nested deeper than ${MAX_LCAF_DEPTH}`);
      checkByte(addr.flags, o, 'LCAF flags');
      checkByte(addr.maskLen, o, 'Instance-ID mask-len');
      if (!Number.isInteger(addr.iid) || addr.iid < 0 || addr.iid > 0xffffffff) fail(o, `Instance-ID ${addr.iid} is not a 32-bit integer`);
      const end = encodeAddress(addr.address, buf, o + 12, depth + 1);
      writeLcafHeader(buf, o, 0, addr.flags, LCAF_TYPE.instanceId, addr.maskLen, end - o - 8);
      writeU32(buf, o + 8, addr.iid);
      return end;
    }
    case 'lcaf-afi-list': {
      if (depth >= MAX_LCAF_DEPTH) fail(o, `LCAF nested deeper than ${MAX_LCAF_DEPTH}`);
      checkByte(addr.flags, o, 'LCAF flags');
      let end = o + 8;
      for (const a of addr.addresses) end = encodeAddress(a, buf, end, depth + 1);
      writeLcafHeader(buf, o, 0, addr.flags, LCAF_TYPE.afiList, 0, end - o - 8);
      return end;
    }
    case 'lcaf': {
      checkByte(addr.lcafType, o, 'LCAF type');
      if (addr.lcafType === LCAF_TYPE.afiList || addr.lcafType === LCAF_TYPE.instanceId) {
        fail(o, `opaque LCAF cannot have type ${addr.lcafType}; use the structured form`);
      }
      checkByte(addr.rsvd1, o, 'LCAF rsvd1');
      checkByte(addr.flags, o, 'LCAF flags');
      checkByte(addr.rsvd2, o, 'LCAF rsvd2');
      writeLcafHeader(buf, o, addr.rsvd1, addr.flags, addr.lcafType, addr.rsvd2, addr.payload.length);
      buf.set(addr.payload, o + 8);
      return o + 8 + addr.payload.length;
    }
    default:
      return fail(o, `unknown address kind ${JSON.stringify((addr as { afi?: unknown }).afi)}`);
  }
}

function writeLcafHeader(buf: Buffer, o: number, rsvd1: number, flags: number, type: number, rsvd2: number, length: number): void {
  if (length > 0xffff) fail(o, `LCAF content of ${length} bytes does not fit the 16-bit length`);
  buf[o] = AFI.lcaf >> 8;
  buf[o + 1] = AFI.lcaf & 0xff;
  buf[o + 2] = rsvd1;
  buf[o + 3] = flags;
  buf[o + 4] = type;
  buf[o + 5] = rsvd2;
  buf[o + 6] = length >> 8;
  buf[o + 7] = length & 0xff;
}

function checkByte(v: number, o: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) fail(o, `${field} ${String(v)} is not a byte`);
}

export function writeU32(buf: Buffer, o: number, v: number): void {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}

export function writeU16(buf: Buffer, o: number, v: number): void {
  buf[o] = v >>> 8;
  buf[o + 1] = v & 0xff;
}

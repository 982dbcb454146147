// EID-prefix helpers: parse/format operator text, compare and normalise prefixes.
// Prefixes are compared on their address bits, never on text, so `2001:DB8::/32` and
// `2001:db8::/32` are the same prefix.
import type { Address, EidFamily, EidPrefix } from './types.js';
import { formatIpv4, formatIpv6, formatMac, parseIpv4Into, parseIpv6Into, parseMacInto } from './ip.js';
import { sameAddress } from './address.js';

/** A prefix text or value a person gave us is not acceptable; the message says why. */
export class PrefixError extends Error {
  override readonly name = 'PrefixError';
}

/** Address bits per family. */
export const FAMILY_BITS: Readonly<Record<EidFamily, number>> = { ipv4: 32, ipv6: 128, mac: 48 };

const FAMILY_LABEL: Readonly<Record<EidFamily, string>> = { ipv4: 'IPv4', ipv6: 'IPv6', mac: 'MAC' };

/** The family an EID prefix can be matched in, or undefined for addresses that are not matchable (LCAFs, none). */
export function eidFamily(p: EidPrefix): EidFamily | undefined {
  const afi = p.address.afi;
  return afi === 'ipv4' || afi === 'ipv6' || afi === 'mac' ? afi : undefined;
}

/** Like `eidFamily` but throws a PrefixError for unmatchable addresses. */
export function requireFamily(p: EidPrefix): EidFamily {
  const family = eidFamily(p);
  if (!family) throw new PrefixError(`EID prefix with address family '${p.address.afi}' cannot be matched (only IPv4, IPv6, MAC)`);
  return family;
}

/** Address bytes of an IPv4/IPv6/MAC address, or undefined for other variants or malformed text. */
export function addressBytes(address: Address): Uint8Array | undefined {
  switch (address.afi) {
    case 'ipv4': {
      const out = new Uint8Array(4);
      return parseIpv4Into(address.ip, out) ? out : undefined;
    }
    case 'ipv6': {
      const out = new Uint8Array(16);
      return parseIpv6Into(address.ip, out) ? out : undefined;
    }
    case 'mac': {
      const out = new Uint8Array(6);
      return parseMacInto(address.mac, out) ? out : undefined;
    }
    default:
      return undefined;
  }
}

/** Address bytes of a prefix exactly as given (host bits untouched). Throws PrefixError when not matchable. */
export function prefixBytes(p: EidPrefix): Uint8Array {
  const family = requireFamily(p);
  const bytes = addressBytes(p.address);
  if (!bytes) throw new PrefixError(`malformed ${FAMILY_LABEL[family]} address in EID prefix: ${JSON.stringify(p.address)}`);
  return bytes;
}

/** The Address of `bytes` in `family` (canonical text). */
export function addressFromBytes(family: EidFamily, bytes: Uint8Array): Address {
  switch (family) {
    case 'ipv4':
      return { afi: 'ipv4', ip: formatIpv4(bytes) };
    case 'ipv6':
      return { afi: 'ipv6', ip: formatIpv6(bytes) };
    case 'mac':
      return { afi: 'mac', mac: formatMac(bytes) };
  }
}

/** Zeroes every bit of `bytes` at or after bit `length` (in place). */
export function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  for (let i = 0; i < bytes.length; i++) {
    const keep = length - i * 8;
    if (keep >= 8) continue;
    bytes[i] = keep <= 0 ? 0 : bytes[i]! & (0xff << (8 - keep));
  }
  return bytes;
}

/** Builds a canonical EidPrefix from address bytes; host bits are zeroed (on a copy). */
export function prefixFromBytes(iid: number, family: EidFamily, bytes: Uint8Array, length: number): EidPrefix {
  return { iid, address: addressFromBytes(family, maskBytes(bytes.slice(0, FAMILY_BITS[family] / 8), length)), length };
}

function hostBitsSet(bytes: Uint8Array, length: number): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const keep = length - i * 8;
    if (keep >= 8) continue;
    const hostMask = keep <= 0 ? 0xff : 0xff >> keep;
    if (bytes[i]! & hostMask) return true;
  }
  return false;
}

/** Whether bits [0, length) of a and b agree. */
function bitsEqual(a: Uint8Array, b: Uint8Array, length: number): boolean {
  const full = length >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[full]! ^ b[full]!) & mask) === 0;
}

function parseAddressText(text: string): { family: EidFamily; bytes: Uint8Array } | undefined {
  if (text.includes(':') || text.includes('-')) {
    const v6 = new Uint8Array(16);
    if (text.includes(':') && parseIpv6Into(text, v6)) return { family: 'ipv6', bytes: v6 };
    const mac = new Uint8Array(6);
    if (parseMacInto(text, mac)) return { family: 'mac', bytes: mac };
    return undefined;
  }
  const v4 = new Uint8Array(4);
  return parseIpv4Into(text, v4) ? { family: 'ipv4', bytes: v4 } : undefined;
}

const IID_RE = /^\[\s*(\d+)\s*\]\s*/;
const MAX_IID = 0xffffffff;

/**
 * Parses `10.16.10.0/24`, `2001:db8::/32`, `aa:bb:cc:dd:ee:ff/48`, `[7]10.0.0.0/8` or
 * `[7] 10.0.0.0/8`. A bare address is a host prefix. A bracketed IID overrides `iid`.
 * Rejects host bits set past the length rather than silently masking them: an operator who
 * typed `10.0.0.1/24` probably meant something else.
 */
export function parseEidPrefix(text: string, iid = 0): EidPrefix {
  const original = text;
  let rest = text.trim();
  if (rest === '') throw new PrefixError('empty EID prefix');
  const iidMatch = IID_RE.exec(rest);
  if (iidMatch) {
    const value = Number(iidMatch[1]);
    if (!Number.isSafeInteger(value) || value > MAX_IID) {
      throw new PrefixError(`${original}: instance ID ${iidMatch[1]} is out of range 0..${MAX_IID}`);
    }
    iid = value;
    rest = rest.slice(iidMatch[0].length);
  } else if (rest.startsWith('[')) {
    throw new PrefixError(`${original}: instance ID must be written as [number], e.g. [7] 10.0.0.0/8`);
  }
  if (!Number.isInteger(iid) || iid < 0 || iid > MAX_IID) {
    throw new PrefixError(`${original}: instance ID ${iid} is out of range 0..${MAX_IID}`);
  }
  const slash = rest.indexOf('/');
  const addressText = slash < 0 ? rest : rest.slice(0, slash);
  const parsed = parseAddressText(addressText);
  if (!parsed) {
    throw new PrefixError(`${original}: '${addressText}' is not an IPv4, IPv6 or MAC address`);
  }
  const maxBits = FAMILY_BITS[parsed.family];
  let length = maxBits;
  if (slash >= 0) {
    const lengthText = rest.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) {
      throw new PrefixError(`${original}: prefix length '${lengthText}' is not a number`);
    }
    length = Number(lengthText);
    if (length > maxBits) {
      throw new PrefixError(
        `${original}: prefix length ${length} is longer than ${maxBits} bits for ${FAMILY_LABEL[parsed.family]}`,
      );
    }
  }
  if (hostBitsSet(parsed.bytes, length)) {
    const suggestion = formatEidPrefix(prefixFromBytes(iid, parsed.family, parsed.bytes, length));
    throw new PrefixError(`${original}: host bits are set past /${length} (did you mean ${suggestion}?)`);
  }
  return { iid, address: addressFromBytes(parsed.family, parsed.bytes), length };
}

/** Address text for keys: stable across releases, since stored keys are built from it (not for display). */
function keyText(address: Address): string {
  switch (address.afi) {
    case 'ipv4':
    case 'ipv6':
      return address.ip;
    case 'mac':
      return address.mac;
    case 'none':
      return 'none';
    case 'lcaf-iid':
      return `[${address.iid}] ${keyText(address.address)}`;
    case 'lcaf-afi-list':
      return `(${address.addresses.map(keyText).join(', ')})`;
    case 'lcaf':
      return `lcaf${address.lcafType}:${Buffer.from(address.payload).toString('hex')}`;
  }
}

/** `10.16.10.0/24`; `[7] 172.16.31.0/24` when the IID is not 0. */
export function formatEidPrefix(p: EidPrefix): string {
  const text = `${keyText(p.address)}/${p.length}`;
  return p.iid === 0 ? text : `[${p.iid}] ${text}`;
}

/** `10.16.10.0/24` whatever the IID: for formats that carry the IID in a field of its own (OOR, livmap's JSON). */
export function formatBareEidPrefix(p: EidPrefix): string {
  return formatEidPrefix({ ...p, iid: 0 });
}

/**
 * A stable key for maps and the store: `<iid>:<family>:<canonical address>/<length>`, host bits
 * zeroed, so equal prefixes get equal keys whatever text they were written with.
 */
export function prefixKey(p: EidPrefix): string {
  const family = eidFamily(p);
  if (!family) {
    // Unmatchable EIDs (LCAF, none) still need a deterministic key.
    return `${p.iid}:${p.address.afi}:${keyText(p.address)}/${p.length}`;
  }
  const n = normalizePrefix(p);
  return `${n.iid}:${family}:${keyText(n.address)}/${n.length}`;
}

/** The prefix with host bits zeroed and canonical address text. Unmatchable prefixes are returned as-is. */
export function normalizePrefix(p: EidPrefix): EidPrefix {
  return eidFamily(p) ? normalizeParsed(p, prefixBytes(p)) : p;
}

/** normalizePrefix for a matchable prefix whose address the caller has already parsed into `bytes`. */
export function normalizeParsed(p: EidPrefix, bytes: Uint8Array): EidPrefix {
  const family = requireFamily(p);
  const max = FAMILY_BITS[family];
  if (!Number.isInteger(p.length) || p.length < 0 || p.length > max) {
    throw new PrefixError(`${formatEidPrefix(p)}: prefix length ${p.length} is outside 0..${max} for ${FAMILY_LABEL[family]}`);
  }
  // IPv4 text that parses is canonical (no leading zeros accepted): only host bits can differ.
  if (family === 'ipv4' && !hostBitsSet(bytes, p.length)) return p;
  const normal = prefixFromBytes(p.iid, family, bytes, p.length);
  return sameAddress(normal.address, p.address) ? p : normal;
}

/** Same IID, family and length, and the same address bits within the length. */
export function samePrefix(a: EidPrefix, b: EidPrefix): boolean {
  if (a.iid !== b.iid || a.length !== b.length) return false;
  const fa = eidFamily(a);
  if (!fa || fa !== eidFamily(b)) return !fa && !eidFamily(b) && prefixKey(a) === prefixKey(b);
  return bitsEqual(prefixBytes(a), prefixBytes(b), a.length);
}

/** Whether `inner` lies inside `outer` (equal counts). Different IIDs/families never contain each other. */
export function containsPrefix(outer: EidPrefix, inner: EidPrefix): boolean {
  if (outer.iid !== inner.iid || outer.length > inner.length) return false;
  const family = eidFamily(outer);
  if (!family || family !== eidFamily(inner)) return false;
  return bitsEqual(prefixBytes(outer), prefixBytes(inner), outer.length);
}

/** Whether `address` (Address or IP/MAC text) in instance `iid` falls inside `prefix`. */
export function containsAddress(prefix: EidPrefix, iid: number, address: Address | string): boolean {
  if (prefix.iid !== iid) return false;
  const family = eidFamily(prefix);
  if (!family) return false;
  let bytes: Uint8Array | undefined;
  if (typeof address === 'string') {
    const parsed = parseAddressText(address);
    if (!parsed || parsed.family !== family) return false;
    bytes = parsed.bytes;
  } else {
    if (address.afi !== family) return false;
    bytes = addressBytes(address);
    if (!bytes) return false;
  }
  return bitsEqual(prefixBytes(prefix), bytes, prefix.length);
}

/** Two prefixes overlap when one contains the other. */
export function prefixesOverlap(a: EidPrefix, b: EidPrefix): boolean {
  return containsPrefix(a, b) || containsPrefix(b, a);
}

/** Parses IP/MAC text into its family and bytes; undefined when it is none of them. */
export function parseEidAddress(text: string): { family: EidFamily; bytes: Uint8Array } | undefined {
  return parseAddressText(text);
}

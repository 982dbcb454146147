// Reads a stored Registration (proto/livmap.proto) straight from protobuf wire format into our
// types. Cold start decodes a million of these: protobufjs's reflective decode + toObject built
// two throw-away object trees per registration, and every site name, ETR id and RLOC came back
// as its own string. Here each field is read once, and values that repeat across registrations
// (site, ETR id, source endpoint, locator lists) are shared through an Interner: immutable
// objects, so sharing is safe, and the heap holds one copy instead of a million.
import protobuf from 'protobufjs';
import type { Address, EidPrefix, Locator, MappingRecord } from '../codec/types.js';
import { formatIpv4, formatIpv6, formatMac } from '../codec/ip.js';
import type { Endpoint, Registration, RegistrationAuth } from '../db/model.js';

/** A stored value that is not a valid Registration; `decodeRegistration` wraps it in StoreCodecError. */
export class WireError extends Error {}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

/** What an interned value was decoded as; equal bytes of different kinds are different values. */
const enum Kind {
  site,
  etrId,
  source,
  locators,
}

interface Interned {
  readonly kind: Kind;
  readonly bytes: Uint8Array;
  readonly value: unknown;
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/**
 * Canonical values decoded from equal bytes, for one load: looked up by a hash of the raw
 * protobuf bytes, so a repeated value is neither decoded nor allocated again. Bounded: past
 * `limit` values it stops sharing (never stops decoding).
 */
export class Interner {
  private readonly table = new Map<number, Interned[]>();
  private count = 0;
  constructor(private readonly limit = 200_000) {}

  /** The value decoded from bytes [start, end) of `buf` before, or `decode()` now. */
  get<T>(kind: Kind, buf: Uint8Array, start: number, end: number, decode: () => T): T {
    let h = 0x811c9dc5 ^ kind;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const bucket = this.table.get(h);
    if (bucket) for (const e of bucket) if (e.kind === kind && sameBytes(e.bytes, buf, start, end)) return e.value as T;
    const value = decode();
    if (this.count < this.limit) {
      const entry: Interned = { kind, bytes: buf.slice(start, end), value };
      if (bucket) bucket.push(entry);
      else this.table.set(h, [entry]);
      this.count++;
    }
    return value;
  }
}

type Reader = protobuf.Reader;

function expectWire(tag: number, wire: number, what: string): void {
  if ((tag & 7) !== wire) throw new WireError(`${what}: wire type ${tag & 7}, expected ${wire}`);
}

/** Reads a length prefix and returns where the sub-message ends. */
function subEnd(r: Reader, end: number, what: string): number {
  const length = r.uint32();
  const subEnd = r.pos + length;
  if (subEnd > end) throw new WireError(`${what}: length ${length} runs past its container`);
  return subEnd;
}

function fixedBytes(b: Uint8Array, size: number, what: string): Uint8Array {
  if (b.length !== size) throw new WireError(`${what}: ${b.length} address bytes, expected ${size}`);
  return b;
}

function readAddress(r: Reader, end: number, what: string, depth = 0): Address {
  if (depth > 8) throw new WireError(`${what}: addresses nested too deep`);
  let address: Address | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: // none
        expectWire(tag, LENGTH_DELIMITED, what);
        r.pos = subEnd(r, end, what);
        address = { afi: 'none' };
        break;
      case 2:
        expectWire(tag, LENGTH_DELIMITED, what);
        address = { afi: 'ipv4', ip: formatIpv4(fixedBytes(r.bytes(), 4, what)) };
        break;
      case 3:
        expectWire(tag, LENGTH_DELIMITED, what);
        address = { afi: 'ipv6', ip: formatIpv6(fixedBytes(r.bytes(), 16, what)) };
        break;
      case 4:
        expectWire(tag, LENGTH_DELIMITED, what);
        address = { afi: 'mac', mac: formatMac(fixedBytes(r.bytes(), 6, what)) };
        break;
      case 5: {
        expectWire(tag, LENGTH_DELIMITED, what);
        const e = subEnd(r, end, what);
        let iid = 0, maskLen = 0, flags = 0;
        let inner: Address | undefined;
        while (r.pos < e) {
          const t = r.uint32();
          switch (t >>> 3) {
            case 1: expectWire(t, VARINT, what); iid = r.uint32(); break;
            case 2: expectWire(t, VARINT, what); maskLen = r.uint32(); break;
            case 3: expectWire(t, VARINT, what); flags = r.uint32(); break;
            case 4: expectWire(t, LENGTH_DELIMITED, what); inner = readAddress(r, subEnd(r, e, what), what, depth + 1); break;
            default: r.skipType(t & 7);
          }
        }
        if (!inner) throw new WireError(`${what}: address missing`);
        address = { afi: 'lcaf-iid', iid, maskLen, flags, address: inner };
        break;
      }
      case 6: {
        expectWire(tag, LENGTH_DELIMITED, what);
        const e = subEnd(r, end, what);
        let flags = 0;
        const addresses: Address[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          switch (t >>> 3) {
            case 1: expectWire(t, VARINT, what); flags = r.uint32(); break;
            case 2: expectWire(t, LENGTH_DELIMITED, what); addresses.push(readAddress(r, subEnd(r, e, what), what, depth + 1)); break;
            default: r.skipType(t & 7);
          }
        }
        address = { afi: 'lcaf-afi-list', flags, addresses };
        break;
      }
      case 7: {
        expectWire(tag, LENGTH_DELIMITED, what);
        const e = subEnd(r, end, what);
        let lcafType = 0, rsvd1 = 0, flags = 0, rsvd2 = 0;
        let payload = new Uint8Array(0);
        while (r.pos < e) {
          const t = r.uint32();
          switch (t >>> 3) {
            case 1: expectWire(t, VARINT, what); lcafType = r.uint32(); break;
            case 2: expectWire(t, VARINT, what); rsvd1 = r.uint32(); break;
            case 3: expectWire(t, VARINT, what); flags = r.uint32(); break;
            case 4: expectWire(t, VARINT, what); rsvd2 = r.uint32(); break;
            case 5: expectWire(t, LENGTH_DELIMITED, what); payload = new Uint8Array(r.bytes()); break;
            default: r.skipType(t & 7);
          }
        }
        address = { afi: 'lcaf', lcafType, rsvd1, flags, rsvd2, payload };
        break;
      }
      default:
        r.skipType(tag & 7);
    }
  }
  if (!address) throw new WireError(`${what}: address has no known variant`);
  return address;
}

function readEid(r: Reader, end: number, what: string): EidPrefix {
  let iid = 0, length = 0;
  let iidMaskLen: number | undefined;
  let address: Address | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: expectWire(tag, VARINT, what); iid = r.uint32(); break;
      case 2: expectWire(tag, LENGTH_DELIMITED, what); address = readAddress(r, subEnd(r, end, what), `${what} EID`); break;
      case 3: expectWire(tag, VARINT, what); length = r.uint32(); break;
      case 4: expectWire(tag, VARINT, what); iidMaskLen = r.uint32(); break;
      default: r.skipType(tag & 7);
    }
  }
  if (!address) throw new WireError(`${what} EID: address missing`);
  return iidMaskLen === undefined ? { iid, address, length } : { iid, address, length, iidMaskLen };
}

function readLocator(r: Reader, end: number): Locator {
  let priority = 0, weight = 0, mPriority = 0, mWeight = 0;
  let local = false, probed = false, reachable = false;
  let rloc: Address | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: expectWire(tag, VARINT, 'locator'); priority = r.uint32(); break;
      case 2: expectWire(tag, VARINT, 'locator'); weight = r.uint32(); break;
      case 3: expectWire(tag, VARINT, 'locator'); mPriority = r.uint32(); break;
      case 4: expectWire(tag, VARINT, 'locator'); mWeight = r.uint32(); break;
      case 5: expectWire(tag, VARINT, 'locator'); local = r.bool(); break;
      case 6: expectWire(tag, VARINT, 'locator'); probed = r.bool(); break;
      case 7: expectWire(tag, VARINT, 'locator'); reachable = r.bool(); break;
      case 8: expectWire(tag, LENGTH_DELIMITED, 'locator'); rloc = readAddress(r, subEnd(r, end, 'RLOC'), 'RLOC'); break;
      default: r.skipType(tag & 7);
    }
  }
  if (!rloc) throw new WireError('RLOC: address missing');
  return { priority, weight, mPriority, mWeight, local, probed, reachable, rloc };
}

/** A string field, shared through the interner when there is one. */
function readString(r: Reader, end: number, kind: Kind, interner: Interner | undefined, what: string): string {
  if (!interner) return r.string();
  const length = r.uint32();
  const start = r.pos;
  if (start + length > end) throw new WireError(`${what}: length ${length} runs past its container`);
  r.pos = start + length;
  return interner.get(kind, r.buf, start, start + length, () => protobuf.util.utf8.read(r.buf, start, start + length));
}

/** Where the run of consecutive locator fields (tag 6) starting at r.pos ends; checks only their lengths. */
function locatorRunEnd(r: Reader, end: number): number {
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    if (tag !== ((6 << 3) | LENGTH_DELIMITED)) {
      r.pos = at;
      break;
    }
    r.pos = subEnd(r, end, 'locator');
  }
  return r.pos;
}

/** The locator fields in [r.pos, runEnd), decoded. */
function readLocatorRun(r: Reader, runEnd: number): Locator[] {
  const locators: Locator[] = [];
  while (r.pos < runEnd) {
    r.uint32(); // the tag, checked by locatorRunEnd
    locators.push(readLocator(r, subEnd(r, runEnd, 'locator')));
  }
  return locators;
}

function readRecord(r: Reader, end: number, interner: Interner | undefined): MappingRecord {
  let eid: EidPrefix | undefined;
  let ttl = 0, action = 0, mapVersion = 0;
  let authoritative = false;
  let locators: Locator[] = [];
  let locatorsSeen = false;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: expectWire(tag, LENGTH_DELIMITED, 'record'); eid = readEid(r, subEnd(r, end, 'record EID'), 'registration'); break;
      case 2: expectWire(tag, VARINT, 'record'); ttl = r.uint32(); break;
      case 3: expectWire(tag, VARINT, 'record'); action = r.uint32(); break;
      case 4: expectWire(tag, VARINT, 'record'); authoritative = r.bool(); break;
      case 5: expectWire(tag, VARINT, 'record'); mapVersion = r.uint32(); break;
      case 6:
        expectWire(tag, LENGTH_DELIMITED, 'record');
        if (!locatorsSeen) {
          locatorsSeen = true;
          // Locator lists repeat across registrations (one ETR registers many EIDs): the run of
          // locator fields is looked up by its bytes first, and decoded only when new.
          r.pos = tagAt;
          const runEnd = locatorRunEnd(r, end);
          r.pos = tagAt;
          locators = interner ? interner.get(Kind.locators, r.buf, tagAt, runEnd, () => readLocatorRun(r, runEnd)) : readLocatorRun(r, runEnd);
          r.pos = runEnd;
        } else {
          // A locator after other fields (valid protobuf, not what the store writes): appended to a
          // copy, as the list may be shared.
          locators = [...locators, readLocator(r, subEnd(r, end, 'locator'))];
        }
        break;
      default: r.skipType(tag & 7);
    }
  }
  if (!eid) throw new WireError('registration: EID prefix missing');
  return { eid, ttl, action, authoritative, mapVersion, locators };
}

function readEndpoint(r: Reader, end: number, interner: Interner | undefined): Endpoint {
  const stop = subEnd(r, end, 'source');
  if (!interner) return endpointUntil(r, stop);
  const start = r.pos;
  const endpoint = interner.get(Kind.source, r.buf, start, stop, () => endpointUntil(r, stop));
  r.pos = stop;
  return endpoint;
}

function endpointUntil(r: Reader, stop: number): Endpoint {
  let address = '';
  let port = 0;
  while (r.pos < stop) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: expectWire(tag, LENGTH_DELIMITED, 'source'); address = r.string(); break;
      case 2: expectWire(tag, VARINT, 'source'); port = r.uint32(); break;
      default: r.skipType(tag & 7);
    }
  }
  return { address, port };
}

/** Decodes one stored Registration; throws WireError (or protobufjs's RangeError on truncation). */
export function readRegistration(bytes: Uint8Array, interner?: Interner): Registration {
  const r = protobuf.Reader.create(bytes);
  const end = bytes.length;
  let site = '', etrId = '';
  let source: Endpoint | undefined;
  let record: MappingRecord | undefined;
  let xtrId: Uint8Array | undefined, siteId: Uint8Array | undefined;
  let proxyReply = false, merge = false, left = false;
  let auth: RegistrationAuth | undefined;
  let claimedAt = 0, lastRefreshed = 0, expiresAt = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: expectWire(tag, LENGTH_DELIMITED, 'site'); site = readString(r, end, Kind.site, interner, 'site'); break;
      case 2: expectWire(tag, LENGTH_DELIMITED, 'ETR id'); etrId = readString(r, end, Kind.etrId, interner, 'ETR id'); break;
      case 3: expectWire(tag, LENGTH_DELIMITED, 'source'); source = readEndpoint(r, end, interner); break;
      case 4: expectWire(tag, LENGTH_DELIMITED, 'xTR-ID'); xtrId = new Uint8Array(r.bytes()); break;
      case 5: expectWire(tag, LENGTH_DELIMITED, 'site-ID'); siteId = new Uint8Array(r.bytes()); break;
      case 6: expectWire(tag, VARINT, 'proxy_reply'); proxyReply = r.bool(); break;
      case 7: expectWire(tag, VARINT, 'merge'); merge = r.bool(); break;
      case 8: expectWire(tag, LENGTH_DELIMITED, 'record'); record = readRecord(r, subEnd(r, end, 'record'), interner); break;
      case 9: expectWire(tag, FIXED64, 'claimed_at'); claimedAt = r.double(); break;
      case 10: expectWire(tag, FIXED64, 'last_refreshed'); lastRefreshed = r.double(); break;
      case 11: expectWire(tag, FIXED64, 'expires_at'); expiresAt = r.double(); break;
      case 12: expectWire(tag, VARINT, 'left'); left = r.bool(); break;
      case 13: expectWire(tag, LENGTH_DELIMITED, 'auth'); auth = readAuth(r, subEnd(r, end, 'auth')); break;
      default: r.skipType(tag & 7);
    }
  }
  if (!site || !etrId) throw new WireError('registration without site or ETR id');
  if (!source) throw new WireError('registration without source endpoint');
  if (!record) throw new WireError('registration: mapping record missing');
  const base: Registration = { site, etrId, source, proxyReply, merge, record, claimedAt, lastRefreshed, expiresAt };
  // Optional fields appear only when stored, so a round trip keeps `'xtrId' in r` unchanged.
  if (xtrId === undefined && siteId === undefined && !left && !auth) return base;
  return { ...base, ...(xtrId !== undefined ? { xtrId } : {}), ...(siteId !== undefined ? { siteId } : {}), ...(left ? { left } : {}), ...(auth ? { auth } : {}) };
}

function readAuth(r: Reader, end: number): RegistrationAuth {
  let keyId = 0, algId = 0, length = 0, keyIndex = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: expectWire(tag, VARINT, 'auth'); keyId = r.uint32(); break;
      case 2: expectWire(tag, VARINT, 'auth'); algId = r.uint32(); break;
      case 3: expectWire(tag, VARINT, 'auth'); length = r.uint32(); break;
      case 4: expectWire(tag, VARINT, 'auth'); keyIndex = r.uint32(); break;
      default: r.skipType(tag & 7);
    }
  }
  return { keyId, algId, length, keyIndex };
}

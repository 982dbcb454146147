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


/**
 * The protobuf field numbers this reader reads, by message and by the field's name in
 * proto/livmap.proto: the one place they are written here. test/store/schema.test.ts holds
 * them against the .proto file, so the reader and the schema cannot drift apart.
 */
export const READER_FIELDS = {
  Address: { none: 1, ipv4: 2, ipv6: 3, mac: 4, lcaf_iid: 5, lcaf_afi_list: 6, lcaf: 7 },
  InstanceIdAddress: { iid: 1, mask_len: 2, flags: 3, address: 4 },
  AfiListAddress: { flags: 1, addresses: 2 },
  OpaqueLcaf: { lcaf_type: 1, rsvd1: 2, flags: 3, rsvd2: 4, payload: 5 },
  EidPrefix: { iid: 1, address: 2, length: 3, iid_mask_len: 4 },
  Locator: { priority: 1, weight: 2, m_priority: 3, m_weight: 4, local: 5, probed: 6, reachable: 7, rloc: 8 },
  MappingRecord: { eid: 1, ttl: 2, action: 3, authoritative: 4, map_version: 5, locators: 6 },
  Endpoint: { address: 1, port: 2 },
  Registration: {
    site: 1, etr_id: 2, source: 3, xtr_id: 4, site_id: 5, proxy_reply: 6, merge: 7, record: 8,
    claimed_at: 9, last_refreshed: 10, expires_at: 11, left: 12, auth: 13,
  },
  RegistrationAuth: { key_id: 1, alg_id: 2, length: 3, key_index: 4 },
} as const;

const A = READER_FIELDS.Address;
const IID = READER_FIELDS.InstanceIdAddress;
const AFL = READER_FIELDS.AfiListAddress;
const OPQ = READER_FIELDS.OpaqueLcaf;
const EID = READER_FIELDS.EidPrefix;
const LOC = READER_FIELDS.Locator;
const REC = READER_FIELDS.MappingRecord;
const END = READER_FIELDS.Endpoint;
const REG = READER_FIELDS.Registration;
const AUTH = READER_FIELDS.RegistrationAuth;

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
      case A.none:
        expectWire(tag, LENGTH_DELIMITED, what);
        r.pos = subEnd(r, end, what);
        address = { afi: 'none' };
        break;
      case A.ipv4:
        expectWire(tag, LENGTH_DELIMITED, what);
        address = { afi: 'ipv4', ip: formatIpv4(fixedBytes(r.bytes(), 4, what)) };
        break;
      case A.ipv6:
        expectWire(tag, LENGTH_DELIMITED, what);
        address = { afi: 'ipv6', ip: formatIpv6(fixedBytes(r.bytes(), 16, what)) };
        break;
      case A.mac:
        expectWire(tag, LENGTH_DELIMITED, what);
        address = { afi: 'mac', mac: formatMac(fixedBytes(r.bytes(), 6, what)) };
        break;
      case A.lcaf_iid: {
        expectWire(tag, LENGTH_DELIMITED, what);
        const e = subEnd(r, end, what);
        let iid = 0, maskLen = 0, flags = 0;
        let inner: Address | undefined;
        while (r.pos < e) {
          const t = r.uint32();
          switch (t >>> 3) {
            case IID.iid: expectWire(t, VARINT, what); iid = r.uint32(); break;
            case IID.mask_len: expectWire(t, VARINT, what); maskLen = r.uint32(); break;
            case IID.flags: expectWire(t, VARINT, what); flags = r.uint32(); break;
            case IID.address: expectWire(t, LENGTH_DELIMITED, what); inner = readAddress(r, subEnd(r, e, what), what, depth + 1); break;
            default: r.skipType(t & 7);
          }
        }
        if (!inner) throw new WireError(`${what}: address missing`);
        address = { afi: 'lcaf-iid', iid, maskLen, flags, address: inner };
        break;
      }
      case A.lcaf_afi_list: {
        expectWire(tag, LENGTH_DELIMITED, what);
        const e = subEnd(r, end, what);
        let flags = 0;
        const addresses: Address[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          switch (t >>> 3) {
            case AFL.flags: expectWire(t, VARINT, what); flags = r.uint32(); break;
            case AFL.addresses: expectWire(t, LENGTH_DELIMITED, what); addresses.push(readAddress(r, subEnd(r, e, what), what, depth + 1)); break;
            default: r.skipType(t & 7);
          }
        }
        address = { afi: 'lcaf-afi-list', flags, addresses };
        break;
      }
      case A.lcaf: {
        expectWire(tag, LENGTH_DELIMITED, what);
        const e = subEnd(r, end, what);
        let lcafType = 0, rsvd1 = 0, flags = 0, rsvd2 = 0;
        let payload = new Uint8Array(0);
        while (r.pos < e) {
          const t = r.uint32();
          switch (t >>> 3) {
            case OPQ.lcaf_type: expectWire(t, VARINT, what); lcafType = r.uint32(); break;
            case OPQ.rsvd1: expectWire(t, VARINT, what); rsvd1 = r.uint32(); break;
            case OPQ.flags: expectWire(t, VARINT, what); flags = r.uint32(); break;
            case OPQ.rsvd2: expectWire(t, VARINT, what); rsvd2 = r.uint32(); break;
            case OPQ.payload: expectWire(t, LENGTH_DELIMITED, what); payload = new Uint8Array(r.bytes()); break;
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
      case EID.iid: expectWire(tag, VARINT, what); iid = r.uint32(); break;
      case EID.address: expectWire(tag, LENGTH_DELIMITED, what); address = readAddress(r, subEnd(r, end, what), `${what} EID`); break;
      case EID.length: expectWire(tag, VARINT, what); length = r.uint32(); break;
      case EID.iid_mask_len: expectWire(tag, VARINT, what); iidMaskLen = r.uint32(); break;
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
      case LOC.priority: expectWire(tag, VARINT, 'locator'); priority = r.uint32(); break;
      case LOC.weight: expectWire(tag, VARINT, 'locator'); weight = r.uint32(); break;
      case LOC.m_priority: expectWire(tag, VARINT, 'locator'); mPriority = r.uint32(); break;
      case LOC.m_weight: expectWire(tag, VARINT, 'locator'); mWeight = r.uint32(); break;
      case LOC.local: expectWire(tag, VARINT, 'locator'); local = r.bool(); break;
      case LOC.probed: expectWire(tag, VARINT, 'locator'); probed = r.bool(); break;
      case LOC.reachable: expectWire(tag, VARINT, 'locator'); reachable = r.bool(); break;
      case LOC.rloc: expectWire(tag, LENGTH_DELIMITED, 'locator'); rloc = readAddress(r, subEnd(r, end, 'RLOC'), 'RLOC'); break;
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

/** Where the run of consecutive locator fields (MappingRecord.locators) starting at r.pos ends; checks only their lengths. */
function locatorRunEnd(r: Reader, end: number): number {
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    if (tag !== ((REC.locators << 3) | LENGTH_DELIMITED)) {
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
      case REC.eid: expectWire(tag, LENGTH_DELIMITED, 'record'); eid = readEid(r, subEnd(r, end, 'record EID'), 'registration'); break;
      case REC.ttl: expectWire(tag, VARINT, 'record'); ttl = r.uint32(); break;
      case REC.action: expectWire(tag, VARINT, 'record'); action = r.uint32(); break;
      case REC.authoritative: expectWire(tag, VARINT, 'record'); authoritative = r.bool(); break;
      case REC.map_version: expectWire(tag, VARINT, 'record'); mapVersion = r.uint32(); break;
      case REC.locators:
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
      case END.address: expectWire(tag, LENGTH_DELIMITED, 'source'); address = r.string(); break;
      case END.port: expectWire(tag, VARINT, 'source'); port = r.uint32(); break;
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
      case REG.site: expectWire(tag, LENGTH_DELIMITED, 'site'); site = readString(r, end, Kind.site, interner, 'site'); break;
      case REG.etr_id: expectWire(tag, LENGTH_DELIMITED, 'ETR id'); etrId = readString(r, end, Kind.etrId, interner, 'ETR id'); break;
      case REG.source: expectWire(tag, LENGTH_DELIMITED, 'source'); source = readEndpoint(r, end, interner); break;
      case REG.xtr_id: expectWire(tag, LENGTH_DELIMITED, 'xTR-ID'); xtrId = new Uint8Array(r.bytes()); break;
      case REG.site_id: expectWire(tag, LENGTH_DELIMITED, 'site-ID'); siteId = new Uint8Array(r.bytes()); break;
      case REG.proxy_reply: expectWire(tag, VARINT, 'proxy_reply'); proxyReply = r.bool(); break;
      case REG.merge: expectWire(tag, VARINT, 'merge'); merge = r.bool(); break;
      case REG.record: expectWire(tag, LENGTH_DELIMITED, 'record'); record = readRecord(r, subEnd(r, end, 'record'), interner); break;
      case REG.claimed_at: expectWire(tag, FIXED64, 'claimed_at'); claimedAt = r.double(); break;
      case REG.last_refreshed: expectWire(tag, FIXED64, 'last_refreshed'); lastRefreshed = r.double(); break;
      case REG.expires_at: expectWire(tag, FIXED64, 'expires_at'); expiresAt = r.double(); break;
      case REG.left: expectWire(tag, VARINT, 'left'); left = r.bool(); break;
      case REG.auth: expectWire(tag, LENGTH_DELIMITED, 'auth'); auth = readAuth(r, subEnd(r, end, 'auth')); break;
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
      case AUTH.key_id: expectWire(tag, VARINT, 'auth'); keyId = r.uint32(); break;
      case AUTH.alg_id: expectWire(tag, VARINT, 'auth'); algId = r.uint32(); break;
      case AUTH.length: expectWire(tag, VARINT, 'auth'); length = r.uint32(); break;
      case AUTH.key_index: expectWire(tag, VARINT, 'auth'); keyIndex = r.uint32(); break;
      default: r.skipType(tag & 7);
    }
  }
  return { keyId, algId, length, keyIndex };
}

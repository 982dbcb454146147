// EID-records with their locators, shared by Map-Reply, Map-Register, Map-Notify and the
// Map-Reply record of a Map-Request.
//
//   Record TTL(32) | Locator Count(8) | EID mask-len(8) | ACT(3)|A|Reserved(12)
//   Rsvd(4)|Map-Version(12) | EID-AFI + EID | locators...
//   locator: Priority | Weight | M Priority | M Weight | Unused(13)|L|p|R | Loc-AFI + Locator
import { addressLength, decodeAddress, encodeAddress, writeU16, writeU32 } from './address.js';
import { readList } from './common.js';
import { decodeEid, eidLength, checkEid, encodeEid } from './eid.js';
import { checkUint, fail } from './errors.js';
import type { Reader } from './reader.js';
import type { Locator, MappingRecord } from './types.js';

/** Smallest EID-record: 10 header bytes + a 2-byte AFI. */
export const MIN_RECORD_LENGTH = 12;
/** Smallest locator: 6 bytes + a 2-byte AFI. */
const MIN_LOCATOR_LENGTH = 8;

const FLAG_LOCAL = 0x0004;
const FLAG_PROBED = 0x0002;
const FLAG_REACHABLE = 0x0001;

export function decodeRecord(r: Reader): MappingRecord {
  const at = r.pos;
  r.need(10, 'EID-record header');
  const b = r.buf;
  const ttl = b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  const locatorCount = b[at + 4]!;
  const maskLen = b[at + 5]!;
  const actByte = b[at + 6]!;
  const mapVersion = ((b[at + 8]! << 8) | b[at + 9]!) & 0x0fff;
  r.pos = at + 10;
  const eid = decodeEid(r, maskLen, at + 5);
  if (locatorCount * MIN_LOCATOR_LENGTH > r.end - r.pos) {
    fail(at + 4, `locator count ${locatorCount} exceeds the data (${r.end - r.pos} bytes left)`);
  }
  const locators = readList(r, locatorCount, decodeLocator);
  return {
    eid,
    ttl,
    action: actByte >> 5,
    authoritative: (actByte & 0x10) !== 0,
    mapVersion,
    locators,
  };
}

function decodeLocator(r: Reader): Locator {
  r.need(6, 'locator header');
  const b = r.buf;
  const p = r.pos;
  const flags = (b[p + 4]! << 8) | b[p + 5]!;
  r.pos = p + 6;
  const rloc = decodeAddress(r);
  return {
    priority: b[p]!,
    weight: b[p + 1]!,
    mPriority: b[p + 2]!,
    mWeight: b[p + 3]!,
    local: (flags & FLAG_LOCAL) !== 0,
    probed: (flags & FLAG_PROBED) !== 0,
    reachable: (flags & FLAG_REACHABLE) !== 0,
    rloc,
  };
}

/**
 * Records their creator promised never to change (`immutableRecord`), with their encoding once
 * it has been computed: a record answered many times is encoded once and copied after that.
 */
const immutable = new WeakMap<MappingRecord, Buffer | null>();

/** Marks `rec` (its EID and locators included) as never changing again, so its bytes may be cached. */
export function immutableRecord<R extends MappingRecord>(rec: R): R {
  if (!immutable.has(rec)) immutable.set(rec, null);
  return rec;
}

/**
 * The record asked about last and its answer: encoding a message asks for a record's length,
 * then for its bytes, one lookup in `immutable` serves both.
 */
let lastRecord: MappingRecord | undefined;
let lastEncoding: Buffer | undefined;

/** The cached encoding of an immutable record (encoded on first use); undefined for other records. */
function cachedEncoding(rec: MappingRecord): Buffer | undefined {
  if (rec === lastRecord) return lastEncoding;
  let cached = immutable.get(rec);
  if (cached === null) {
    cached = Buffer.allocUnsafeSlow(computeRecordLength(rec));
    writeRecord(rec, cached, 0);
    immutable.set(rec, cached);
  }
  lastRecord = rec;
  lastEncoding = cached;
  return cached;
}

export function recordLength(rec: MappingRecord): number {
  return cachedEncoding(rec)?.length ?? computeRecordLength(rec);
}

function computeRecordLength(rec: MappingRecord): number {
  let n = 10 + eidLength(rec.eid);
  for (const loc of rec.locators) n += 6 + addressLength(loc.rloc);
  return n;
}

export function recordsLength(records: readonly MappingRecord[]): number {
  let n = 0;
  for (const rec of records) n += recordLength(rec);
  return n;
}

export function encodeRecord(rec: MappingRecord, buf: Buffer, o: number): number {
  const cached = cachedEncoding(rec);
  if (cached === undefined) return writeRecord(rec, buf, o);
  buf.set(cached, o);
  return o + cached.length;
}

function writeRecord(rec: MappingRecord, buf: Buffer, o: number): number {
  checkUint(rec.ttl, 0xffffffff, o, 'record TTL');
  checkUint(rec.action, 7, o + 6, 'record action');
  checkUint(rec.mapVersion, 0x0fff, o + 8, 'map-version');
  if (rec.locators.length > 255) fail(o + 4, `${rec.locators.length} locators do not fit the 8-bit count`);
  checkEid(rec.eid, o + 5);
  writeU32(buf, o, rec.ttl);
  buf[o + 4] = rec.locators.length;
  buf[o + 5] = rec.eid.length;
  buf[o + 6] = (rec.action << 5) | (rec.authoritative ? 0x10 : 0);
  buf[o + 7] = 0;
  writeU16(buf, o + 8, rec.mapVersion);
  let p = encodeEid(rec.eid, buf, o + 10);
  for (const loc of rec.locators) {
    checkUint(loc.priority, 255, p, 'locator priority');
    checkUint(loc.weight, 255, p + 1, 'locator weight');
    checkUint(loc.mPriority, 255, p + 2, 'locator multicast priority');
    checkUint(loc.mWeight, 255, p + 3, 'locator multicast weight');
    buf[p] = loc.priority;
    buf[p + 1] = loc.weight;
    buf[p + 2] = loc.mPriority;
    buf[p + 3] = loc.mWeight;
    buf[p + 4] = 0;
    buf[p + 5] = (loc.local ? FLAG_LOCAL : 0) | (loc.probed ? FLAG_PROBED : 0) | (loc.reachable ? FLAG_REACHABLE : 0);
    p = encodeAddress(loc.rloc, buf, p + 6);
  }
  return p;
}

/** Reads `count` records whose count byte sat at `countAt`, refusing counts the data cannot hold. */
export function decodeRecords(r: Reader, count: number, countAt: number): MappingRecord[] {
  if (count * MIN_RECORD_LENGTH > r.end - r.pos) fail(countAt, `record count ${count} exceeds the data (${r.end - r.pos} bytes left)`);
  return readList(r, count, decodeRecord);
}

export function encodeRecords(records: readonly MappingRecord[], buf: Buffer, o: number): number {
  for (const rec of records) o = encodeRecord(rec, buf, o);
  return o;
}

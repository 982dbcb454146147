// Protobuf encoding of the persisted shapes (proto/livmap.proto). The schema is loaded at
// runtime with protobufjs; the conversions between our types and protobuf plain objects are
// written out by hand so both directions validate what they touch: a bad value is refused on
// write, and a damaged record is reported on read instead of coming back half-filled.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Address, EidPrefix, Locator, MappingRecord } from '../codec/types.js';
import { formatIpv4, formatIpv6, formatMac, parseIpv4Into, parseIpv6Into, parseMacInto } from '../codec/ip.js';
import type { KeyAlgorithm, Registration, Site, SiteKey, SitePrefix } from '../db/model.js';
import { readRegistration, type Interner } from './registration-reader.js';
import type { Requester } from '../db/model.js';
import type { Subscription } from '../db/model.js';

/** A value cannot be stored, or a stored value cannot be read back. */
export class StoreCodecError extends Error {
  override readonly name = 'StoreCodecError';
}

/** Finds `proto/livmap.proto` by walking up from this module: works from sources and from dist/. */
export function findProtoFile(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; ) {
    const candidate = join(dir, 'proto', 'livmap.proto');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`proto/livmap.proto not found above ${start}`);
    dir = parent;
  }
}

interface Types {
  readonly site: protobuf.Type;
  readonly mapping: protobuf.Type;
  readonly registration: protobuf.Type;
  readonly meta: protobuf.Type;
  readonly requesters: protobuf.Type;
  readonly subscription: protobuf.Type;
}

let types: Types | undefined;

function schema(): Types {
  if (!types) {
    const root = protobuf.loadSync(findProtoFile());
    types = {
      site: root.lookupType('livmap.v1.Site'),
      mapping: root.lookupType('livmap.v1.MappingRecord'),
      registration: root.lookupType('livmap.v1.Registration'),
      meta: root.lookupType('livmap.v1.StoreMeta'),
      requesters: root.lookupType('livmap.v1.RequesterSnapshot'),
      subscription: root.lookupType('livmap.v1.Subscription'),
    };
  }
  return types;
}

// Plain-object shapes of the protobuf messages (camelCase, as protobufjs presents them).
// On read every field may be missing: proto3 omits defaults.
interface PbAddress {
  none?: Record<string, never>;
  ipv4?: Uint8Array;
  ipv6?: Uint8Array;
  mac?: Uint8Array;
  lcafIid?: { iid?: number; maskLen?: number; flags?: number; address?: PbAddress };
  lcafAfiList?: { flags?: number; addresses?: PbAddress[] };
  lcaf?: { lcafType?: number; rsvd1?: number; flags?: number; rsvd2?: number; payload?: Uint8Array };
}
interface PbEidPrefix {
  iid?: number;
  address?: PbAddress;
  length?: number;
  iidMaskLen?: number | null;
}
interface PbLocator {
  priority?: number;
  weight?: number;
  mPriority?: number;
  mWeight?: number;
  local?: boolean;
  probed?: boolean;
  reachable?: boolean;
  rloc?: PbAddress;
}
interface PbMappingRecord {
  eid?: PbEidPrefix;
  ttl?: number;
  action?: number;
  authoritative?: boolean;
  mapVersion?: number;
  locators?: PbLocator[];
}
interface PbSite {
  name?: string;
  description?: string;
  keys?: Array<{ alg?: number; secret?: string }>;
  prefixes?: Array<{ eid?: PbEidPrefix; acceptMoreSpecifics?: boolean; moreSpecificTtl?: number }>;
}
interface PbRegistration {
  site?: string;
  etrId?: string;
  source?: { address?: string; port?: number };
  xtrId?: Uint8Array;
  siteId?: Uint8Array;
  proxyReply?: boolean;
  merge?: boolean;
  record?: PbMappingRecord;
  claimedAt?: number;
  lastRefreshed?: number;
  expiresAt?: number;
  left?: boolean;
  auth?: { keyId?: number; algId?: number; length?: number; keyIndex?: number };
}

const KEY_ALG_TO_PB: Readonly<Record<KeyAlgorithm, number>> = { 'hmac-sha1': 1, 'hmac-sha256': 2 };
const KEY_ALG_FROM_PB: Readonly<Record<number, KeyAlgorithm>> = { 1: 'hmac-sha1', 2: 'hmac-sha256' };

function uint(value: number, bits: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 2 ** bits - 1) {
    throw new StoreCodecError(`${what} must be an integer 0..${2 ** bits - 1}, got ${value}`);
  }
  return value;
}

function bytesOf(parse: (text: string, out: Uint8Array) => boolean, size: number, text: string, what: string): Uint8Array {
  const out = new Uint8Array(size);
  if (!parse(text, out)) throw new StoreCodecError(`${what}: '${text}' is not a valid address`);
  return out;
}

/** A copy as a plain Uint8Array (protobufjs hands out Buffers that share the decode input). */
function copyBytes(b: Uint8Array | undefined): Uint8Array {
  return b ? Uint8Array.prototype.slice.call(b) : new Uint8Array(0);
}

function addressToPb(a: Address, what: string): PbAddress {
  switch (a.afi) {
    case 'none':
      return { none: {} };
    case 'ipv4':
      return { ipv4: bytesOf(parseIpv4Into, 4, a.ip, what) };
    case 'ipv6':
      return { ipv6: bytesOf(parseIpv6Into, 16, a.ip, what) };
    case 'mac':
      return { mac: bytesOf(parseMacInto, 6, a.mac, what) };
    case 'lcaf-iid':
      return {
        lcafIid: {
          iid: uint(a.iid, 32, `${what} iid`),
          maskLen: uint(a.maskLen, 8, `${what} mask-len`),
          flags: uint(a.flags, 8, `${what} flags`),
          address: addressToPb(a.address, what),
        },
      };
    case 'lcaf-afi-list':
      return { lcafAfiList: { flags: uint(a.flags, 8, `${what} flags`), addresses: a.addresses.map((x) => addressToPb(x, what)) } };
    case 'lcaf':
      return {
        lcaf: {
          lcafType: uint(a.lcafType, 8, `${what} LCAF type`),
          rsvd1: uint(a.rsvd1, 8, `${what} rsvd1`),
          flags: uint(a.flags, 8, `${what} flags`),
          rsvd2: uint(a.rsvd2, 8, `${what} rsvd2`),
          payload: a.payload,
        },
      };
  }
}

function fixedBytes(b: Uint8Array, size: number, what: string): Uint8Array {
  if (b.length !== size) throw new StoreCodecError(`${what}: ${b.length} address bytes, expected ${size}`);
  return b;
}

function addressFromPb(p: PbAddress | undefined, what: string): Address {
  if (!p) throw new StoreCodecError(`${what}: address missing`);
  if (p.none) return { afi: 'none' };
  if (p.ipv4) return { afi: 'ipv4', ip: formatIpv4(fixedBytes(p.ipv4, 4, what)) };
  if (p.ipv6) return { afi: 'ipv6', ip: formatIpv6(fixedBytes(p.ipv6, 16, what)) };
  if (p.mac) return { afi: 'mac', mac: formatMac(fixedBytes(p.mac, 6, what)) };
  if (p.lcafIid) {
    const x = p.lcafIid;
    return { afi: 'lcaf-iid', iid: x.iid ?? 0, maskLen: x.maskLen ?? 0, flags: x.flags ?? 0, address: addressFromPb(x.address, what) };
  }
  if (p.lcafAfiList) {
    return { afi: 'lcaf-afi-list', flags: p.lcafAfiList.flags ?? 0, addresses: (p.lcafAfiList.addresses ?? []).map((x) => addressFromPb(x, what)) };
  }
  if (p.lcaf) {
    const x = p.lcaf;
    return { afi: 'lcaf', lcafType: x.lcafType ?? 0, rsvd1: x.rsvd1 ?? 0, flags: x.flags ?? 0, rsvd2: x.rsvd2 ?? 0, payload: copyBytes(x.payload) };
  }
  throw new StoreCodecError(`${what}: address has no known variant`);
}

function eidToPb(e: EidPrefix): PbEidPrefix {
  const out: PbEidPrefix = { iid: uint(e.iid, 32, 'EID instance ID'), address: addressToPb(e.address, 'EID'), length: uint(e.length, 8, 'EID prefix length') };
  if (e.iidMaskLen !== undefined) out.iidMaskLen = uint(e.iidMaskLen, 8, 'IID mask-len');
  return out;
}

function eidFromPb(p: PbEidPrefix | undefined, what: string): EidPrefix {
  if (!p) throw new StoreCodecError(`${what}: EID prefix missing`);
  const eid: EidPrefix = { iid: p.iid ?? 0, address: addressFromPb(p.address, `${what} EID`), length: p.length ?? 0 };
  return p.iidMaskLen !== undefined && p.iidMaskLen !== null ? { ...eid, iidMaskLen: p.iidMaskLen } : eid;
}

function locatorToPb(l: Locator): PbLocator {
  return {
    priority: uint(l.priority, 8, 'locator priority'),
    weight: uint(l.weight, 8, 'locator weight'),
    mPriority: uint(l.mPriority, 8, 'locator m-priority'),
    mWeight: uint(l.mWeight, 8, 'locator m-weight'),
    local: l.local,
    probed: l.probed,
    reachable: l.reachable,
    rloc: addressToPb(l.rloc, 'RLOC'),
  };
}

function locatorFromPb(p: PbLocator): Locator {
  return {
    priority: p.priority ?? 0,
    weight: p.weight ?? 0,
    mPriority: p.mPriority ?? 0,
    mWeight: p.mWeight ?? 0,
    local: p.local ?? false,
    probed: p.probed ?? false,
    reachable: p.reachable ?? false,
    rloc: addressFromPb(p.rloc, 'RLOC'),
  };
}

function mappingToPb(m: MappingRecord): PbMappingRecord {
  return {
    eid: eidToPb(m.eid),
    ttl: uint(m.ttl, 32, 'record TTL'),
    action: uint(m.action, 3, 'record action'),
    authoritative: m.authoritative,
    mapVersion: uint(m.mapVersion, 12, 'map-version'),
    locators: m.locators.map(locatorToPb),
  };
}

function mappingFromPb(p: PbMappingRecord | undefined, what: string): MappingRecord {
  if (!p) throw new StoreCodecError(`${what}: mapping record missing`);
  return {
    eid: eidFromPb(p.eid, what),
    ttl: p.ttl ?? 0,
    action: p.action ?? 0,
    authoritative: p.authoritative ?? false,
    mapVersion: p.mapVersion ?? 0,
    locators: (p.locators ?? []).map(locatorFromPb),
  };
}

function siteKeyFromPb(k: { alg?: number; secret?: string }): SiteKey {
  const alg = KEY_ALG_FROM_PB[k.alg ?? 0];
  if (!alg) throw new StoreCodecError(`site key: unknown algorithm ${k.alg ?? 0}`);
  return { alg, secret: k.secret ?? '' };
}

function sitePrefixFromPb(p: { eid?: PbEidPrefix; acceptMoreSpecifics?: boolean; moreSpecificTtl?: number }): SitePrefix {
  return {
    eid: eidFromPb(p.eid, 'site prefix'),
    acceptMoreSpecifics: p.acceptMoreSpecifics ?? false,
    ...(p.moreSpecificTtl ? { moreSpecificTtl: p.moreSpecificTtl } : {}),
  };
}

function epochMs(value: number, what: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new StoreCodecError(`${what} must be a number of epoch milliseconds`);
  return value;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, defaults: false, oneofs: false };

function encode(type: protobuf.Type, plain: object): Uint8Array {
  const problem = type.verify(plain);
  if (problem) throw new StoreCodecError(`${type.name}: ${problem}`);
  return type.encode(type.fromObject(plain)).finish();
}

function decode(type: protobuf.Type, bytes: Uint8Array): object {
  try {
    return type.toObject(type.decode(bytes), TO_OBJECT);
  } catch (err) {
    throw new StoreCodecError(`${type.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function encodeSite(site: Site): Uint8Array {
  if (!site.name) throw new StoreCodecError('site name must not be empty');
  const plain: PbSite = {
    name: site.name,
    keys: site.keys.map((k) => {
      const alg = KEY_ALG_TO_PB[k.alg];
      if (!alg) throw new StoreCodecError(`site ${site.name}: unknown key algorithm ${String(k.alg)}`);
      return { alg, secret: k.secret };
    }),
    prefixes: site.prefixes.map((p) => ({ eid: eidToPb(p.eid), acceptMoreSpecifics: p.acceptMoreSpecifics, moreSpecificTtl: p.moreSpecificTtl ?? 0 })),
  };
  if (site.description !== undefined) plain.description = site.description;
  return encode(schema().site, plain);
}

export function decodeSite(bytes: Uint8Array): Site {
  const p = decode(schema().site, bytes) as PbSite;
  if (!p.name) throw new StoreCodecError('site without a name');
  const keys = (p.keys ?? []).map(siteKeyFromPb);
  const prefixes = (p.prefixes ?? []).map(sitePrefixFromPb);
  return p.description !== undefined ? { name: p.name, description: p.description, keys, prefixes } : { name: p.name, keys, prefixes };
}

export function encodeMapping(m: MappingRecord): Uint8Array {
  return encode(schema().mapping, mappingToPb(m));
}

export function decodeMapping(bytes: Uint8Array): MappingRecord {
  return mappingFromPb(decode(schema().mapping, bytes) as PbMappingRecord, 'mapping');
}

export function encodeRegistration(r: Registration): Uint8Array {
  const plain: PbRegistration = {
    site: r.site,
    etrId: r.etrId,
    source: { address: r.source.address, port: uint(r.source.port, 16, 'source port') },
    proxyReply: r.proxyReply,
    merge: r.merge,
    record: mappingToPb(r.record),
    claimedAt: epochMs(r.claimedAt, 'claimedAt'),
    lastRefreshed: epochMs(r.lastRefreshed, 'lastRefreshed'),
    expiresAt: epochMs(r.expiresAt, 'expiresAt'),
  };
  if (r.xtrId !== undefined) plain.xtrId = r.xtrId;
  if (r.siteId !== undefined) plain.siteId = r.siteId;
  if (r.left) plain.left = true;
  if (r.auth) {
    plain.auth = { keyId: uint(r.auth.keyId, 8, 'key ID'), algId: uint(r.auth.algId, 8, 'algorithm ID'), length: uint(r.auth.length, 8, 'auth length'), keyIndex: uint(r.auth.keyIndex, 16, 'key index') };
  }
  return encode(schema().registration, plain);
}

/**
 * Decodes a stored registration. Pass one Interner per load so registrations share their
 * repeated values (site, ETR id, source, locator lists).
 */
export function decodeRegistration(bytes: Uint8Array, interner?: Interner): Registration {
  try {
    return readRegistration(bytes, interner);
  } catch (err) {
    throw new StoreCodecError(`Registration: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Replay-window nonces: 8 bytes each, big-endian, as on the wire. */
export function encodeNonces(nonces: readonly bigint[]): Uint8Array {
  const out = Buffer.alloc(nonces.length * 8);
  nonces.forEach((nonce, i) => out.writeBigUInt64BE(nonce, i * 8));
  return out;
}

export function decodeNonces(bytes: Uint8Array): bigint[] {
  if (bytes.length % 8 !== 0) throw new StoreCodecError(`nonces: ${bytes.length} bytes is not a whole number of 8-byte nonces`);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[] = [];
  for (let at = 0; at < bytes.length; at += 8) out.push(view.readBigUInt64BE(at));
  return out;
}

interface PbRequester {
  itr?: string;
  sourceEid?: PbAddress;
  eid?: PbEidPrefix;
  expiresAt?: number;
  xtrId?: Uint8Array;
  siteId?: Uint8Array;
}

/**
 * A RequesterSnapshot of `requesters`. Its one field is repeated, so the encodings of consecutive
 * parts of a table, concatenated, are the encoding of the whole (what the requester saver relies on).
 */
export function encodeRequesters(requesters: readonly Requester[]): Uint8Array {
  const plain = requesters.map((r): PbRequester => ({
    itr: r.itr,
    sourceEid: addressToPb(r.sourceEid, 'requester source EID'),
    eid: eidToPb(r.eid),
    expiresAt: epochMs(r.expiresAt, 'requester expiresAt'),
    ...(r.subscription ? { xtrId: r.subscription.xtrId, ...(r.subscription.siteId ? { siteId: r.subscription.siteId } : {}) } : {}),
  }));
  return encode(schema().requesters, { requesters: plain });
}

export function decodeRequesters(bytes: Uint8Array): Requester[] {
  const p = decode(schema().requesters, bytes) as { requesters?: PbRequester[] };
  return (p.requesters ?? []).map((r): Requester => ({
    itr: r.itr ?? '',
    sourceEid: addressFromPb(r.sourceEid, 'requester source EID'),
    eid: eidFromPb(r.eid, 'requester'),
    expiresAt: r.expiresAt ?? 0,
    ...(r.xtrId ? { subscription: { xtrId: copyBytes(r.xtrId), ...(r.siteId ? { siteId: copyBytes(r.siteId) } : {}) } } : {}),
  }));
}

interface PbSubscription {
  xtrId?: Uint8Array;
  siteId?: Uint8Array;
  eid?: PbEidPrefix;
  itr?: string;
  port?: number;
  sourceEid?: PbAddress;
  nonce?: Uint8Array;
  expiresAt?: number;
}

export function encodeSubscription(s: Subscription): Uint8Array {
  if (s.xtrId.length !== 16) throw new StoreCodecError('subscription xTR-ID must be 16 bytes');
  const nonce = Buffer.alloc(8);
  nonce.writeBigUInt64BE(s.nonce);
  const plain: PbSubscription = {
    xtrId: s.xtrId,
    eid: eidToPb(s.eid),
    itr: s.itr,
    port: uint(s.port, 16, 'subscriber port'),
    sourceEid: addressToPb(s.sourceEid, 'subscriber source EID'),
    nonce,
    expiresAt: epochMs(s.expiresAt, 'subscription expiresAt'),
  };
  if (s.siteId !== undefined) plain.siteId = s.siteId;
  return encode(schema().subscription, plain);
}

export function decodeSubscription(bytes: Uint8Array): Subscription {
  const p = decode(schema().subscription, bytes) as PbSubscription;
  if (!p.xtrId || p.xtrId.length !== 16) throw new StoreCodecError('subscription without a 16-byte xTR-ID');
  if (!p.nonce || p.nonce.length !== 8) throw new StoreCodecError('subscription without an 8-byte nonce');
  const base: Subscription = {
    xtrId: copyBytes(p.xtrId),
    eid: eidFromPb(p.eid, 'subscription'),
    itr: p.itr ?? '',
    port: p.port ?? 0,
    sourceEid: addressFromPb(p.sourceEid, 'subscriber source EID'),
    nonce: Buffer.from(p.nonce).readBigUInt64BE(0),
    expiresAt: p.expiresAt ?? 0,
  };
  return p.siteId && p.siteId.length ? { ...base, siteId: copyBytes(p.siteId) } : base;
}

export function encodeMeta(schemaVersion: number): Uint8Array {
  return encode(schema().meta, { schemaVersion: uint(schemaVersion, 32, 'schema version') });
}

export function decodeMeta(bytes: Uint8Array): number {
  const p = decode(schema().meta, bytes) as { schemaVersion?: number };
  return p.schemaVersion ?? 0;
}

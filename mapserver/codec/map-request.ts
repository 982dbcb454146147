// Map-Request (type 1), RFC 9301 §5.2 with RFC 9437 §5's N and I bits:
//
//   Type=1 |A|M|P|S|p|s|R|I| Rsvd(5) |L|D| IRC(5) | Record Count
//   Nonce(64) | Source-EID-AFI + EID | (IRC+1) x ITR-RLOC-AFI + RLOC
//   records: |N| Reserved(7) | mask-len(8) | EID-AFI + prefix
//   [Map-Reply record when M] [xTR-ID(128) + site-ID(64) when I]
//
// R (0x20 of byte 1) is reserved in RFC 9301 §5.2: written 0, ignored on receipt (lispers.net
// uses it as its "mobile node" flag, so reading it as anything would misread lispers.net).
// lispers.net (lisp.py, lisp_map_request.encode) sends a subscription with N in the record, the
// I bit clear (it sets its xTR-ID flag only after packing the header) and the 128-bit xTR-ID
// alone after the records: with N set, I clear and exactly 16 bytes left, those are its xTR-ID.
// Its nonce is in host byte order; livmap treats nonces as opaque and echoes them as read.
import { addressLength, decodeAddress, encodeAddress } from './address.js';
import { readList, readXtrSite, writeNonce, writeXtrSite } from './common.js';
import { checkEid, decodeEid, eidLength, encodeEid } from './eid.js';
import { fail } from './errors.js';
import { parseIpv4Into, parseIpv6Into } from './ip.js';
import type { Reader } from './reader.js';
import { decodeRecord, encodeRecord, recordLength } from './record.js';
import type { EidPrefix, MappingRecord, MapRequest } from './types.js';

/** Smallest EID record of a Map-Request: reserved, mask-len and a 2-byte AFI. */
const MIN_REQUEST_RECORD = 4;
const XTR_ID_LENGTH = 16;

/** RFC 9437 §5: the N bit in an EID record's reserved byte. */
const N_BIT = 0x80;

/**
 * Whether a record of the Map-Request being decoded had N set. A module variable rather than an
 * object and a closure per request: decoding is synchronous and this is the per-request hot path.
 */
let sawN = false;

/** |N| Reserved(7) | mask-len(8) | EID-AFI + prefix; sets `sawN` when N is set. */
function decodeRequestRecord(r: Reader): EidPrefix {
  r.need(2, 'Map-Request record header');
  if ((r.buf[r.pos]! & N_BIT) !== 0) sawN = true;
  const maskAt = r.pos + 1;
  const maskLen = r.buf[maskAt]!;
  r.pos += 2;
  return decodeEid(r, maskLen, maskAt);
}

export function decodeMapRequest(r: Reader): MapRequest {
  const at = r.pos;
  r.need(12, 'Map-Request header');
  const b = r.buf;
  const b0 = b[at]!;
  const b1 = b[at + 1]!;
  const b2 = b[at + 2]!;
  const count = b[at + 3]!;
  r.pos = at + 4;
  const nonce = r.u64('nonce');
  const sourceEid = decodeAddress(r);
  const itrCount = (b2 & 0x1f) + 1;
  if (itrCount * 2 > r.end - r.pos) fail(at + 2, `ITR-RLOC count ${itrCount} exceeds the data (${r.end - r.pos} bytes left)`);
  const itrRlocs = readList(r, itrCount, decodeAddress);
  if (count * MIN_REQUEST_RECORD > r.end - r.pos) fail(at + 3, `record count ${count} exceeds the data (${r.end - r.pos} bytes left)`);
  sawN = false;
  const records = readList(r, count, decodeRequestRecord);
  const subscribed = sawN;
  const mapDataPresent = (b0 & 0x04) !== 0;
  let mapReply: MappingRecord | undefined;
  if (mapDataPresent) mapReply = decodeRecord(r);
  const out: MapRequest = {
    type: 'map-request',
    authoritative: (b0 & 0x08) !== 0,
    mapDataPresent,
    probe: (b0 & 0x02) !== 0,
    smr: (b0 & 0x01) !== 0,
    pitr: (b1 & 0x80) !== 0,
    smrInvoked: (b1 & 0x40) !== 0,
    notifyRequested: subscribed,
    localXtr: (b2 & 0x40) !== 0,
    dontMapReply: (b2 & 0x20) !== 0,
    nonce,
    sourceEid,
    itrRlocs,
    records,
  };
  // Optional keys are added only when present so decode(encode(m)) deep-equals m.
  if (mapReply) (out as { mapReply?: MappingRecord }).mapReply = mapReply;
  const iBit = (b1 & 0x10) !== 0;
  const lispersLayout = subscribed && r.end - r.pos === XTR_ID_LENGTH;
  if (iBit && !lispersLayout) {
    const { xtrId, siteId } = readXtrSite(r);
    (out as { xtrId?: Uint8Array }).xtrId = xtrId;
    (out as { siteId?: Uint8Array }).siteId = siteId;
  } else if (lispersLayout) {
    // lispers.net's layout: the xTR-ID alone (I clear; or set, without a site-ID).
    (out as { xtrId?: Uint8Array }).xtrId = r.bytes(XTR_ID_LENGTH, 'xTR-ID');
  }
  return out;
}

export function mapRequestLength(m: MapRequest): number {
  let n = 12 + addressLength(m.sourceEid);
  for (const a of m.itrRlocs) n += addressLength(a);
  for (const e of m.records) n += 2 + eidLength(e);
  if (m.mapReply) n += recordLength(m.mapReply);
  if (m.xtrId !== undefined) n += m.siteId !== undefined ? 24 : XTR_ID_LENGTH;
  return n;
}

export function encodeMapRequest(m: MapRequest, buf: Buffer, o: number): number {
  const itr = m.itrRlocs.length;
  if (itr < 1 || itr > 32) fail(o + 2, `a Map-Request needs 1..32 ITR-RLOCs, not ${itr}`);
  if (m.records.length > 255) fail(o + 3, `${m.records.length} records do not fit the 8-bit count`);
  if (m.mapDataPresent !== (m.mapReply !== undefined)) fail(o, 'the M bit (mapDataPresent) must be set exactly when mapReply is given');
  const hasXtr = m.xtrId !== undefined;
  if (!hasXtr && m.siteId !== undefined) fail(o + 1, 'siteId given without xtrId');
  // The RFC 9437 layout (I bit) needs a site-ID; an xTR-ID alone is lispers.net's, which only a
  // subscription (N) announces.
  const rfcLayout = hasXtr && m.siteId !== undefined;
  if (hasXtr && !rfcLayout && !m.notifyRequested) fail(o + 1, 'an xTR-ID without site-ID needs the N bit (lispers.net layout)');
  if (hasXtr && !rfcLayout && (!(m.xtrId instanceof Uint8Array) || m.xtrId.length !== XTR_ID_LENGTH)) fail(o + 1, 'xTR-ID must be 16 bytes');
  buf[o] = 0x10 | (m.authoritative ? 0x08 : 0) | (m.mapDataPresent ? 0x04 : 0) | (m.probe ? 0x02 : 0) | (m.smr ? 0x01 : 0);
  buf[o + 1] = (m.pitr ? 0x80 : 0) | (m.smrInvoked ? 0x40 : 0) | (rfcLayout ? 0x10 : 0);
  buf[o + 2] = (m.localXtr ? 0x40 : 0) | (m.dontMapReply ? 0x20 : 0) | (itr - 1);
  buf[o + 3] = m.records.length;
  writeNonce(buf, o + 4, m.nonce);
  let p = encodeAddress(m.sourceEid, buf, o + 12);
  for (const a of m.itrRlocs) p = encodeAddress(a, buf, p);
  for (const e of m.records) {
    checkEid(e, p + 1);
    buf[p] = m.notifyRequested ? N_BIT : 0;
    buf[p + 1] = e.length;
    p = encodeEid(e, buf, p + 2);
  }
  if (m.mapReply) p = encodeRecord(m.mapReply, buf, p);
  if (rfcLayout) p = writeXtrSite(buf, p, m.xtrId, m.siteId);
  else if (hasXtr) {
    buf.set(m.xtrId!, p);
    p += XTR_ID_LENGTH;
  }
  return p;
}

/**
 * Encodes Map-Requests that share everything but their one EID record (a move's SMRs: one per
 * ITR, each naming that ITR's own EID). The record's address bytes end such a message, so once
 * one record of an IID / family / length has been encoded, the next of the same shape is that
 * encoding with the address bytes rewritten: a copy instead of a full encode per ITR.
 */
const MAX_SHAPES = 8;

export function singleRecordVariants(base: Omit<MapRequest, 'records'>): (record: EidPrefix) => Buffer {
  const encodeFull = (record: EidPrefix): Buffer => {
    const m: MapRequest = { ...base, records: [record] };
    const buf = Buffer.alloc(mapRequestLength(m));
    encodeMapRequest(m, buf, 0);
    return buf;
  };
  // Anything after the records (a Map-Reply record, an xTR-ID) would move the address bytes.
  const patchable = base.mapReply === undefined && base.xtrId === undefined;
  // One template per IID / family / length, found by a scan: a fan-out has one or two shapes
  // (no key string built per ITR). Past MAX_SHAPES, records are encoded in full.
  const shapes: Array<{ readonly iid: number; readonly afi: 'ipv4' | 'ipv6'; readonly length: number; readonly template: Buffer }> = [];
  return (record) => {
    const address = record.address;
    if (!patchable || (address.afi !== 'ipv4' && address.afi !== 'ipv6')) return encodeFull(record);
    let template: Buffer | undefined;
    for (const shape of shapes) {
      if (shape.iid === record.iid && shape.afi === address.afi && shape.length === record.length) {
        template = shape.template;
        break;
      }
    }
    if (!template) {
      const bytes = encodeFull(record);
      if (shapes.length < MAX_SHAPES) shapes.push({ iid: record.iid, afi: address.afi, length: record.length, template: bytes });
      return Buffer.from(bytes);
    }
    const bytes = Buffer.from(template);
    const ok = address.afi === 'ipv4' ? parseIpv4Into(address.ip, bytes, bytes.length - 4) : parseIpv6Into(address.ip, bytes, bytes.length - 16);
    if (!ok) return encodeFull(record); // the full encoder names the problem
    return bytes;
  };
}

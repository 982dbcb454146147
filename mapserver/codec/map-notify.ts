// Map-Notify (type 4) and Map-Notify-Ack (type 5, same format), RFC 9301 §5.7:
//   Type |I|R| Reserved(18) | Record Count, nonce, key field, auth length, auth data, records,
//   [xTR-ID + site-ID when I].
import { checkAuth, decodeAuth, encodeAuth } from './auth.js';
import { readXtrSite, writeNonce, writeXtrSite } from './common.js';
import { fail } from './errors.js';
import type { Reader } from './reader.js';
import { decodeRecords, encodeRecords, recordsLength } from './record.js';
import type { MapNotify } from './types.js';

export function decodeMapNotify(r: Reader): MapNotify {
  const at = r.pos;
  r.need(16, 'Map-Notify header');
  const b = r.buf;
  const b0 = b[at]!;
  const count = b[at + 3]!;
  r.pos = at + 4;
  const nonce = r.u64('nonce');
  const auth = decodeAuth(r);
  const records = decodeRecords(r, count, at + 3);
  const xtrIdPresent = (b0 & 0x08) !== 0;
  const out: MapNotify = {
    type: b0 >> 4 === 5 ? 'map-notify-ack' : 'map-notify',
    xtrIdPresent,
    rtr: (b0 & 0x04) !== 0,
    nonce,
    auth,
    records,
  };
  if (xtrIdPresent) {
    const { xtrId, siteId } = readXtrSite(r);
    (out as { xtrId?: Uint8Array }).xtrId = xtrId;
    (out as { siteId?: Uint8Array }).siteId = siteId;
  }
  return out;
}

export function mapNotifyLength(m: MapNotify): number {
  return 16 + m.auth.authData.length + recordsLength(m.records) + (m.xtrIdPresent ? 24 : 0);
}

export function encodeMapNotify(m: MapNotify, buf: Buffer, o: number): number {
  if (m.records.length > 255) fail(o + 3, `${m.records.length} records do not fit the 8-bit count`);
  if (!m.xtrIdPresent && (m.xtrId !== undefined || m.siteId !== undefined)) fail(o, 'xtrId/siteId given without the I bit (xtrIdPresent)');
  checkAuth(m.auth, o + 12);
  buf[o] = (m.type === 'map-notify-ack' ? 0x50 : 0x40) | (m.xtrIdPresent ? 0x08 : 0) | (m.rtr ? 0x04 : 0);
  buf[o + 1] = 0;
  buf[o + 2] = 0;
  buf[o + 3] = m.records.length;
  writeNonce(buf, o + 4, m.nonce);
  let p = encodeAuth(m.auth, buf, o + 12);
  p = encodeRecords(m.records, buf, p);
  if (m.xtrIdPresent) p = writeXtrSite(buf, p, m.xtrId, m.siteId);
  return p;
}

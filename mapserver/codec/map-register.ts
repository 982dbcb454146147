// Map-Register (type 3), RFC 9301 §5.6:
//
//   Type=3 |P|S|I|R'| Reserved(11) |E|T|a|R|M| Record Count
//   Nonce(64) | Key ID(8) | Algorithm ID(8) | Auth Data Length(16) | Auth Data
//   records... | [xTR-ID(128) + site-ID(64) when I]
//
// Bit 7 (R' above) is the RTR bit of the LISP NAT-traversal spec, which is where OOR and tshark
// ("R bit (Built for an RTR)", mask 0x010000 of the first 24 bits) put it; RFC 9301's own R bit
// in byte 2 is reserved and is ignored/written as 0. `a` is the merge-request bit.
import { checkAuth, decodeAuth, encodeAuth } from './auth.js';
import { readXtrSite, writeNonce, writeXtrSite } from './common.js';
import { fail } from './errors.js';
import type { Reader } from './reader.js';
import { decodeRecords, encodeRecords, recordsLength } from './record.js';
import type { MapRegister } from './types.js';

export const MAP_REGISTER_BITS = {
  proxyReply: 0x08, // byte 0
  security: 0x04, // byte 0
  xtrIdPresent: 0x02, // byte 0
  rtr: 0x01, // byte 0
  eidNotify: 0x10, // byte 2
  ttlTimeout: 0x08, // byte 2
  merge: 0x04, // byte 2
  wantMapNotify: 0x01, // byte 2
} as const;

export function decodeMapRegister(r: Reader): MapRegister {
  const at = r.pos;
  r.need(16, 'Map-Register header');
  const b = r.buf;
  const b0 = b[at]!;
  const b2 = b[at + 2]!;
  const count = b[at + 3]!;
  r.pos = at + 4;
  const nonce = r.u64('nonce');
  const auth = decodeAuth(r);
  const records = decodeRecords(r, count, at + 3);
  const xtrIdPresent = (b0 & MAP_REGISTER_BITS.xtrIdPresent) !== 0;
  const out: MapRegister = {
    type: 'map-register',
    proxyReply: (b0 & MAP_REGISTER_BITS.proxyReply) !== 0,
    security: (b0 & MAP_REGISTER_BITS.security) !== 0,
    xtrIdPresent,
    rtr: (b0 & MAP_REGISTER_BITS.rtr) !== 0,
    wantMapNotify: (b2 & MAP_REGISTER_BITS.wantMapNotify) !== 0,
    merge: (b2 & MAP_REGISTER_BITS.merge) !== 0,
    nonce,
    auth,
    records,
  };
  const w = out as { eidNotify?: boolean; ttlTimeout?: boolean; xtrId?: Uint8Array; siteId?: Uint8Array };
  if (b2 & MAP_REGISTER_BITS.eidNotify) w.eidNotify = true;
  if (b2 & MAP_REGISTER_BITS.ttlTimeout) w.ttlTimeout = true;
  if (xtrIdPresent) {
    const { xtrId, siteId } = readXtrSite(r);
    w.xtrId = xtrId;
    w.siteId = siteId;
  }
  return out;
}

export function mapRegisterLength(m: MapRegister): number {
  return 16 + m.auth.authData.length + recordsLength(m.records) + (m.xtrIdPresent ? 24 : 0);
}

export function encodeMapRegister(m: MapRegister, buf: Buffer, o: number): number {
  if (m.records.length > 255) fail(o + 3, `${m.records.length} records do not fit the 8-bit count`);
  if (!m.xtrIdPresent && (m.xtrId !== undefined || m.siteId !== undefined)) fail(o, 'xtrId/siteId given without the I bit (xtrIdPresent)');
  checkAuth(m.auth, o + 12);
  const B = MAP_REGISTER_BITS;
  buf[o] = 0x30 | (m.proxyReply ? B.proxyReply : 0) | (m.security ? B.security : 0) | (m.xtrIdPresent ? B.xtrIdPresent : 0) | (m.rtr ? B.rtr : 0);
  buf[o + 1] = 0;
  buf[o + 2] = (m.eidNotify ? B.eidNotify : 0) | (m.ttlTimeout ? B.ttlTimeout : 0) | (m.merge ? B.merge : 0) | (m.wantMapNotify ? B.wantMapNotify : 0);
  buf[o + 3] = m.records.length;
  writeNonce(buf, o + 4, m.nonce);
  let p = encodeAuth(m.auth, buf, o + 12);
  p = encodeRecords(m.records, buf, p);
  if (m.xtrIdPresent) p = writeXtrSite(buf, p, m.xtrId, m.siteId);
  return p;
}

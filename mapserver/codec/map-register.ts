// Map-Register (type 3), RFC 9301 §5.6:
//
//   Type=3 |P|S|I|R'| Reserved(11) |E|T|a|R|M| Record Count
//   Nonce(64) | Key ID(8) | Algorithm ID(8) | Auth Data Length(16) | Auth Data
//   records... | [xTR-ID(128) + site-ID(64) when I]
//
// Bit 7 (R' above) is the RTR bit of the LISP NAT-traversal spec, which is where OOR and tshark
// ("R bit (Built for an RTR)", mask 0x010000 of the first 24 bits) put it; RFC 9301's own R bit
// in byte 2 is reserved and is ignored/written as 0. `a` is the merge-request bit.
import { authenticatedLength, decodeAuthenticatedBody, encodeAuthenticatedBody } from './authenticated.js';
import type { Reader } from './reader.js';
import type { MapRegister, Mutable } from './types.js';

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
  r.need(3, 'Map-Register header');
  const b0 = r.buf[at]!;
  const b2 = r.buf[at + 2]!;
  const xtrIdPresent = (b0 & MAP_REGISTER_BITS.xtrIdPresent) !== 0;
  const { nonce, auth, records, xtrId, siteId } = decodeAuthenticatedBody(r, at, xtrIdPresent, 'Map-Register');
  // Built field by field, not spread: a Map-Server decodes one per refresh, and the spread and
  // rest forms cost a copy of the body through V8's generic property-copy builtins each time.
  const register: Mutable<MapRegister> = {
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
  // Optional fields appear only when set, so messages built without them round-trip equal.
  if (b2 & MAP_REGISTER_BITS.eidNotify) register.eidNotify = true;
  if (b2 & MAP_REGISTER_BITS.ttlTimeout) register.ttlTimeout = true;
  if (xtrId) register.xtrId = xtrId;
  if (siteId) register.siteId = siteId;
  return register;
}

export function mapRegisterLength(m: MapRegister): number {
  return authenticatedLength(m);
}

export function encodeMapRegister(m: MapRegister, buf: Buffer, o: number): number {
  const end = encodeAuthenticatedBody(m, buf, o);
  const B = MAP_REGISTER_BITS;
  buf[o] = 0x30 | (m.proxyReply ? B.proxyReply : 0) | (m.security ? B.security : 0) | (m.xtrIdPresent ? B.xtrIdPresent : 0) | (m.rtr ? B.rtr : 0);
  buf[o + 1] = 0;
  buf[o + 2] = (m.eidNotify ? B.eidNotify : 0) | (m.ttlTimeout ? B.ttlTimeout : 0) | (m.merge ? B.merge : 0) | (m.wantMapNotify ? B.wantMapNotify : 0);
  return end;
}

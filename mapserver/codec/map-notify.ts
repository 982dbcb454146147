// Map-Notify (type 4) and Map-Notify-Ack (type 5, same format), RFC 9301 §5.7:
//   Type |I|R| Reserved(18) | Record Count, nonce, key field, auth length, auth data, records,
//   [xTR-ID + site-ID when I].
import { authenticatedLength, decodeAuthenticatedBody, encodeAuthenticatedBody } from './authenticated.js';
import type { Reader } from './reader.js';
import type { MapNotify } from './types.js';

export function decodeMapNotify(r: Reader): MapNotify {
  const at = r.pos;
  r.need(1, 'Map-Notify header');
  const b0 = r.buf[at]!;
  const xtrIdPresent = (b0 & 0x08) !== 0;
  const body = decodeAuthenticatedBody(r, at, xtrIdPresent, 'Map-Notify');
  return { type: b0 >> 4 === 5 ? 'map-notify-ack' : 'map-notify', xtrIdPresent, rtr: (b0 & 0x04) !== 0, ...body };
}

export function mapNotifyLength(m: MapNotify): number {
  return authenticatedLength(m);
}

export function encodeMapNotify(m: MapNotify, buf: Buffer, o: number): number {
  const end = encodeAuthenticatedBody(m, buf, o);
  buf[o] = (m.type === 'map-notify-ack' ? 0x50 : 0x40) | (m.xtrIdPresent ? 0x08 : 0) | (m.rtr ? 0x04 : 0);
  buf[o + 1] = 0;
  buf[o + 2] = 0;
  return end;
}

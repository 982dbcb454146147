// Top-level dispatch on the 4-bit message type.
//
// Trailing bytes: decode reads exactly one message and ignores any bytes after its last field
// (and, inside an ECM, after the inner message within the UDP datagram). encode never writes
// them, so such input does not re-encode byte-identical; `decodeWithLength` tells callers how
// many bytes the message used if they want to reject trailing data.
import { signWith, type Secret } from './auth.js';
import { decodeEcm, ecmHeaderLength, encodeEcm } from './ecm.js';
import { fail } from './errors.js';
import { decodeMapNotify, encodeMapNotify, mapNotifyLength } from './map-notify.js';
import { decodeMapRegister, encodeMapRegister, mapRegisterLength } from './map-register.js';
import { decodeMapReply, encodeMapReply, mapReplyLength } from './map-reply.js';
import { decodeMapRequest, encodeMapRequest, mapRequestLength } from './map-request.js';
import { Reader } from './reader.js';
import type { LispMessage, MapNotify, MapRegister } from './types.js';

/** Wire values of the 4-bit type field. */
export const MESSAGE_TYPE = {
  mapRequest: 1,
  mapReply: 2,
  mapRegister: 3,
  mapNotify: 4,
  mapNotifyAck: 5,
  ecm: 8,
} as const;

/** The same numbers by a decoded message's `type` (logs, decode, the oracle). */
export const MESSAGE_TYPE_NUMBER: Readonly<Record<LispMessage['type'], number>> = {
  'map-request': MESSAGE_TYPE.mapRequest,
  'map-reply': MESSAGE_TYPE.mapReply,
  'map-register': MESSAGE_TYPE.mapRegister,
  'map-notify': MESSAGE_TYPE.mapNotify,
  'map-notify-ack': MESSAGE_TYPE.mapNotifyAck,
  ecm: MESSAGE_TYPE.ecm,
};

function decodeAt(r: Reader, allowEcm: boolean): LispMessage {
  const at = r.pos;
  r.need(1, 'message type');
  const type = r.buf[at]! >> 4;
  switch (type) {
    case MESSAGE_TYPE.mapRequest: return decodeMapRequest(r);
    case MESSAGE_TYPE.mapReply: return decodeMapReply(r);
    case MESSAGE_TYPE.mapRegister: return decodeMapRegister(r);
    case MESSAGE_TYPE.mapNotify:
    case MESSAGE_TYPE.mapNotifyAck: return decodeMapNotify(r);
    case MESSAGE_TYPE.ecm:
      if (!allowEcm) fail(at, 'an ECM inside an ECM is not allowed');
      return decodeEcm(r, decodeInner);
    case 0: return fail(at, 'message type 0 is reserved');
    default: return fail(at, `unsupported message type ${type}`);
  }
}

function decodeInner(r: Reader): LispMessage {
  return decodeAt(r, false);
}

/** Decodes one LISP control message (the UDP payload). Throws only LispCodecError. */
export function decode(bytes: Uint8Array): LispMessage {
  return decodeAt(new Reader(bytes), true);
}

/** Like decode, also returning how many bytes the message occupied. */
export function decodeWithLength(bytes: Uint8Array): { message: LispMessage; length: number } {
  const r = new Reader(bytes);
  const message = decodeAt(r, true);
  return { message, length: r.pos };
}

export function encodingLength(msg: LispMessage): number {
  switch (msg.type) {
    case 'map-request': return mapRequestLength(msg);
    case 'map-reply': return mapReplyLength(msg);
    case 'map-register': return mapRegisterLength(msg);
    case 'map-notify':
    case 'map-notify-ack': return mapNotifyLength(msg);
    case 'ecm': return ecmHeaderLength(msg) + encodingLength(msg.message);
    default: return fail(0, `unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`);
  }
}

/** Writes `msg` into `buf` at `offset` (buf must have encodingLength(msg) bytes there); returns the end offset. */
export function encodeInto(msg: LispMessage, buf: Buffer, offset = 0): number {
  switch (msg.type) {
    case 'map-request': return encodeMapRequest(msg, buf, offset);
    case 'map-reply': return encodeMapReply(msg, buf, offset);
    case 'map-register': return encodeMapRegister(msg, buf, offset);
    case 'map-notify':
    case 'map-notify-ack': return encodeMapNotify(msg, buf, offset);
    case 'ecm': return encodeEcm(msg, buf, offset, encodeInto);
    default: return fail(offset, `unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`);
  }
}

/** Encodes one message. Every byte of the result is written (reserved fields are 0). */
export function encode(msg: LispMessage): Buffer {
  const length = encodingLength(msg);
  const buf = Buffer.allocUnsafe(length);
  const end = encodeInto(msg, buf, 0);
  if (end !== length) fail(end, `internal: wrote ${end} bytes, expected ${length}`);
  return buf;
}

/** Encodes a Map-Register / Map-Notify / Map-Notify-Ack with the HMAC for `secret` filled in. */
export function signMessage(msg: MapRegister | MapNotify, secret: Secret): Buffer {
  return signWith(msg, secret, encode);
}

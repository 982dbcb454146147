// Authentication of Map-Register / Map-Notify / Map-Notify-Ack.
//
// The 16-bit field after the nonce is Key ID (high byte) + Algorithm ID (low byte) in RFC 9301,
// while OOR, OpenDaylight and tshark read one 16-bit key id where 1 = HMAC-SHA-1, 2 = HMAC-SHA-256.
// With Key ID 0 (what OOR sends: 0x0001) both readings agree, so livmap splits the field the RFC
// way. RFC 9301 §5.6 / IANA name the algorithms HMAC-SHA-1-96 (1) and HMAC-SHA-256-128 (2): a
// digest truncated to 12 / 16 bytes. OOR sends the full digest (20 / 32 bytes) under the same ids,
// so both lengths are accepted; a reply is signed at the length its peer used. The HMAC is
// computed over the whole LISP message with the authentication data bytes zeroed.
import crypto, { KeyObject } from 'node:crypto';
import { fail } from './errors.js';
import type { Reader } from './reader.js';
import { AUTH_ALG, type Auth, type MapNotify, type MapRegister } from './types.js';

/** Offset of the key field inside a Map-Register/Map-Notify; the auth data starts 4 bytes later. */
export const AUTH_FIELD_OFFSET = 12;
export const AUTH_DATA_OFFSET = 16;

/** Full digest length of an algorithm (what livmap signs with by default), or -1 for an algorithm livmap does not know. */
export function authDataLength(algId: number): number {
  switch (algId) {
    case AUTH_ALG.none: return 0;
    case AUTH_ALG.hmacSha1: return 20;
    case AUTH_ALG.hmacSha256: return 32;
    default: return -1;
  }
}

/** RFC 9301 §5.6's truncated length of an algorithm's digest (HMAC-SHA-1-96, HMAC-SHA-256-128). */
function truncatedLength(algId: number): number {
  return algId === AUTH_ALG.hmacSha1 ? 12 : algId === AUTH_ALG.hmacSha256 ? 16 : -1;
}

/** Whether `length` auth-data bytes are valid for `algId`: the full or the RFC-truncated digest. */
export function validAuthLength(algId: number, length: number): boolean {
  const full = authDataLength(algId);
  return full >= 0 && (length === full || (full > 0 && length === truncatedLength(algId)));
}

function lengthsText(algId: number): string {
  const full = authDataLength(algId);
  return full > 0 ? `${truncatedLength(algId)} or ${full}` : String(full);
}

/** Reads key field, auth length and auth data; the cursor must be at the key field. */
export function decodeAuth(r: Reader): Auth {
  const at = r.pos;
  r.need(4, 'key ID and authentication data length');
  const b = r.buf;
  const keyField = (b[at]! << 8) | b[at + 1]!;
  const authLength = (b[at + 2]! << 8) | b[at + 3]!;
  r.pos = at + 4;
  const keyId = keyField >> 8;
  const algId = keyField & 0xff;
  const expected = authDataLength(algId);
  if (expected < 0) fail(at, `unknown authentication algorithm ${algId} (key field 0x${keyField.toString(16).padStart(4, '0')})`);
  if (!validAuthLength(algId, authLength)) fail(at + 2, `authentication data length ${authLength} does not match algorithm ${algId} (needs ${lengthsText(algId)})`);
  const authData = r.bytes(authLength, 'authentication data');
  return { keyId, algId, authData };
}

export function checkAuth(auth: Auth, o: number): void {
  if (!Number.isInteger(auth.keyId) || auth.keyId < 0 || auth.keyId > 255) fail(o, `key ID ${auth.keyId} is not a byte`);
  const expected = Number.isInteger(auth.algId) ? authDataLength(auth.algId) : -1;
  if (expected < 0) fail(o + 1, `unknown authentication algorithm ${auth.algId}`);
  if (!(auth.authData instanceof Uint8Array) || !validAuthLength(auth.algId, auth.authData.length)) {
    fail(o + 2, `authentication data length ${auth.authData?.length} does not match algorithm ${auth.algId} (needs ${lengthsText(auth.algId)})`);
  }
}

/** Writes key field, length and data at `o` (after checkAuth); returns the offset after them. */
export function encodeAuth(auth: Auth, buf: Buffer, o: number): number {
  buf[o] = auth.keyId;
  buf[o + 1] = auth.algId;
  buf[o + 2] = 0;
  buf[o + 3] = auth.authData.length;
  buf.set(auth.authData, o + 4);
  return o + 4 + auth.authData.length;
}

/** Zero-filled auth data by length, shared (see zeroAuthData). */
const zeroes: Uint8Array[] = [];

/**
 * Auth data of `length` zero bytes for a message that will be signed: one shared array per
 * length (a typed array per Map-Notify was a tenth of the Map-Register handler's own time).
 * Never write into it; signing does not (signWith zeroes the auth data in its output).
 */
export function zeroAuthData(length: number): Uint8Array {
  return (zeroes[length] ??= new Uint8Array(length));
}

export type Secret = string | Uint8Array | KeyObject;

/** SHA-1 and SHA-256 both hash 64-byte blocks. */
const BLOCK = 64;

/** A secret's HMAC pads (RFC 2104): the key XOR 0x36 and XOR 0x5c, one pair per hash. */
interface Pads {
  readonly inner: Buffer;
  readonly outer: Buffer;
}

// Pads of recent secrets, so the per-packet path neither re-imports nor re-pads a key.
const padCache = { sha1: new Map<string, Pads>(), sha256: new Map<string, Pads>() };
const PAD_CACHE_MAX = 512;

function keyBytes(secret: Secret): Buffer {
  if (typeof secret === 'string') return Buffer.from(secret, 'utf8');
  if (secret instanceof KeyObject) return secret.export();
  return Buffer.from(secret);
}

function padsFor(secret: Secret, hashName: 'sha1' | 'sha256'): Pads {
  const cache = padCache[hashName];
  const cached = typeof secret === 'string' ? cache.get(secret) : undefined;
  if (cached) return cached;
  let key = keyBytes(secret);
  if (key.length > BLOCK) key = Buffer.from(digestOf(hashName, key), 'latin1');
  const inner = Buffer.alloc(BLOCK, 0x36);
  const outer = Buffer.alloc(BLOCK, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i] = inner[i]! ^ key[i]!;
    outer[i] = outer[i]! ^ key[i]!;
  }
  const pads = { inner, outer };
  if (typeof secret === 'string') {
    if (cache.size >= PAD_CACHE_MAX) cache.clear();
    cache.set(secret, pads);
  }
  return pads;
}

// One-shot hashing (Node >= 20.12) over precomputed pads costs less than an Hmac object per
// packet: no key import, no native object for the collector to track.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/**
 * A digest as a latin1 ('binary') string, one char per byte: half the cost of a Buffer result
 * here, which needs a fresh ArrayBuffer per call.
 */
function digestOf(hashName: 'sha1' | 'sha256', data: Uint8Array): string {
  return oneShot ? oneShot(hashName, data, 'binary') : crypto.createHash(hashName).update(data).digest('binary');
}

/** Where a message is hashed: its inner pad, then its bytes (auth field zeroed). */
let scratch = Buffer.alloc(BLOCK + 1500);
/** Views of `scratch` by length, made once each: a subarray per hash was an object per packet. */
let scratchViews: Buffer[] = [];
const outerScratch = Buffer.alloc(BLOCK + 32);
/** The outer hash's input: the outer pad and an inner SHA-1 (20 bytes) or SHA-256 (32 bytes) digest. */
const outerSha1 = outerScratch.subarray(0, BLOCK + 20);
const outerSha256 = outerScratch.subarray(0, BLOCK + 32);

function scratchView(length: number): Buffer {
  if (scratch.length < length) {
    scratch = Buffer.alloc(length);
    scratchViews = [];
  }
  return (scratchViews[length] ??= scratch.subarray(0, length));
}

/**
 * HMAC of `bytes` with the `authLength` bytes at `authOffset` taken as zero, truncated to
 * `authLength` (the full digest unless given).
 */
export function computeAuthData(bytes: Uint8Array, algId: number, secret: Secret, authOffset = AUTH_DATA_OFFSET, authLength = authDataLength(algId)): Buffer {
  if (authDataLength(algId) <= 0) fail(AUTH_FIELD_OFFSET + 1, `algorithm ${algId} has no HMAC`);
  if (!validAuthLength(algId, authLength)) fail(AUTH_FIELD_OFFSET + 2, `authentication data length ${authLength} does not match algorithm ${algId}`);
  if (bytes.length < authOffset + authLength) fail(bytes.length, 'truncated: message ends inside the authentication data');
  return Buffer.from(hmac(bytes, algId, secret, authOffset, authLength), 'latin1').subarray(0, authLength);
}

/** HMAC (RFC 2104) of `bytes`, with `zeroLength` bytes at `zeroAt` taken as zero; latin1. */
function hmac(bytes: Uint8Array, algId: number, secret: Secret, zeroAt = 0, zeroLength = 0): string {
  const hashName = algId === AUTH_ALG.hmacSha1 ? 'sha1' : 'sha256';
  const pads = padsFor(secret, hashName);
  const inner = scratchView(BLOCK + bytes.length);
  inner.set(pads.inner, 0);
  inner.set(bytes, BLOCK);
  if (zeroLength) inner.fill(0, BLOCK + zeroAt, BLOCK + zeroAt + zeroLength);
  const innerDigest = digestOf(hashName, inner);
  outerScratch.set(pads.outer, 0);
  outerScratch.write(innerDigest, BLOCK, 'latin1');
  return digestOf(hashName, hashName === 'sha1' ? outerSha1 : outerSha256);
}

/**
 * Encodes a Map-Register / Map-Notify / Map-Notify-Ack with correct authentication data for its
 * `auth.keyId` / `auth.algId` (whatever `auth.authData` holds is replaced). The digest keeps the
 * length `auth.authData` has when that is valid for the algorithm (12 / 16 bytes: RFC 9301's
 * truncation), else it is the full digest.
 */
export function signWith(msg: MapRegister | MapNotify, secret: Secret, encode: (m: MapRegister | MapNotify) => Buffer): Buffer {
  const full = authDataLength(msg.auth.algId);
  if (full <= 0) fail(AUTH_FIELD_OFFSET + 1, `cannot sign with authentication algorithm ${msg.auth.algId}`);
  const given = msg.auth.authData?.length;
  // Auth data of a valid length is encoded as it is and zeroed in the output (no copy of the
  // message); any other is replaced by a full-length digest.
  const valid = given !== undefined && validAuthLength(msg.auth.algId, given);
  const length = valid ? given : full;
  const buf = encode(valid ? msg : { ...msg, auth: { keyId: msg.auth.keyId, algId: msg.auth.algId, authData: new Uint8Array(length) } });
  buf.fill(0, AUTH_DATA_OFFSET, AUTH_DATA_OFFSET + length);
  buf.write(hmac(buf, msg.auth.algId, secret).slice(0, length), AUTH_DATA_OFFSET, 'latin1');
  return buf;
}

/**
 * Verifies the HMAC of a raw Map-Register / Map-Notify / Map-Notify-Ack (the whole buffer is the
 * message). False when the HMAC does not match or the message carries no authentication
 * (algorithm 0); LispCodecError when the bytes are not such a message.
 */
export function verifyMessage(bytes: Uint8Array, secret: Secret): boolean {
  if (bytes.length < AUTH_DATA_OFFSET) fail(bytes.length, `truncated: ${bytes.length} bytes cannot hold a Map-Register/Map-Notify header`);
  const type = bytes[0]! >> 4;
  if (type < 3 || type > 5) fail(0, `message type ${type} carries no authentication data`);
  const keyField = (bytes[AUTH_FIELD_OFFSET]! << 8) | bytes[AUTH_FIELD_OFFSET + 1]!;
  const authLength = (bytes[AUTH_FIELD_OFFSET + 2]! << 8) | bytes[AUTH_FIELD_OFFSET + 3]!;
  const algId = keyField & 0xff;
  if (authDataLength(algId) < 0) fail(AUTH_FIELD_OFFSET, `unknown authentication algorithm ${algId}`);
  if (!validAuthLength(algId, authLength)) fail(AUTH_FIELD_OFFSET + 2, `authentication data length ${authLength} does not match algorithm ${algId} (needs ${lengthsText(algId)})`);
  if (authLength === 0) return false;
  if (bytes.length < AUTH_DATA_OFFSET + authLength) fail(bytes.length, 'truncated: message ends inside the authentication data');
  // A truncated digest (RFC 9301 HMAC-SHA-1-96 / HMAC-SHA-256-128) is the full one's first bytes.
  const mac = hmac(bytes, algId, secret, AUTH_DATA_OFFSET, authLength);
  // Compared in constant time (every byte, no early exit), as timingSafeEqual would, without
  // copying the digest into a buffer and two views for it.
  let difference = 0;
  for (let i = 0; i < authLength; i++) difference |= mac.charCodeAt(i) ^ bytes[AUTH_DATA_OFFSET + i]!;
  return difference === 0;
}


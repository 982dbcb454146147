// Small helpers shared by the message modules.
import { fail } from './errors.js';
import type { Reader } from './reader.js';

const U64_MAX = 0xffffffffffffffffn;

// 64-bit fields go through one 8-byte DataView: Buffer's BigInt readers and writers build
// three or four intermediate BigInts per call, on every message.
const u64Bytes = new Uint8Array(8);
const u64View = new DataView(u64Bytes.buffer);

export function writeNonce(buf: Buffer, o: number, nonce: bigint): void {
  if (typeof nonce !== 'bigint' || nonce < 0n || nonce > U64_MAX) fail(o, `nonce ${String(nonce)} is not a 64-bit unsigned bigint`);
  u64View.setBigUint64(0, nonce);
  buf.set(u64Bytes, o);
}

/** The big-endian unsigned 64-bit value at `o` (the caller checked the 8 bytes are there). */
export function readU64(buf: Uint8Array, o: number): bigint {
  for (let i = 0; i < 8; i++) u64Bytes[i] = buf[o + i]!;
  return u64View.getBigUint64(0);
}

/**
 * `count` items read in order. A list pushed to from empty reserves 17 slots, and decoded lists
 * mostly hold one item (one ITR-RLOC, one EID record, one locator): that one gets an exact list.
 */
export function readList<T>(r: Reader, count: number, read: (r: Reader) => T): T[] {
  if (count === 1) return [read(r)];
  const list: T[] = [];
  for (let i = 0; i < count; i++) list.push(read(r));
  return list;
}

/** RFC 9437 / NAT-traversal xTR-ID (16 bytes) + site-ID (8 bytes) after the records. */
export function readXtrSite(r: Reader): { xtrId: Uint8Array; siteId: Uint8Array } {
  r.need(24, 'xTR-ID and site-ID');
  const xtrId = r.bytes(16, 'xTR-ID');
  const siteId = r.bytes(8, 'site-ID');
  return { xtrId, siteId };
}

export function writeXtrSite(buf: Buffer, o: number, xtrId: Uint8Array | undefined, siteId: Uint8Array | undefined): number {
  if (!(xtrId instanceof Uint8Array) || xtrId.length !== 16) fail(o, 'xTR-ID must be 16 bytes when the I bit is set');
  if (!(siteId instanceof Uint8Array) || siteId.length !== 8) fail(o + 16, 'site-ID must be 8 bytes when the I bit is set');
  buf.set(xtrId, o);
  buf.set(siteId, o + 16);
  return o + 24;
}

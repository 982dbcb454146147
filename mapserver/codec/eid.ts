// EID prefixes on the wire. A non-zero instance ID travels as an Instance-ID LCAF around the
// address (IID mask-len byte 32, flags 0, as OOR sends); IID 0 is the bare address.
// Decoding lifts an Instance-ID LCAF into `iid` (its flags are normalised and an IID-0 LCAF
// re-encodes as the bare address); a mask-len byte other than 32 is kept in `iidMaskLen`.
import { addressBits, addressLength, decodeAddress, encodeAddress, writeU32 } from './address.js';
import { rememberEidBytes } from './eid-bytes.js';
import { fail } from './errors.js';
import type { Reader } from './reader.js';
import { AFI, LCAF_TYPE, type Address, type EidPrefix } from './types.js';

/** The IID mask-len byte livmap writes unless the prefix carries another (what OOR sends). */
export const IID_MASK_LEN = 32;

/** Reads the EID address (AFI first) whose mask-len byte sat at `maskAt`. */
export function decodeEid(r: Reader, maskLen: number, maskAt: number): EidPrefix {
  const at = r.pos;
  const addr = decodeAddress(r);
  let iid = 0;
  let address: Address = addr;
  if (addr.afi === 'lcaf-iid') {
    iid = addr.iid;
    address = addr.address;
    if (address.afi === 'lcaf-iid') fail(at, 'EID has an Instance-ID LCAF inside an Instance-ID LCAF');
  }
  const bits = addressBits(address);
  if (bits >= 0 && maskLen > bits) fail(maskAt, `EID mask-len ${maskLen} exceeds the ${bits} bits of ${address.afi}`);
  // The address bytes end the EID (inside an Instance-ID LCAF too): keep them for the lookup.
  if (bits > 0) rememberEidBytes(address, r.buf, r.pos - bits / 8, bits / 8);
  if (addr.afi === 'lcaf-iid' && iid !== 0 && addr.maskLen !== IID_MASK_LEN) return { iid, address, length: maskLen, iidMaskLen: addr.maskLen };
  return { iid, address, length: maskLen };
}

export function eidLength(eid: EidPrefix): number {
  return (eid.iid !== 0 ? 12 : 0) + addressLength(eid.address);
}

/** Checks the prefix before anything is written; `o` is where its mask-len byte goes. */
export function checkEid(eid: EidPrefix, o: number): void {
  if (!Number.isInteger(eid.iid) || eid.iid < 0 || eid.iid > 0xffffffff) fail(o, `EID instance ID ${eid.iid} is not a 32-bit integer`);
  if (eid.address.afi === 'lcaf-iid') fail(o, 'EID address must not be an Instance-ID LCAF; use `iid`');
  if (eid.iidMaskLen !== undefined && (!Number.isInteger(eid.iidMaskLen) || eid.iidMaskLen < 0 || eid.iidMaskLen > 255)) fail(o, `IID mask-len ${eid.iidMaskLen} is not a byte`);
  const bits = addressBits(eid.address);
  const max = bits >= 0 ? bits : 255;
  if (!Number.isInteger(eid.length) || eid.length < 0 || eid.length > max) {
    fail(o, `EID mask-len ${eid.length} exceeds the ${max} bits of ${eid.address.afi}`);
  }
}

/** Writes the EID address (AFI first) at `o`; returns the offset after it. */
export function encodeEid(eid: EidPrefix, buf: Buffer, o: number): number {
  if (eid.iid === 0) return encodeAddress(eid.address, buf, o);
  const end = encodeAddress(eid.address, buf, o + 12);
  const length = end - o - 8;
  if (length > 0xffff) fail(o, `LCAF content of ${length} bytes does not fit the 16-bit length`);
  buf[o] = AFI.lcaf >> 8;
  buf[o + 1] = AFI.lcaf & 0xff;
  buf[o + 2] = 0;
  buf[o + 3] = 0;
  buf[o + 4] = LCAF_TYPE.instanceId;
  buf[o + 5] = eid.iidMaskLen ?? IID_MASK_LEN;
  buf[o + 6] = length >> 8;
  buf[o + 7] = length & 0xff;
  writeU32(buf, o + 8, eid.iid);
  return end;
}

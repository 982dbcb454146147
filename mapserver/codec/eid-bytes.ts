// The wire bytes of the EID addresses decoded last, by Address object. decode turns an EID's
// bytes into text (the Address type is text across the code base); the database looks the EID
// up right after, synchronously, and would parse that text straight back into bytes. It asks
// here first: the same Address object is still in a slot, its bytes are there, no parse.
// A few slots only: a message carries one EID record as a rule, and a long-lived table of
// young Address objects would keep each alive past the next scavenge (see ip.ts).
import type { Address } from './types.js';

const SLOTS = 4;
const addresses: Array<Address | undefined> = new Array<Address | undefined>(SLOTS).fill(undefined);
/** 16 bytes per slot: room for IPv6; IPv4 uses 4, MAC 6. */
const bytes: Uint8Array[] = Array.from({ length: SLOTS }, () => new Uint8Array(16));
let next = 0;

/** Called by the decoder for an IPv4/IPv6/MAC EID address read from `buf` at `offset`. */
export function rememberEidBytes(address: Address, buf: Uint8Array, offset: number, length: number): void {
  const slot = next;
  next = slot + 1 === SLOTS ? 0 : slot + 1;
  addresses[slot] = address;
  const out = bytes[slot]!;
  for (let i = 0; i < length; i++) out[i] = buf[offset + i]!;
}

/**
 * The bytes `address` was decoded from, while it is one of the last EIDs decoded; undefined
 * otherwise (parse its text). The array is reused by later decodes: read it before decoding again.
 */
export function decodedEidBytes(address: Address): Uint8Array | undefined {
  for (let i = 0; i < SLOTS; i++) if (addresses[i] === address) return bytes[i];
  return undefined;
}

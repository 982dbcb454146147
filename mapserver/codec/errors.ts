// The one error the codec throws. Malformed input from the network must never surface as a
// TypeError/RangeError, so every bounds or value check ends here with the byte offset.

export class LispCodecError extends Error {
  /** Byte offset (from the start of the buffer given to decode, or of the output for encode). */
  readonly offset: number;
  /** What is wrong, without the offset prefix. */
  readonly reason: string;

  constructor(offset: number, reason: string) {
    super(`offset ${offset}: ${reason}`);
    this.name = 'LispCodecError';
    this.offset = offset;
    this.reason = reason;
  }
}

/** Throws a LispCodecError; typed `never` so callers can use it in expressions. */
export function fail(offset: number, reason: string): never {
  throw new LispCodecError(offset, reason);
}

/** Encode-side range check for integer fields. */
export function checkUint(value: number, max: number, offset: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) fail(offset, `${field} ${String(value)} is not an integer in 0..${max}`);
}

// Bounds-checked cursor over the input. Every read checks the remaining bytes first and throws
// LispCodecError, so nothing below it can index past the end or hit a Buffer RangeError.
import { LispCodecError } from './errors.js';
import { readU64 } from './common.js';

export class Reader {
  readonly buf: Buffer;
  pos: number;
  /** Current read limit; nested structures (LCAF, inner UDP) lower it temporarily. */
  end: number;
  /** Name of the structure that set the current limit, for error messages. */
  bound: string;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    // A Buffer view (no copy) gives readBigUInt64BE for nonces.
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
    this.bound = '';
  }

  remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are readable. `what` names the field for the message. */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      const left = this.end - this.pos;
      throw new LispCodecError(this.pos, `truncated: ${what} needs ${n} bytes, ${left} left${this.bound ? ` inside the ${this.bound}` : ''}`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = readU64(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  /** A copy (not a view) so decoded messages do not pin or alias the receive buffer. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }
}

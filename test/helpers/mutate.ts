// Mutation fuzzing of the codec: takes a corpus of valid messages, damages them (bit flips,
// truncation, insertion, deletion, length/count inflation) and checks that decode either
// succeeds or throws LispCodecError, never anything else, and that nothing is slow enough to
// suggest a loop. Decoded results must re-encode and decode to the same message.
import { deepStrictEqual } from 'node:assert';
import { decode, encode, LispCodecError } from '../../mapserver/codec/index.js';

/** Small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: () => number, n: number): number => Math.floor(r() * n);

export type MutationKind = 'bitflip' | 'truncate' | 'insert' | 'delete' | 'setbyte' | 'inflate16' | 'count' | 'duplicate';
const KINDS: readonly MutationKind[] = ['bitflip', 'truncate', 'insert', 'delete', 'setbyte', 'inflate16', 'count', 'duplicate'];

/** One mutation of `input` (never modifies it). */
export function mutateOnce(r: () => number, input: Uint8Array, kind: MutationKind = KINDS[int(r, KINDS.length)]!): Uint8Array {
  const b = Buffer.from(input);
  const n = b.length;
  switch (kind) {
    case 'bitflip': {
      if (n === 0) return b;
      const flips = 1 + int(r, 4);
      for (let i = 0; i < flips; i++) {
        const bit = int(r, n * 8);
        b[bit >> 3]! ^= 1 << (bit & 7);
      }
      return b;
    }
    case 'truncate':
      return b.subarray(0, int(r, n + 1));
    case 'insert': {
      const at = int(r, n + 1);
      const extra = Buffer.alloc(1 + int(r, 8));
      for (let i = 0; i < extra.length; i++) extra[i] = int(r, 256);
      return Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
    }
    case 'delete': {
      const at = int(r, n + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(n, at + 1 + int(r, 8)))]);
    }
    case 'setbyte': {
      if (n === 0) return b;
      const choices = [0x00, 0xff, 0x7f, 0x80, int(r, 256)];
      b[int(r, n)] = choices[int(r, choices.length)]!;
      return b;
    }
    case 'inflate16': {
      // Length fields (LCAF length, auth length, AFIs, IP/UDP lengths) are 16-bit big-endian.
      if (n < 2) return b;
      const at = int(r, n - 1);
      const old = (b[at]! << 8) | b[at + 1]!;
      const v = [0xffff, 0x8000, old + 1 + int(r, 64), Math.max(0, old - 1 - int(r, 8)), int(r, 0x10000)][int(r, 5)]! & 0xffff;
      b[at] = v >> 8;
      b[at + 1] = v & 0xff;
      return b;
    }
    case 'count': {
      // Record count (byte 3) or, in an ECM, the inner message's count.
      const at = n > 3 && r() < 0.5 ? 3 : n > 35 ? 35 : 0;
      if (at >= n) return b;
      b[at] = int(r, 256);
      return b;
    }
    case 'duplicate': {
      if (n === 0) return b;
      const at = int(r, n);
      const len = 1 + int(r, Math.min(32, n - at));
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
  }
}

export function mutate(r: () => number, input: Uint8Array): Uint8Array {
  let out = input;
  const rounds = 1 + int(r, 3);
  for (let i = 0; i < rounds; i++) out = mutateOnce(r, out);
  return out;
}

export interface FuzzStats {
  iterations: number;
  decoded: number;
  rejected: number;
  /** Slowest single decode in milliseconds. */
  slowestMs: number;
  /** Count of rejections by reason prefix (text before the first digit), to see coverage. */
  reasons: Map<string, number>;
}

export class FuzzFailure extends Error {
  constructor(readonly input: Uint8Array, readonly iteration: number, cause: unknown) {
    super(`iteration ${iteration}: input ${Buffer.from(input).toString('hex')}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
    this.name = 'FuzzFailure';
  }
}

/**
 * Runs `iterations` mutations over `corpus`. Throws FuzzFailure on the first input that makes
 * decode throw anything but LispCodecError, whose decode result fails to re-encode stably, or
 * that takes longer than `maxMs`.
 */
export function fuzzDecode(corpus: readonly Uint8Array[], iterations: number, seed = 1, maxMs = 1000): FuzzStats {
  const r = rng(seed);
  const stats: FuzzStats = { iterations, decoded: 0, rejected: 0, slowestMs: 0, reasons: new Map() };
  for (let i = 0; i < iterations; i++) {
    const input = mutate(r, corpus[int(r, corpus.length)]!);
    const start = performance.now();
    try {
      const msg = decode(input);
      stats.decoded++;
      // Whatever decode accepts must be encodable, and its encoding must decode to the same message.
      deepStrictEqual(decode(encode(msg)), stripDecodeOnly(msg));
    } catch (e) {
      if (e instanceof LispCodecError) {
        stats.rejected++;
        const key = e.reason.replace(/[0-9].*$/s, '').trim();
        stats.reasons.set(key, (stats.reasons.get(key) ?? 0) + 1);
      } else {
        throw new FuzzFailure(input, i, e);
      }
    }
    const ms = performance.now() - start;
    if (ms > stats.slowestMs) stats.slowestMs = ms;
    if (ms > maxMs) throw new FuzzFailure(input, i, new Error(`decode took ${ms.toFixed(1)} ms`));
  }
  return stats;
}

/** Decode-only fields (bad checksum flags) do not survive encode, which writes correct checksums. */
function stripDecodeOnly<T>(msg: T): T {
  const m = msg as unknown as { type: string; inner?: Record<string, unknown> };
  if (m.type !== 'ecm' || !m.inner) return msg;
  const { badIpChecksum: _a, badUdpChecksum: _b, ...inner } = m.inner;
  return { ...(msg as object), inner } as T;
}

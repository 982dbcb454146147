// Replay protection for Map-Registers. A captured Map-Register re-sent later (from any address)
// authenticates, since the HMAC covers the message and not who sends it; if it were accepted it
// could move a VM back to where it was. Every authenticated Map-Register that wants a Map-Notify
// carries a random nonce (RFC 9301 §5.6; OOR draws a new one for every message, retries
// included), so a nonce seen within the window is a replay: refused, counted, state unchanged.
// The window is kept in one-second buckets, persisted with the registrations so that it
// survives a restart (a crash loses at most the bucket being filled).
//
// Every accepted Map-Register adds a nonce, and the window is the registration lifetime: with a
// million registrations refreshed every minute that is millions of nonces. They live in a flat
// hash table (NonceTable) rather than a Map<bigint>: no object per nonce for the collector to
// trace and promote (a Map took 62 B of heap and a BigInt per nonce, and 2-7% of a Map-Register's
// CPU), and a nonce that ages out needs no deletion: its slot is reused.
import type { StateChange } from '../db/model.js';

type NonceChange = Extract<StateChange, { kind: 'put-nonces' | 'delete-nonces' }>;

const BUCKET_MS = 1000;

export class ReplayWindow {
  /** Every nonce accepted within the window, with the start of its bucket. */
  private readonly table = new NonceTable();
  /** Bucket start (epoch ms) -> how many nonces were accepted in it, for the closed buckets (each stored once). */
  private readonly closed = new Map<number, number>();
  private openAt = -1;
  /** The open bucket's nonces, kept until they are stored. */
  private open: bigint[] = [];
  /** Buckets closed by a later nonce before a flush stored them: the next flush does. */
  private unstored: { readonly at: number; readonly nonces: bigint[] }[] = [];

  constructor(private readonly windowMs: number) {}

  /** Whether a Map-Register with `nonce` was accepted within the window. */
  isReplay(nonce: bigint, now: number): boolean {
    return this.table.has(nonce, now - this.windowMs - BUCKET_MS);
  }

  /** Remembers an accepted Map-Register's nonce. */
  remember(nonce: bigint, now: number): void {
    const bucket = now - (now % BUCKET_MS);
    if (bucket !== this.openAt) {
      this.close();
      this.openAt = bucket;
    }
    this.open.push(nonce);
    this.table.put(nonce, bucket, now - this.windowMs - BUCKET_MS);
  }

  /** Restores buckets read from the store; returns the deletions of those already out of the window. */
  load(buckets: ReadonlyArray<{ readonly at: number; readonly nonces: readonly bigint[] }>, now: number): NonceChange[] {
    const stale: NonceChange[] = [];
    const oldest = now - this.windowMs - BUCKET_MS;
    for (const { at, nonces } of buckets) {
      if (at <= oldest) {
        stale.push({ kind: 'delete-nonces', at });
        continue;
      }
      this.closed.set(at, (this.closed.get(at) ?? 0) + nonces.length);
      for (const nonce of nonces) this.table.put(nonce, at, oldest);
    }
    return stale;
  }

  /**
   * The store changes that persist closed buckets (all of them when `closing`) and delete the
   * ones that fell out of the window; closed buckets are persisted once.
   */
  flush(now: number, closing = false): NonceChange[] {
    const changes: NonceChange[] = [];
    const current = now - (now % BUCKET_MS);
    if (this.open.length && (closing || this.openAt < current)) {
      this.close();
      this.openAt = -1;
    }
    for (const { at, nonces } of this.unstored) changes.push({ kind: 'put-nonces', at, nonces });
    this.unstored = [];
    // The table forgets these nonces by itself: they are out of the window now.
    for (const at of this.closed.keys()) {
      if (now - at < this.windowMs + BUCKET_MS) continue;
      this.closed.delete(at);
      changes.push({ kind: 'delete-nonces', at });
    }
    return changes;
  }

  /** Nonces accepted and not yet flushed out of the window. */
  get size(): number {
    let n = this.open.length;
    for (const count of this.closed.values()) n += count;
    return n;
  }

  /** Closes the open bucket: the next flush stores it. */
  private close(): void {
    if (this.open.length === 0) return;
    this.unstored.push({ at: this.openAt, nonces: this.open });
    this.closed.set(this.openAt, (this.closed.get(this.openAt) ?? 0) + this.open.length);
    this.open = [];
  }
}

/** Shards of the nonce table: growing one re-hashes 1/512 of the nonces (a Map of 2M nonces paused ~300 ms to grow). */
const SHARD_BITS = 9;
/** Slots a shard starts with (it grows by doubling; 16 bytes each): 512 KB for an empty table. */
const MIN_SLOTS = 64;

/** Every nonce accepted within the window, with its bucket start; a shard per top 9 bits of the nonce's hash. */
class NonceTable {
  private readonly shards = Array.from({ length: 1 << SHARD_BITS }, () => new NonceShard());

  /** Where a nonce is split into its 32-bit halves: BigInt shifts and masks allocate, this does not. */
  private readonly halves = new DataView(new ArrayBuffer(8));

  /** Whether the nonce is in a bucket started after `oldest`. */
  has(nonce: bigint, oldest: number): boolean {
    this.halves.setBigUint64(0, nonce);
    const hi = this.halves.getUint32(0);
    const lo = this.halves.getUint32(4);
    const h = slotOf(hi, lo);
    return this.shards[h >>> (32 - SHARD_BITS)]!.has(h, hi, lo, oldest);
  }

  /** Records the nonce in `bucket`; slots of nonces in buckets up to `oldest` may be reused. */
  put(nonce: bigint, bucket: number, oldest: number): void {
    this.halves.setBigUint64(0, nonce);
    const hi = this.halves.getUint32(0);
    const lo = this.halves.getUint32(4);
    const h = slotOf(hi, lo);
    this.shards[h >>> (32 - SHARD_BITS)]!.put(h, hi, lo, bucket, oldest);
  }
}

/**
 * Open addressing with linear probing over one ArrayBuffer: per slot the nonce's two 32-bit
 * halves and its bucket start (a float64: NaN marks a slot never used). A slot whose bucket is
 * out of the window is dead: lookups probe past it, inserts reuse it. So slots are never
 * deleted; the shard is rebuilt (live slots only) when used slots pass 3/4 of it.
 */
class NonceShard {
  private words = new Uint32Array(0);
  private at = new Float64Array(0);
  private mask = -1;
  /** Slots filled since the last rebuild (live or dead). */
  private used = 0;

  constructor() {
    this.allocate(MIN_SLOTS);
  }

  has(h: number, hi: number, lo: number, oldest: number): boolean {
    const { words, at, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const bucket = at[2 * i + 1]!;
      if (bucket !== bucket) return false;
      if (words[4 * i] === hi && words[4 * i + 1] === lo && bucket > oldest) return true;
    }
  }

  /** Over the nonce's own slot, else over the first dead one on its path, else a new one. */
  put(h: number, hi: number, lo: number, bucket: number, oldest: number): void {
    const { words, at, mask } = this;
    let free = -1;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const b = at[2 * i + 1]!;
      if (b !== b) break;
      if (words[4 * i] === hi && words[4 * i + 1] === lo) {
        at[2 * i + 1] = bucket;
        return;
      }
      if (free < 0 && b <= oldest) free = i;
    }
    if (free < 0) {
      free = i;
      this.used++;
    }
    words[4 * free] = hi;
    words[4 * free + 1] = lo;
    at[2 * free + 1] = bucket;
    if (this.used * 4 > (mask + 1) * 3) this.rebuild(oldest);
  }

  /** Re-hashes the live slots into a shard they fill at most a third of. */
  private rebuild(oldest: number): void {
    const { words, at, mask } = this;
    let live = 0;
    for (let i = 0; i <= mask; i++) if (at[2 * i + 1]! > oldest) live++;
    let slots = MIN_SLOTS;
    while (slots < live * 3) slots *= 2;
    this.allocate(slots);
    this.used = live;
    const next = this.mask;
    for (let i = 0; i <= mask; i++) {
      const bucket = at[2 * i + 1]!;
      if (!(bucket > oldest)) continue;
      const hi = words[4 * i]!;
      const lo = words[4 * i + 1]!;
      // A fresh shard has no dead slot and no duplicate: the first never-used slot is the one.
      let j = slotOf(hi, lo) & next;
      while (this.at[2 * j + 1] === this.at[2 * j + 1]) j = (j + 1) & next;
      this.words[4 * j] = hi;
      this.words[4 * j + 1] = lo;
      this.at[2 * j + 1] = bucket;
    }
  }

  private allocate(slots: number): void {
    const buffer = new ArrayBuffer(slots * 16);
    this.words = new Uint32Array(buffer);
    this.at = new Float64Array(buffer).fill(NaN);
    this.mask = slots - 1;
    this.used = 0;
  }
}

/** murmur3's 32-bit finalizer over both halves (bench and test nonces are sequential); unsigned. */
function slotOf(hi: number, lo: number): number {
  let h = Math.imul(hi, 0x9e3779b1) ^ lo;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

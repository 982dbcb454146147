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
/** Slots a shard starts with (it grows by doubling; 24 bytes each): 768 KB for an empty table. */
const MIN_SLOTS = 64;
/** A slot: the nonce's high and low 32 bits and its bucket start, as float64s (all exact); NaN bucket: never used. */
const STRIDE = 3;

/**
 * Every nonce accepted within the window, with its bucket start. Each shard (by the top 9 bits of
 * the nonce's hash) is one Float64Array, open addressing with linear probing: nothing on the way
 * to a slot but the array, so a probe under load costs one or two cache misses. A slot whose
 * bucket is out of the window is dead: lookups probe past it, inserts reuse it. So slots are
 * never deleted; a shard is rebuilt (live slots only) when its used slots pass 3/4 of it.
 */
class NonceTable {
  private readonly shards = Array.from({ length: 1 << SHARD_BITS }, () => emptyShard(MIN_SLOTS));
  /** Slots of each shard filled since its last rebuild (live or dead). */
  private readonly used = new Int32Array(1 << SHARD_BITS);
  /** Where a nonce is split into its 32-bit halves: BigInt shifts and masks allocate, this does not. */
  private readonly halves = new DataView(new ArrayBuffer(8));

  /** Whether the nonce is in a bucket started after `oldest`. */
  has(nonce: bigint, oldest: number): boolean {
    this.halves.setBigUint64(0, nonce);
    const hi = this.halves.getUint32(0);
    const lo = this.halves.getUint32(4);
    const h = slotOf(hi, lo);
    const slots = this.shards[h >>> (32 - SHARD_BITS)]!;
    const mask = slots.length / STRIDE - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const o = i * STRIDE;
      const bucket = slots[o + 2]!;
      if (bucket !== bucket) return false;
      if (slots[o] === hi && slots[o + 1] === lo && bucket > oldest) return true;
    }
  }

  /** Records the nonce in `bucket`: over its own slot, else the first dead one on its path, else a new one. */
  put(nonce: bigint, bucket: number, oldest: number): void {
    this.halves.setBigUint64(0, nonce);
    const hi = this.halves.getUint32(0);
    const lo = this.halves.getUint32(4);
    const h = slotOf(hi, lo);
    const shard = h >>> (32 - SHARD_BITS);
    const slots = this.shards[shard]!;
    const mask = slots.length / STRIDE - 1;
    let free = -1;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const o = i * STRIDE;
      const b = slots[o + 2]!;
      if (b !== b) break;
      if (slots[o] === hi && slots[o + 1] === lo) {
        slots[o + 2] = bucket;
        return;
      }
      if (free < 0 && b <= oldest) free = i;
    }
    if (free < 0) {
      free = i;
      this.used[shard]!++;
    }
    const o = free * STRIDE;
    slots[o] = hi;
    slots[o + 1] = lo;
    slots[o + 2] = bucket;
    if (this.used[shard]! * 4 > (mask + 1) * 3) this.rebuild(shard, oldest);
  }

  /** Re-hashes a shard's live slots into one they fill at most a third of. */
  private rebuild(shard: number, oldest: number): void {
    const old = this.shards[shard]!;
    let live = 0;
    for (let o = 0; o < old.length; o += STRIDE) if (old[o + 2]! > oldest) live++;
    let count = MIN_SLOTS;
    while (count < live * 3) count *= 2;
    const slots = emptyShard(count);
    const mask = count - 1;
    for (let o = 0; o < old.length; o += STRIDE) {
      const bucket = old[o + 2]!;
      if (!(bucket > oldest)) continue;
      // A fresh shard has no dead slot and no duplicate: the first never-used slot is the one.
      let i = slotOf(old[o]!, old[o + 1]!) & mask;
      while (slots[i * STRIDE + 2] === slots[i * STRIDE + 2]) i = (i + 1) & mask;
      slots[i * STRIDE] = old[o]!;
      slots[i * STRIDE + 1] = old[o + 1]!;
      slots[i * STRIDE + 2] = bucket;
    }
    this.shards[shard] = slots;
    this.used[shard] = live;
  }
}

function emptyShard(slots: number): Float64Array {
  const shard = new Float64Array(slots * STRIDE);
  for (let o = 2; o < shard.length; o += STRIDE) shard[o] = NaN;
  return shard;
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

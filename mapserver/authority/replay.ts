// Replay protection for Map-Registers. A captured Map-Register re-sent later (from any address)
// authenticates, since the HMAC covers the message and not who sends it; if it were accepted it
// could move a VM back to where it was. Every authenticated Map-Register that wants a Map-Notify
// carries a random nonce (RFC 9301 §5.6; OOR draws a new one for every message, retries
// included), so a nonce seen within the window is a replay: refused, counted, state unchanged.
// The window is kept in one-second buckets, persisted with the registrations so that it
// survives a restart (a crash loses at most the bucket being filled).
import type { StateChange } from '../db/model.js';

type NonceChange = Extract<StateChange, { kind: 'put-nonces' | 'delete-nonces' }>;

const BUCKET_MS = 1000;

export class ReplayWindow {
  /** Bucket start (epoch ms) -> nonces accepted in it; the open bucket is the last. */
  private readonly buckets = new Map<number, bigint[]>();
  private readonly seen = new Map<bigint, number>();
  private openAt = -1;
  private open: bigint[] = [];

  constructor(private readonly windowMs: number) {}

  /** Whether a Map-Register with `nonce` was accepted within the window. */
  isReplay(nonce: bigint, now: number): boolean {
    const at = this.seen.get(nonce);
    return at !== undefined && now - at < this.windowMs + BUCKET_MS;
  }

  /** Remembers an accepted Map-Register's nonce. */
  remember(nonce: bigint, now: number): void {
    const bucket = now - (now % BUCKET_MS);
    if (bucket !== this.openAt) {
      if (this.open.length) this.buckets.set(this.openAt, this.open);
      this.openAt = bucket;
      this.open = [];
    }
    this.open.push(nonce);
    this.seen.set(nonce, bucket);
  }

  /** Restores buckets read from the store; returns the deletions of those already out of the window. */
  load(buckets: ReadonlyArray<{ readonly at: number; readonly nonces: readonly bigint[] }>, now: number): NonceChange[] {
    const stale: NonceChange[] = [];
    for (const { at, nonces } of buckets) {
      if (now - at >= this.windowMs + BUCKET_MS) {
        stale.push({ kind: 'delete-nonces', at });
        continue;
      }
      this.buckets.set(at, [...nonces]);
      for (const nonce of nonces) this.seen.set(nonce, at);
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
      this.buckets.set(this.openAt, this.open);
      changes.push({ kind: 'put-nonces', at: this.openAt, nonces: this.open });
      this.open = [];
      this.openAt = -1;
    }
    for (const [at, nonces] of this.buckets) {
      if (now - at < this.windowMs + BUCKET_MS) continue;
      this.buckets.delete(at);
      for (const nonce of nonces) if (this.seen.get(nonce) === at) this.seen.delete(nonce);
      changes.push({ kind: 'delete-nonces', at });
    }
    return changes;
  }

  get size(): number {
    return this.seen.size;
  }
}

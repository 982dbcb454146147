// Token buckets per address: livmap must not be a reflector. A spoofed Map-Request makes us
// send a Map-Reply to its ITR-RLOC, so answers to one address are limited (RFC 9301 §5.3).
export interface RateLimit {
  /** Tokens added per second; 0 disables the limit. */
  readonly perSecond: number;
  /** Bucket size: the burst one address may get at once. */
  readonly burst: number;
  /** Addresses tracked at most; the least recently refilled are forgotten first. */
  readonly maxAddresses: number;
}

/** Generous for one ITR with many hosts behind it, far below what would make us a useful reflector. */
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 1000, burst: 2000, maxAddresses: 100_000 };

interface Bucket {
  tokens: number;
  last: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: RateLimit) {}

  get tracked(): number {
    return this.buckets.size;
  }

  /** Takes one token for `address` at `now` (ms); false when its bucket is empty. */
  allow(address: string, now: number): boolean {
    if (this.limit.perSecond <= 0) return true;
    let bucket = this.buckets.get(address);
    if (!bucket) {
      bucket = { tokens: this.limit.burst, last: now };
      this.buckets.set(address, bucket);
      if (this.buckets.size > this.limit.maxAddresses) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
      }
    } else if (now > bucket.last) {
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.last) * this.limit.perSecond) / 1000);
      bucket.last = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

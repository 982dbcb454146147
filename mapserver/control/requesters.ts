// Who asked for what: every ITR we answered, with the prefix we gave it, until that answer's
// TTL runs out. When a binding changes, these are the ITRs that may hold the old one.
import type { Address, EidPrefix } from '../codec/types.js';
import { prefixKey } from '../db/prefix.js';
import { PrefixTable } from '../db/trie.js';

export interface Requester {
  /** The ITR-RLOC the answer went to. */
  readonly itr: string;
  /** The Map-Request's source EID: names one of the ITR's own EIDs (the SMR's record). */
  readonly sourceEid: Address;
  /** The prefix the ITR was answered (what it caches). */
  readonly eid: EidPrefix;
  readonly expiresAt: number;
  /** RFC 9437: the ITR asked to be notified of changes (N bit with an xTR-ID). */
  readonly subscription?: { readonly xtrId: Uint8Array; readonly siteId?: Uint8Array };
}

type Entry = { -readonly [K in keyof Requester]: Requester[K] };

/** Answered prefixes come from the database already canonical, so their text is a fine key. */
function requesterKey(itr: string, eid: EidPrefix): string {
  const a = eid.address;
  const address = a.afi === 'ipv4' || a.afi === 'ipv6' ? a.ip : a.afi === 'mac' ? a.mac : prefixKey(eid);
  return `${itr}|${eid.iid}|${address}/${eid.length}`;
}

export class RequesterTable {
  /** Insertion order = age: the first key is the oldest, evicted first when full. */
  private readonly byKey = new Map<string, Entry>();
  private readonly byPrefix = new PrefixTable<Map<string, Entry>>();

  constructor(private readonly capacity = 100_000) {}

  get size(): number {
    return this.byKey.size;
  }

  record(requester: Requester): void {
    const key = requesterKey(requester.itr, requester.eid);
    const old = this.byKey.get(key);
    if (old) {
      // The same ITR asking again (every Map-Request on the hot path): refresh in place.
      old.expiresAt = requester.expiresAt;
      old.sourceEid = requester.sourceEid;
      // A subscription survives refreshes that do not repeat the N bit.
      if (requester.subscription) old.subscription = requester.subscription;
      return;
    }
    const kept: Entry = { ...requester };
    this.byKey.set(key, kept);
    let atPrefix = this.byPrefix.get(requester.eid);
    if (!atPrefix) {
      atPrefix = new Map();
      this.byPrefix.set(requester.eid, atPrefix);
    }
    atPrefix.set(key, kept);
    while (this.byKey.size > this.capacity) {
      const [oldestKey, oldest] = this.byKey.entries().next().value as [string, Entry];
      this.remove(oldestKey, oldest);
    }
  }

  private remove(key: string, requester: Entry): void {
    this.byKey.delete(key);
    const atPrefix = this.byPrefix.get(requester.eid);
    if (!atPrefix) return;
    atPrefix.delete(key);
    if (atPrefix.size === 0) this.byPrefix.delete(requester.eid);
  }

  /** Live requesters whose answered prefix overlaps `eid` (covers it or lies inside it). */
  overlapping(eid: EidPrefix, now: number): Requester[] {
    const out: Requester[] = [];
    const seen = new Set<Map<string, Entry>>();
    for (const { value } of [...this.byPrefix.covering(eid), ...this.byPrefix.coveredBy(eid)]) {
      if (seen.has(value)) continue;
      seen.add(value);
      for (const [key, requester] of value) {
        if (requester.expiresAt > now) out.push(requester);
        else this.remove(key, requester);
      }
    }
    return out;
  }

  /** Drops answers whose TTL ran out. */
  /**
   * Drops expired answers among the `limit` oldest entries: called every second, it must not
   * stall the event loop over a full table (expired entries are skipped by `overlapping`
   * anyway, and capacity bounds the rest).
   */
  sweep(now: number, limit = 2000): void {
    let seen = 0;
    for (const [key, requester] of this.byKey) {
      if (++seen > limit) break;
      if (requester.expiresAt <= now) this.remove(key, requester);
    }
  }
}

// Who asked for what: every ITR we answered, with the prefix we gave it, until that answer's
// TTL runs out. When a binding changes, these are the ITRs that may hold the old one.
import type { Address, EidPrefix } from '../codec/types.js';
import type { Requester } from '../db/model.js';
import { sameAddress } from '../codec/address.js';
import { PrefixSlots, type PrefixSlot } from '../db/prefix-slots.js';
import { SmallMap } from '../db/small-map.js';


/**
 * A requester as the table keeps it. Its expiry is held as whole seconds from the table's epoch
 * (rounded up): a small integer V8 stores in place. A millisecond timestamp written on every
 * Map-Request allocates a fresh number each time, referenced from an old entry, which keeps it
 * alive through the next scavenge and makes every scavenge longer (the half-load p99).
 */
class Entry implements Requester {
  private until: number;
  subscription: Requester['subscription'];
  /** Kept with the registered xTRs (see RequesterTable). */
  xtr = false;

  constructor(
    private readonly epoch: number,
    readonly itr: string,
    public sourceEid: Address,
    readonly eid: EidPrefix,
    expiresAt: number,
    subscription: Requester['subscription'],
  ) {
    this.until = Math.ceil((expiresAt - epoch) / 1000);
    this.subscription = subscription;
  }

  get expiresAt(): number {
    return this.epoch + this.until * 1000;
  }

  /** Returns whether the expiry (in whole seconds) changed. */
  expireAt(expiresAt: number): boolean {
    const until = Math.ceil((expiresAt - this.epoch) / 1000);
    if (until === this.until) return false;
    this.until = until;
    return true;
  }
}

/** The requesters answered one prefix, by ITR-RLOC. */
interface RequesterSlot extends PrefixSlot {
  readonly byItr: SmallMap<string, Entry>;
}

export class RequesterTable {
  /**
   * Insertion order = age: the first entry is the oldest, evicted first when full. Entries of
   * ITR-RLOCs that are registered xTRs (`isRegisteredXtr`) are kept apart and evicted only when
   * no other entry is left: a flood of Map-Requests from spoofed ITR-RLOCs can fill the table,
   * but cannot push out the sites' own xTRs, which must get the SMRs when a VM moves.
   */
  private readonly byAge = new Map<Entry, RequesterSlot>();
  private readonly xtrsByAge = new Map<Entry, RequesterSlot>();
  /** By answered prefix: by object first (db/prefix-slots.ts). */
  private readonly slots = new PrefixSlots<RequesterSlot>();

  /** Whole seconds: expiries are kept relative to it (see Entry). */
  private readonly epoch = Math.floor(Date.now() / 1000) * 1000;

  constructor(
    private readonly capacity = 100_000,
    private readonly isRegisteredXtr: (itr: string) => boolean = () => false,
  ) {}

  get size(): number {
    return this.byAge.size + this.xtrsByAge.size;
  }

  /** Bumped when an entry is added, removed or given a later expiry: whether a saved snapshot is out of date. */
  version = 0;

  /**
   * Every entry, live or not, oldest first in each class (other ITRs, then registered xTRs), as a
   * lazy walk a caller may spread over event-loop turns: an entry removed meanwhile is skipped,
   * one added meanwhile comes at the end, one that joins the xTRs' class meanwhile may come twice.
   */
  *inAgeOrder(): Generator<Requester> {
    yield* this.byAge.keys();
    yield* this.xtrsByAge.keys();
  }

  /** The live entries, oldest first (what a restart needs to SMR the ITRs that asked before it). */
  snapshot(now: number): Requester[] {
    const out: Requester[] = [];
    for (const entry of this.inAgeOrder()) {
      if (entry.expiresAt <= now) continue;
      out.push({ itr: entry.itr, sourceEid: entry.sourceEid, eid: entry.eid, expiresAt: entry.expiresAt, ...(entry.subscription ? { subscription: entry.subscription } : {}) });
    }
    return out;
  }

  /** Puts back a snapshot's live entries. */
  restore(requesters: readonly Requester[], now: number): void {
    for (const requester of requesters) if (requester.expiresAt > now) this.record(requester);
  }

  record(requester: Requester): void {
    const slot = this.slotFor(requester.eid);
    const old = slot.byItr.get(requester.itr);
    if (old) {
      // The same ITR asking again (every Map-Request on the hot path): refresh in place; the
      // age order (insertion order) and the eviction it drives are not touched.
      if (old.expireAt(requester.expiresAt)) this.version++;
      // Storing this request's (young) address in the old entry would keep it alive past the
      // next scavenge and promote it: a GC cost per request for an address that rarely changes.
      if (!sameAddress(old.sourceEid, requester.sourceEid)) old.sourceEid = requester.sourceEid;
      // A subscription survives refreshes that do not repeat the N bit.
      if (requester.subscription) old.subscription = requester.subscription;
      // An ITR that registered (as an xTR) since it was first answered is protected from now on.
      if (!old.xtr && this.isRegisteredXtr(old.itr) && this.byAge.delete(old)) {
        old.xtr = true;
        this.xtrsByAge.set(old, slot);
      }
      return;
    }
    this.version++;
    const kept = new Entry(this.epoch, requester.itr, requester.sourceEid, requester.eid, requester.expiresAt, requester.subscription);
    slot.byItr.set(kept.itr, kept);
    kept.xtr = this.isRegisteredXtr(kept.itr);
    (kept.xtr ? this.xtrsByAge : this.byAge).set(kept, slot);
    while (this.size > this.capacity) {
      const [oldest, oldestSlot] = (this.byAge.size > 0 ? this.byAge : this.xtrsByAge).entries().next().value as [Entry, RequesterSlot];
      this.remove(oldest, oldestSlot);
    }
  }

  private slotFor(eid: EidPrefix): RequesterSlot {
    return this.slots.slotFor(eid, () => ({ byItr: new SmallMap(), live: true, misses: 0 }));
  }

  private remove(requester: Entry, slot: RequesterSlot): void {
    this.version++;
    (requester.xtr ? this.xtrsByAge : this.byAge).delete(requester);
    slot.byItr.delete(requester.itr);
    if (slot.byItr.size === 0) {
      this.slots.drop(requester.eid, slot);
    }
  }

  /** Live requesters whose answered prefix overlaps `eid` (covers it or lies inside it). */
  overlapping(eid: EidPrefix, now: number): Requester[] {
    const out: Requester[] = [];
    const seen = new Set<RequesterSlot>();
    for (const { value: slot } of [...this.slots.byValue.covering(eid), ...this.slots.byValue.coveredBy(eid)]) {
      if (seen.has(slot)) continue;
      seen.add(slot);
      for (const requester of [...slot.byItr.values()]) {
        if (requester.expiresAt > now) out.push(requester);
        else this.remove(requester, slot);
      }
    }
    return out;
  }

  /**
   * Drops expired answers among the `limit` oldest entries: called every second, it must not
   * stall the event loop over a full table (expired entries are skipped by `overlapping`
   * anyway, and capacity bounds the rest).
   */
  sweep(now: number, limit = 2000): void {
    for (const byAge of [this.byAge, this.xtrsByAge]) {
      let seen = 0;
      for (const [requester, slot] of byAge) {
        if (++seen > limit) break;
        if (requester.expiresAt <= now) this.remove(requester, slot);
      }
    }
  }
}

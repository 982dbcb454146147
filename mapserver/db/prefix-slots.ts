// Values kept per EID prefix, found by the prefix object first and by value second. The prefix
// objects a lookup is asked with are mostly the database's own, the same object on every
// Map-Request for that EID: found by identity, a lookup skips parsing the prefix and walking the
// trie. Others are built for one answer (every negative reply's prefix is a new object): they
// must not add a WeakMap entry per request, garbage the GC has to trace. Remembering the object
// of the 1st, 2nd, 4th, 8th... lookup by value does both: a repeated object is remembered within
// twice the misses so far, one-shot objects add a logarithmic number of entries.
import type { EidPrefix } from '../codec/types.js';
import { PrefixTable } from './trie.js';

/** What a slot carries for the lookup by object. */
export interface PrefixSlot {
  /** False once the slot has left the table: a lookup by object must not revive it. */
  live: boolean;
  /** Lookups of this slot by value, not by object. */
  misses: number;
}

export class PrefixSlots<S extends PrefixSlot> {
  /** Every live slot, by prefix value (for walks and covering/covered queries). */
  readonly byValue = new PrefixTable<S>();
  private readonly byObject = new WeakMap<EidPrefix, S>();

  /** The slot of `eid`'s prefix, made by `create` if it has none. */
  slotFor(eid: EidPrefix, create: () => S): S {
    let slot = this.byObject.get(eid);
    if (slot?.live) return slot;
    slot = this.byValue.get(eid);
    if (!slot) {
      slot = create();
      this.byValue.set(eid, slot);
      this.byObject.set(eid, slot);
      return slot;
    }
    const misses = slot.misses + 1;
    if (misses < 0x40000000) slot.misses = misses;
    if ((misses & (misses - 1)) === 0) this.byObject.set(eid, slot);
    return slot;
  }

  /** Removes `slot`, the slot of `eid`'s prefix. */
  drop(eid: EidPrefix, slot: S): void {
    slot.live = false;
    this.byValue.delete(eid);
  }
}

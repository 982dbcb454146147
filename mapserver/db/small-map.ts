// A map for keys that nearly always number one: the registrations of a prefix (one ETR) or the
// ITRs answered about it. The first entry lives in two fields and a Map exists only from the
// second on; a Map per prefix cost about 100 bytes and a GC-traced object, a million times over.

/** What callers outside the owner may ask. */
export interface ReadonlySmallMap<K, V> {
  readonly size: number;
  get(key: K): V | undefined;
  any(): V | undefined;
  has(key: K): boolean;
  values(): Iterable<V>;
}

export class SmallMap<K, V> implements ReadonlySmallMap<K, V> {
  private firstKey: K | undefined;
  private first: V | undefined;
  private more: Map<K, V> | undefined;

  get size(): number {
    return (this.first !== undefined ? 1 : 0) + (this.more?.size ?? 0);
  }

  get(key: K): V | undefined {
    return this.first !== undefined && key === this.firstKey ? this.first : this.more?.get(key);
  }

  /** Some entry (the oldest that remains), without iterating. */
  any(): V | undefined {
    return this.first;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  *values(): Iterable<V> {
    if (this.first !== undefined) yield this.first;
    if (this.more) yield* this.more.values();
  }

  /** `value` must not be undefined (undefined marks the empty first slot). */
  set(key: K, value: V): void {
    if (this.first === undefined || key === this.firstKey) {
      this.firstKey = key;
      this.first = value;
    } else {
      (this.more ??= new Map()).set(key, value);
    }
  }

  delete(key: K): boolean {
    if (this.first !== undefined && key === this.firstKey) {
      // Promote an entry of the Map, so the first slot is empty only when the whole map is.
      const next = this.more?.entries().next();
      if (next && !next.done) {
        const [k, v] = next.value;
        this.more!.delete(k);
        this.firstKey = k;
        this.first = v;
      } else {
        this.firstKey = undefined;
        this.first = undefined;
      }
      return true;
    }
    return this.more?.delete(key) ?? false;
  }
}

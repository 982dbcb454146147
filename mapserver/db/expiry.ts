// When registrations expire, without walking all of them every second: a min-heap of
// (expiresAt, registration). A refresh that does not shorten the lifetime pushes nothing: the
// key's entry already in the heap comes due no later than the refreshed registration, and when
// it surfaces the key's current registration is either due or pushed again at its own time.
// So the heap holds about one entry per registered key, not one per Map-Register: at 20k
// refreshes a second an entry per refresh kept every replaced registration alive for its whole
// lifetime (3.6M objects promoted to the old generation per 180 s).
import type { Registration } from './model.js';

export class ExpiryQueue {
  private readonly heap: Registration[] = [];
  /** heap[i]'s expiresAt when it was pushed: the heap's order. */
  private readonly at: number[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(registration: Registration): void {
    const { heap, at } = this;
    const key = registration.expiresAt;
    heap.push(registration);
    at.push(key);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent]! <= key) break;
      heap[i] = heap[parent]!;
      at[i] = at[parent]!;
      i = parent;
    }
    heap[i] = registration;
    at[i] = key;
  }

  /**
   * Removes the entries due at `now` and returns, each once, the current registrations of their
   * keys (`current`: the registration stored now for the same EID and ETR, if any) that are due;
   * a current registration refreshed since its entry was pushed goes back in at its own time.
   */
  popDue(now: number, current: (registration: Registration) => Registration | undefined): Registration[] {
    const due: Registration[] = [];
    let seen: Set<Registration> | undefined;
    const { heap, at } = this;
    while (heap.length > 0 && at[0]! <= now) {
      const top = heap[0]!;
      const last = heap.pop()!;
      const lastAt = at.pop()!;
      if (heap.length > 0) this.siftDown(last, lastAt);
      const reg = current(top);
      if (!reg) continue;
      // Refreshed since the entry was pushed (replaced, or its lifetime changed in place).
      if (reg.expiresAt > now) {
        this.push(reg);
        continue;
      }
      // A key can have two entries (a shortened lifetime pushes its own): report it once.
      seen ??= new Set();
      if (seen.has(reg)) continue;
      seen.add(reg);
      due.push(reg);
    }
    return due;
  }

  private siftDown(item: Registration, key: number): void {
    const { heap, at } = this;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && at[right]! < at[left]! ? right : left;
      if (at[child]! >= key) break;
      heap[i] = heap[child]!;
      at[i] = at[child]!;
      i = child;
    }
    heap[i] = item;
    at[i] = key;
  }
}

// When registrations expire, without walking all of them every second: a min-heap of
// (expiresAt, registration). A refresh pushes a new entry; the stale one is recognised when it
// surfaces (its registration has moved on) and dropped.
import type { Registration } from './model.js';

export class ExpiryQueue {
  private readonly heap: Registration[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(registration: Registration): void {
    const heap = this.heap;
    heap.push(registration);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.expiresAt <= registration.expiresAt) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = registration;
  }

  /** Removes and returns every entry due at `now` for which `isCurrent` holds. */
  popDue(now: number, isCurrent: (registration: Registration) => boolean): Registration[] {
    const due: Registration[] = [];
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.expiresAt <= now) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) this.siftDown(last);
      if (isCurrent(top)) due.push(top);
    }
    return due;
  }

  private siftDown(item: Registration): void {
    const heap = this.heap;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.expiresAt < heap[left]!.expiresAt ? right : left;
      if (heap[child]!.expiresAt >= item.expiresAt) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}

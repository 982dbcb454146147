// The timer service: retransmission of the messages the server originates (Map-Notify, SMR):
// send, then resend every `intervalMs` up to `retries` times until acknowledged or cancelled
// (RFC 9301 §5.7, §6.6.2). The one mechanism for every such message (transport/outbox.ts drives
// it): a move's thousands of SMRs share one timer per round (a group), a lone Map-Notify is a
// group of one. Time is injected for tests (control/types.ts Timers).
import type { Timers } from '../control/types.js';

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What is done with an item: sent (now and at each round), given up on once the retries are spent. */
export interface RetransmitHandlers<T> {
  transmit(item: T): void;
  giveUp?(item: T): void;
}

/** A pending item and the group whose timer resends it (the caller's object, not a copy). */
interface Entry<T> {
  readonly item: T;
  readonly group: Group<T>;
}

interface Group<T> {
  readonly entries: Entry<T>[];
  /** Entries of this group still pending. */
  live: number;
  sent: number;
  timer: unknown;
}

/**
 * Items are the caller's own objects (`key`: what the acknowledgement is matched by); the
 * handlers, not a closure per item, send them: a move's 10,000 SMRs allocate nothing here but
 * their entries.
 */
export class Retransmitter<K, T extends { readonly key: K }> {
  private readonly pending = new Map<K, Entry<T>>();

  constructor(
    private readonly timers: Timers,
    private readonly handlers: RetransmitHandlers<T>,
    private readonly intervalMs = 1000,
    /** RFC 9301 §6.6.2 / §5.7: retransmit up to 3 times. */
    private readonly retries = 3,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Transmits each item now, in order, and retransmits those still pending together, on one
   * timer. A pending item with the same key as one of them is replaced (a newer move's SMR to
   * the same ITR for the same EID). Returns how many were started.
   */
  startAll(items: Iterable<T>): number {
    const group: Group<T> = { entries: [], live: 0, sent: 1, timer: undefined };
    for (const item of items) {
      const replaced = this.pending.get(item.key);
      if (replaced) this.release(replaced);
      const entry: Entry<T> = { item, group };
      group.entries.push(entry);
      group.live++;
      // Overwriting the key (not delete + set) keeps the table from shrinking and growing again.
      this.pending.set(item.key, entry);
      this.handlers.transmit(item);
    }
    if (group.live > 0) this.schedule(group);
    return group.entries.length;
  }

  private schedule(group: Group<T>): void {
    group.timer = this.timers.setTimeout(() => this.round(group), this.intervalMs);
  }

  private round(group: Group<T>): void {
    group.timer = undefined;
    const open = group.entries.filter((entry) => this.pending.get(entry.item.key) === entry);
    if (group.sent > this.retries) {
      for (const { item } of open) {
        this.pending.delete(item.key);
        this.handlers.giveUp?.(item);
      }
      group.live = 0;
      return;
    }
    group.sent++;
    for (const entry of open) this.handlers.transmit(entry.item);
    if (open.length) this.schedule(group);
  }

  /** The pending item under `key`. */
  get(key: K): T | undefined {
    return this.pending.get(key)?.item;
  }

  /** Stops retransmitting; true when `key` was pending. */
  cancel(key: K): boolean {
    const entry = this.pending.get(key);
    if (!entry) return false;
    this.pending.delete(key);
    this.release(entry);
    return true;
  }

  /** The entry leaves its group: the group's timer stops with its last entry. */
  private release({ group }: Entry<T>): void {
    if (--group.live === 0 && group.timer !== undefined) {
      this.timers.clearTimeout(group.timer);
      group.timer = undefined;
    }
  }

  cancelAll(): void {
    for (const key of [...this.pending.keys()]) this.cancel(key);
  }
}

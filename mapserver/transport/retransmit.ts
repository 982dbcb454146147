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

/** One message to keep sending until it is acknowledged. */
export interface Transmission<K> {
  readonly key: K;
  readonly transmit: () => void;
  /** Called once the retries are spent without an acknowledgement. */
  readonly onGiveUp?: () => void;
}

/** A pending transmission and the group whose timer resends it (the caller's object, not a copy). */
interface Entry<K, T extends Transmission<K>> {
  readonly transmission: T;
  readonly group: Group<K, T>;
}

interface Group<K, T extends Transmission<K>> {
  readonly entries: Entry<K, T>[];
  /** Entries of this group still pending. */
  live: number;
  sent: number;
  timer: unknown;
}

/** `T`: what a caller keeps with each transmission (returned by `get`). */
export class Retransmitter<K, T extends Transmission<K> = Transmission<K>> {
  private readonly pending = new Map<K, Entry<K, T>>();

  constructor(
    private readonly timers: Timers,
    private readonly intervalMs = 1000,
    /** RFC 9301 §6.6.2 / §5.7: retransmit up to 3 times. */
    private readonly retries = 3,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Transmits now and schedules retransmissions; a pending entry with the same key is replaced. */
  start(key: K, transmit: () => void, onGiveUp?: () => void): void {
    this.startAll([{ key, transmit, ...(onGiveUp ? { onGiveUp } : {}) } as T]);
  }

  /**
   * Transmits each message now, in order, and retransmits those still pending together, on one
   * timer. A pending entry with the same key as one of them is replaced (a newer move's SMR to
   * the same ITR for the same EID).
   */
  startAll(transmissions: Iterable<T>): void {
    const group: Group<K, T> = { entries: [], live: 0, sent: 1, timer: undefined };
    for (const transmission of transmissions) {
      this.cancel(transmission.key);
      const entry: Entry<K, T> = { transmission, group };
      group.entries.push(entry);
      group.live++;
      this.pending.set(transmission.key, entry);
      transmission.transmit();
    }
    if (group.live > 0) this.schedule(group);
  }

  private schedule(group: Group<K, T>): void {
    group.timer = this.timers.setTimeout(() => this.round(group), this.intervalMs);
  }

  private round(group: Group<K, T>): void {
    group.timer = undefined;
    const open = group.entries.filter((entry) => this.pending.get(entry.transmission.key) === entry);
    if (group.sent > this.retries) {
      for (const { transmission } of open) {
        this.pending.delete(transmission.key);
        transmission.onGiveUp?.();
      }
      group.live = 0;
      return;
    }
    group.sent++;
    for (const entry of open) entry.transmission.transmit();
    if (open.length) this.schedule(group);
  }

  has(key: K): boolean {
    return this.pending.has(key);
  }

  /** The pending transmission under `key`. */
  get(key: K): T | undefined {
    return this.pending.get(key)?.transmission;
  }

  /** Stops retransmitting; true when `key` was pending. */
  cancel(key: K): boolean {
    const entry = this.pending.get(key);
    if (!entry) return false;
    this.pending.delete(key);
    const { group } = entry;
    if (--group.live === 0 && group.timer !== undefined) {
      this.timers.clearTimeout(group.timer);
      group.timer = undefined;
    }
    return true;
  }

  cancelAll(): void {
    for (const key of [...this.pending.keys()]) this.cancel(key);
  }
}

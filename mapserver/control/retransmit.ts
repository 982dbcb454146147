// Retransmission of the messages the server originates (Map-Notify, SMR): send, then resend
// every `intervalMs` up to `retries` times until acknowledged or cancelled (RFC 9301 §5.7,
// §6.6.2). The one mechanism for every such message: a move's thousands of SMRs share one
// timer per round (a group), a lone Map-Notify is a group of one. Time is injected for tests.
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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

interface Entry<K> extends Transmission<K> {
  readonly group: Group<K>;
}

interface Group<K> {
  readonly entries: Entry<K>[];
  /** Entries of this group still pending. */
  live: number;
  sent: number;
  timer: unknown;
}

export class Retransmitter<K> {
  private readonly pending = new Map<K, Entry<K>>();

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
    this.startAll([{ key, transmit, ...(onGiveUp ? { onGiveUp } : {}) }]);
  }

  /**
   * Transmits each message now, in order, and retransmits those still pending together, on one
   * timer. A pending entry with the same key as one of them is replaced (a newer move's SMR to
   * the same ITR for the same EID).
   */
  startAll(transmissions: Iterable<Transmission<K>>): void {
    const group: Group<K> = { entries: [], live: 0, sent: 1, timer: undefined };
    for (const transmission of transmissions) {
      this.cancel(transmission.key);
      const entry: Entry<K> = { ...transmission, group };
      group.entries.push(entry);
      group.live++;
      this.pending.set(entry.key, entry);
      entry.transmit();
    }
    if (group.live > 0) this.schedule(group);
  }

  private schedule(group: Group<K>): void {
    group.timer = this.timers.setTimeout(() => this.round(group), this.intervalMs);
  }

  private round(group: Group<K>): void {
    group.timer = undefined;
    const open = group.entries.filter((entry) => this.pending.get(entry.key) === entry);
    if (group.sent > this.retries) {
      for (const entry of open) {
        this.pending.delete(entry.key);
        entry.onGiveUp?.();
      }
      group.live = 0;
      return;
    }
    group.sent++;
    for (const entry of open) entry.transmit();
    if (open.length) this.schedule(group);
  }

  has(key: K): boolean {
    return this.pending.has(key);
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

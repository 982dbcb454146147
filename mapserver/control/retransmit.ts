// Retransmission of messages the server originates (Map-Notify, later SMR): send, then resend
// every `intervalMs` up to `retries` times until acknowledged. Time is injected for tests.
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

interface Pending {
  readonly transmit: () => void;
  readonly onGiveUp: (() => void) | undefined;
  sent: number;
  timer: unknown;
}

export class Retransmitter<K> {
  private readonly pending = new Map<K, Pending>();

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
    this.cancel(key);
    const entry: Pending = { transmit, onGiveUp, sent: 0, timer: undefined };
    this.pending.set(key, entry);
    this.fire(key, entry);
  }

  private fire(key: K, entry: Pending): void {
    if (entry.sent > this.retries) {
      this.pending.delete(key);
      entry.onGiveUp?.();
      return;
    }
    entry.sent++;
    entry.transmit();
    entry.timer = this.timers.setTimeout(() => this.fire(key, entry), this.intervalMs);
  }

  has(key: K): boolean {
    return this.pending.has(key);
  }

  /** Stops retransmitting; true when `key` was pending. */
  cancel(key: K): boolean {
    const entry = this.pending.get(key);
    if (!entry) return false;
    this.timers.clearTimeout(entry.timer);
    this.pending.delete(key);
    return true;
  }

  cancelAll(): void {
    for (const key of [...this.pending.keys()]) this.cancel(key);
  }
}

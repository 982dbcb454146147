// The sending edge: every datagram the server sends leaves here. Handlers and mobility say what
// to send (Outbound, Reliable); the outbox encodes and signs it, applies the last checks on its
// destination, and resends what must be acknowledged through the one retransmission timer
// service (retransmit.ts). With worker threads, a big reliable batch (a move's SMRs, or a
// retransmission round of them) is handed in chunks to a bulk sink that sends it from several
// threads' sockets at once (workers/bulk.ts): sendmsg, not livmap's code, is most of a fan-out.
import { encode, signMessage } from '../codec/index.js';
import type { Outbound, Reliable, Timers } from '../control/types.js';
import type { Endpoint } from '../db/model.js';
import { Retransmitter } from './retransmit.js';

/** One datagram, as it leaves. */
export interface Datagram {
  readonly to: Endpoint;
  readonly bytes: Uint8Array;
}

/** Sends datagrams from several threads' sockets, each exactly once (the pool's spread). */
export type BulkSink = (datagrams: readonly Datagram[]) => void;

/**
 * A reliable batch (or a retransmission round) with at least this many datagrams goes to the
 * bulk sink, in chunks of this many as they are built: the workers start sending while the main
 * thread builds the rest. Below it one thread sends faster than a post to a worker pays off.
 */
export const BULK_THRESHOLD = 512;

interface Batch {
  readonly bulk: BulkSink;
  /** Built and not yet handed on. */
  datagrams: Datagram[];
  /** The batch reached the threshold: the rest of it goes to the bulk sink too. */
  spreading: boolean;
}

export interface OutboxHooks {
  /** Whether a destination may be sent to (own sockets, a test's or lab's filter). */
  allowed(to: Endpoint): boolean;
  /** A datagram refused by `allowed`. */
  filtered(): void;
  /** A message of a counted kind left (each retransmission too). */
  sent(kind: 'smr' | 'map-notify'): void;
  /** A reliable message's retries ran out without an acknowledgement. */
  gaveUp(key: string): void;
}

export class Outbox {
  private sink: ((to: Endpoint, bytes: Uint8Array) => void) | undefined;
  private bulk: BulkSink | undefined;
  /** The reliable batch being sent, while there is a bulk sink. */
  private batch: Batch | undefined;
  private readonly pending: Retransmitter<string, Reliable>;

  constructor(
    private readonly hooks: OutboxHooks,
    timers: Timers,
  ) {
    // Each retransmission round is a batch of its own: a big round is spread like the first.
    this.pending = new Retransmitter<string, Reliable>({
      setTimeout: (fn, ms) => timers.setTimeout(() => this.asBatch(fn), ms),
      clearTimeout: (handle) => timers.clearTimeout(handle),
    }, {
      transmit: (message) => {
        if (message.kind === 'smr') this.hooks.sent('smr');
        this.send(message.out);
      },
      giveUp: (message) => this.hooks.gaveUp(message.key),
    });
  }

  /** Where datagrams go (the UDP transport, once bound); nothing is sent before. */
  attach(sink: ((to: Endpoint, bytes: Uint8Array) => void) | undefined): void {
    this.sink = sink;
  }

  /**
   * Where big reliable batches go (the worker pool, mapserver/workers/pool.ts spread); without
   * one, every datagram leaves through the sink as it is built.
   */
  attachBulk(sink: BulkSink | undefined): void {
    this.bulk = sink;
  }

  send(out: Outbound): void {
    if (!this.sink) return;
    if (!this.hooks.allowed(out.to)) {
      this.hooks.filtered();
      return;
    }
    let bytes: Uint8Array;
    if (out.kind === 'raw') bytes = out.bytes;
    else if (out.secret !== undefined && (out.message.type === 'map-notify' || out.message.type === 'map-register')) bytes = signMessage(out.message, out.secret);
    else bytes = encode(out.message);
    if (out.kind === 'message' && out.message.type === 'map-notify') this.hooks.sent('map-notify');
    const batch = this.batch;
    if (!batch) {
      this.sink(out.to, bytes);
      return;
    }
    batch.datagrams.push({ to: out.to, bytes });
    if (batch.datagrams.length >= BULK_THRESHOLD) {
      const chunk = batch.datagrams;
      batch.datagrams = [];
      batch.spreading = true;
      batch.bulk(chunk);
    }
  }

  /**
   * Runs `send` (which sends a reliable batch) collecting its datagrams when there is a bulk
   * sink: a batch that reaches the threshold goes to the bulk sink chunk by chunk, a smaller one
   * leaves through the sink in order once built. Counting and filtering stay here, per message,
   * so they are the same whichever thread's socket a datagram leaves from.
   */
  private asBatch(send: () => void): void {
    const bulk = this.bulk;
    if (!bulk || this.batch) {
      send();
      return;
    }
    const batch: Batch = { bulk, datagrams: [], spreading: false };
    this.batch = batch;
    try {
      send();
    } finally {
      this.batch = undefined;
      const rest = batch.datagrams;
      if (batch.spreading) {
        if (rest.length) bulk(rest);
      } else if (this.sink) {
        for (const d of rest) this.sink(d.to, d.bytes);
      }
    }
  }

  sendAll(outbound: readonly Outbound[]): void {
    for (const out of outbound) this.send(out);
  }

  /**
   * Sends each message now, in order (taken one by one: a move's SMRs are encoded as they
   * leave), and resends those not yet acknowledged together every second, up to 3 times.
   * Returns how many were sent.
   */
  sendReliably(messages: Iterable<Reliable>): number {
    let count = 0;
    this.asBatch(() => {
      count = this.pending.startAll(messages);
    });
    return count;
  }

  /** The pending reliable message's Outbound under `key` (to check an acknowledgement against). */
  awaiting(key: string): Outbound | undefined {
    return this.pending.get(key)?.out;
  }

  /** Stops resending `key`; true when it was pending. */
  acknowledged(key: string): boolean {
    return this.pending.cancel(key);
  }

  close(): void {
    this.pending.cancelAll();
    this.sink = undefined;
    this.bulk = undefined;
  }
}

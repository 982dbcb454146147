// The sending edge: every datagram the server sends leaves here. Handlers and mobility say what
// to send (Outbound, Reliable); the outbox encodes and signs it, applies the last checks on its
// destination, and resends what must be acknowledged through the one retransmission timer
// service (retransmit.ts).
import { encode, signMessage } from '../codec/index.js';
import type { Outbound, Reliable, Timers } from '../control/types.js';
import type { Endpoint } from '../db/model.js';
import { Retransmitter, type Transmission } from './retransmit.js';

interface Pending extends Transmission<string> {
  readonly message: Reliable;
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
  private readonly pending: Retransmitter<string, Pending>;

  constructor(
    private readonly hooks: OutboxHooks,
    timers: Timers,
  ) {
    this.pending = new Retransmitter(timers);
  }

  /** Where datagrams go (the UDP transport, once bound); nothing is sent before. */
  attach(sink: ((to: Endpoint, bytes: Uint8Array) => void) | undefined): void {
    this.sink = sink;
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
    this.sink(out.to, bytes);
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
    const transmissions = function* (this: Outbox): Generator<Pending> {
      for (const message of messages) {
        count++;
        yield {
          key: message.key,
          message,
          transmit: () => {
            if (message.kind === 'smr') this.hooks.sent('smr');
            this.send(message.out);
          },
          onGiveUp: () => this.hooks.gaveUp(message.key),
        };
      }
    };
    this.pending.startAll(transmissions.call(this));
    return count;
  }

  /** The pending reliable message's Outbound under `key` (to check an acknowledgement against). */
  awaiting(key: string): Outbound | undefined {
    return this.pending.get(key)?.message.out;
  }

  /** Stops resending `key`; true when it was pending. */
  acknowledged(key: string): boolean {
    return this.pending.cancel(key);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  close(): void {
    this.pending.cancelAll();
    this.sink = undefined;
  }
}

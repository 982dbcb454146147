// Bulk sending: a big reliable batch (a move's thousands of SMRs) leaves from several threads'
// sockets at once. The kernel's sendmsg costs 5-7 µs per datagram on loopback, so one thread
// cannot send 10k SMRs in 50 ms; every worker's socket is bound to the server's address and port
// (SO_REUSEPORT), so an ITR cannot tell which thread sent its SMR.
//
// A share crosses the MessagePort as one transferable ArrayBuffer (the datagrams back to back,
// then their end offsets and ports) and the destination addresses as strings: one post per
// worker per chunk, no copy on the way.
import type { Endpoint } from '../db/model.js';
import type { Datagram } from '../transport/outbox.js';

/** Datagrams packed for a worker (protocol.ts `send`). */
export interface PackedDatagrams {
  /** The datagrams back to back (`size` bytes), then `count` uint32 end offsets (4-aligned), then `count` uint16 ports. */
  readonly buffer: ArrayBuffer;
  readonly size: number;
  readonly count: number;
  readonly addresses: readonly string[];
}

export function packDatagrams(datagrams: readonly Datagram[]): PackedDatagrams {
  const count = datagrams.length;
  let size = 0;
  for (const d of datagrams) size += d.bytes.byteLength;
  // The offsets start on a 4-byte boundary (a Uint32Array view needs it).
  const endsAt = align4(size);
  const buffer = new ArrayBuffer(endsAt + count * 4 + count * 2);
  const bytes = new Uint8Array(buffer, 0, size);
  const ends = new Uint32Array(buffer, endsAt, count);
  const ports = new Uint16Array(buffer, endsAt + count * 4, count);
  const addresses = new Array<string>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const d = datagrams[i]!;
    bytes.set(d.bytes, at);
    at += d.bytes.byteLength;
    ends[i] = at;
    ports[i] = d.to.port;
    addresses[i] = d.to.address;
  }
  return { buffer, size, count, addresses };
}

/** Calls `send` for each packed datagram, in order (the bytes are views into the buffer). */
export function forEachPacked(packed: PackedDatagrams, send: (to: Endpoint, bytes: Uint8Array) => void): void {
  const { buffer, size, count, addresses } = packed;
  const endsAt = align4(size);
  const ends = new Uint32Array(buffer, endsAt, count);
  const ports = new Uint16Array(buffer, endsAt + count * 4, count);
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = ends[i]!;
    send({ address: addresses[i]!, port: ports[i]! }, new Uint8Array(buffer, start, end - start));
    start = end;
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * How a chunk is split: the main thread builds the datagrams and keeps the bookkeeping of every
 * one (the retransmission entry, the pending SMR), so it takes a smaller share than a worker
 * thread, which only sends. `workers`: live worker threads. Returns how many of `count` the
 * main thread sends itself; the rest is split evenly over the workers.
 */
export function mainThreadShare(count: number, workers: number, weight: number): number {
  if (workers === 0) return count;
  return Math.floor((count * weight) / (weight + workers));
}

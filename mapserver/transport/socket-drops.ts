// Datagrams the kernel dropped before livmap could read them. When a flood outruns the server,
// the excess is dropped by the kernel because the socket's receive buffer is full; the server
// never sees those datagrams, so its own drop counters cannot include them. Linux keeps a
// per-socket count in /proc/net/udp and /proc/net/udp6 (the last column, "drops").
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { Endpoint } from '../db/model.js';
import { addressBytes } from '../codec/prefix.js';

export interface ProcUdpSocket {
  /** Local address bytes (4 or 16) and port. */
  readonly address: Uint8Array;
  readonly port: number;
  /** Bytes waiting in the receive queue. */
  readonly rxQueue: number;
  /** Datagrams dropped for this socket since it was created. */
  readonly drops: number;
}

/**
 * Parses the text of /proc/net/udp or /proc/net/udp6. The kernel prints each 32-bit word of the
 * address as a host-order integer, so on little-endian machines each word's bytes are reversed.
 */
export function parseProcNetUdp(text: string, littleEndian = endianness() === 'LE'): ProcUdpSocket[] {
  const sockets: ProcUdpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const [hexAddress, hexPort] = fields[1]!.split(':') as [string, string | undefined];
    const queues = fields[4]!.split(':');
    const drops = Number(fields[fields.length - 1]);
    if (hexPort === undefined || (hexAddress.length !== 8 && hexAddress.length !== 32) || !/^[0-9A-Fa-f]+$/.test(hexAddress)) continue;
    const address = new Uint8Array(hexAddress.length / 2);
    for (let word = 0; word < address.length / 4; word++) {
      for (let i = 0; i < 4; i++) {
        const byte = parseInt(hexAddress.slice(word * 8 + i * 2, word * 8 + i * 2 + 2), 16);
        address[word * 4 + (littleEndian ? 3 - i : i)] = byte;
      }
    }
    if (!Number.isSafeInteger(drops)) continue;
    sockets.push({ address, port: parseInt(hexPort, 16), rxQueue: parseInt(queues[1] ?? '0', 16), drops });
  }
  return sockets;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Reads a /proc file; undefined where it does not exist (not Linux, or /proc not mounted). */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Kernel drops summed over the sockets bound to `bound` (as `socket.address()` reports them),
 * or undefined where the kernel does not report them. Reads /proc: call it on a scrape, not
 * per datagram.
 */
export function kernelReceiveDrops(bound: readonly Endpoint[], read: (path: string) => string | undefined = readProc): number | undefined {
  const v4 = read('/proc/net/udp');
  const v6 = read('/proc/net/udp6');
  if (v4 === undefined && v6 === undefined) return undefined;
  const sockets = [...parseProcNetUdp(v4 ?? ''), ...parseProcNetUdp(v6 ?? '')];
  let drops = 0;
  for (const endpoint of bound) {
    const address = addressBytes({ afi: endpoint.address.includes(':') ? 'ipv6' : 'ipv4', ip: endpoint.address });
    if (!address) continue;
    const socket = sockets.find((s) => s.port === endpoint.port && sameBytes(s.address, address));
    if (socket) drops += socket.drops;
  }
  return drops;
}

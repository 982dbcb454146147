// The address an ITR can reach us on, for the ITR-RLOC of the SMRs we send it when we listen on
// a wildcard address (0.0.0.0 / ::): RFC 9301 §6.6.2's SMR-invoked Map-Request goes to that
// ITR-RLOC, so it must be a real address. The kernel's choice is asked once per ITR by
// connecting a UDP socket toward it (a route lookup: nothing is sent) and reading its local
// address; until that answer is in, the first non-internal interface address of the family
// (the loopback address for a loopback ITR) stands in.
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { LISP_CONTROL_PORT } from '../codec/ports.js';

/** ITRs whose source address is remembered; oldest forgotten first. */
const CAPACITY = 4096;
/** Lookups in flight at once: a flood of spoofed ITR-RLOCs must not open thousands of sockets. */
const MAX_PENDING = 16;

export class SourceAddresses {
  private readonly known = new Map<string, string>();
  private readonly pending = new Set<string>();

  /** The local address toward `itr`: the kernel's once learnt, else a fallback of its family. */
  toward(itr: string): string {
    return this.known.get(itr) ?? fallback(itr);
  }

  /** Learns the kernel's source address toward `itr`, in the background (once per ITR). */
  learn(itr: string): void {
    if (this.known.has(itr) || this.pending.has(itr) || this.pending.size >= MAX_PENDING) return;
    this.pending.add(itr);
    const socket = dgram.createSocket(itr.includes(':') ? 'udp6' : 'udp4');
    const done = (address?: string): void => {
      this.pending.delete(itr);
      if (address && address !== '0.0.0.0' && address !== '::') {
        if (this.known.size >= CAPACITY) this.known.delete(this.known.keys().next().value!);
        this.known.set(itr, address);
      }
      socket.close();
    };
    socket.once('error', () => done());
    socket.connect(LISP_CONTROL_PORT, itr, () => {
      try {
        done(socket.address().address);
      } catch {
        done();
      }
    });
  }
}

function fallback(itr: string): string {
  const v6 = itr.includes(':');
  if (v6 ? itr === '::1' : itr.startsWith('127.')) return v6 ? '::1' : '127.0.0.1';
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === (v6 ? 'IPv6' : 'IPv4') && !a.address.startsWith('fe80')) return a.address;
  }
  return v6 ? '::' : '0.0.0.0';
}

// Our own sockets as destinations: the one place the server refuses to send to.
import { networkInterfaces } from 'node:os';
import type { Endpoint } from '../db/model.js';

/**
 * Our own UDP sockets, as destinations. The Map-Resolver remembers every ITR-RLOC it answered to
 * SMR it (on port 4342) when the binding changes. `livmap lig` on the Map-Server's host advertises
 * that host's address as ITR-RLOC, so a move would make livmap SMR itself (and count those SMRs):
 * nothing we send to ourselves can be useful, so nothing is.
 */
export class OwnSockets {
  private ports = new Set<number>();
  private exact = new Set<string>();
  private wildcardPorts = new Set<number>();
  private readonly local = new Set<string>();

  constructor(bound: readonly Endpoint[]) {
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) this.local.add(a.address);
    for (const { address, port } of bound) {
      this.ports.add(port);
      if (address === '0.0.0.0' || address === '::') this.wildcardPorts.add(port);
      else this.exact.add(`${address}|${port}`);
    }
  }

  /** Cheap for the common case: replies go to ephemeral ports, not ours. */
  has(to: Endpoint): boolean {
    if (!this.ports.has(to.port)) return false;
    if (this.exact.has(`${to.address}|${to.port}`)) return true;
    if (!this.wildcardPorts.has(to.port)) return false;
    return this.local.has(to.address) || to.address.startsWith('127.') || to.address.startsWith('::ffff:127.');
  }
}

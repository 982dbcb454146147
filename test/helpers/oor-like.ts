// An ETR that registers as OOR 1.3 does, for tests on loopback: every mapping it holds in its own
// Map-Register (M bit, a fresh nonce each), all back to back, on every change of its database
// and on its periodic timer; it never withdraws (no TTL 0): a mapping it dropped stops appearing.
import { decode } from '../../mapserver/codec/index.js';
import type { MapNotify } from '../../mapserver/codec/types.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { mapRegisterBytes, nonce as randomNonce } from './lisp.js';
import { UdpPeer } from './udp.js';

export interface OorMapping {
  readonly eid: string;
  readonly ttl: number;
}

export class OorLikeEtr {
  /** When the last burst was sent, on the test's clock (when the test tells it). */
  lastBurstAt = 0;
  /** Every Map-Register sent, in order (a replay test re-sends one). */
  readonly sent: Buffer[] = [];

  private constructor(readonly peer: UdpPeer, readonly rloc: string, public ms: Endpoint, public mappings: OorMapping[]) {}

  static async start(rloc: string, ms: Endpoint, mappings: OorMapping[]): Promise<OorLikeEtr> {
    return new OorLikeEtr(await UdpPeer.bind(rloc, 4342), rloc, ms, mappings);
  }

  /**
   * Sends one burst; resolves with the EID prefixes that Map-Notifies answering it confirmed
   * (as OOR, it takes a Map-Notify only for the nonce of a Map-Register it sent).
   */
  async burst(quietMs = 100, handled?: () => Promise<void>, at?: number): Promise<string[]> {
    if (at !== undefined) this.lastBurstAt = at;
    const nonces = new Set<bigint>();
    for (const mapping of this.mappings) {
      const nonce = randomNonce();
      nonces.add(nonce);
      const bytes = mapRegisterBytes({ eid: mapping.eid, rlocs: [this.rloc], ttl: mapping.ttl, proxy: true, nonce });
      this.sent.push(bytes);
      await this.peer.send(bytes, this.ms);
    }
    // Told when the Map-Server has handled the burst, a short wait is enough for its answers.
    if (handled) await handled();
    const confirmed: string[] = [];
    for (;;) {
      const datagram = await this.peer.receive(quietMs).catch(() => undefined);
      if (!datagram) return confirmed.sort();
      const message = decode(datagram.bytes);
      if (message.type === 'map-notify' && nonces.has(message.nonce)) confirmed.push(...(message as MapNotify).records.map((r) => formatEidPrefix(r.eid)));
    }
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}

// A UDP peer on loopback for end-to-end tests: sends datagrams, queues what it receives.
import dgram from 'node:dgram';
import type { Endpoint } from '../../mapserver/db/model.js';
import type { PcapDatagram } from '../../mapserver/pcap/write.js';

export interface Datagram {
  readonly bytes: Buffer;
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly at: number;
}

export class UdpPeer {
  private readonly queue: Datagram[] = [];
  private waiter: ((d: Datagram) => void) | undefined;
  /** Everything this peer received, for a pcap handed to tshark. */
  readonly log: Datagram[] = [];

  private constructor(private readonly socket: dgram.Socket, readonly local: Endpoint) {
    socket.on('message', (bytes, rinfo) => {
      const datagram = { bytes, from: { address: rinfo.address, port: rinfo.port }, to: local, at: Date.now() };
      this.log.push(datagram);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(datagram);
      } else this.queue.push(datagram);
    });
  }

  static async bind(address: string, port = 0): Promise<UdpPeer> {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    const a = socket.address();
    return new UdpPeer(socket, { address: a.address, port: a.port });
  }

  send(bytes: Uint8Array, to: Endpoint): Promise<void> {
    if (!/^127\.|^::1$/.test(to.address)) throw new Error(`tests send only to loopback, not ${to.address}`);
    return new Promise((resolve, reject) => this.socket.send(bytes, to.port, to.address, (err) => (err ? reject(err) : resolve())));
  }

  /** The next datagram, or a rejection after `timeoutMs`. */
  receive(timeoutMs = 2000): Promise<Datagram> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no datagram at ${this.local.address}:${this.local.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (d) => {
        clearTimeout(timer);
        resolve(d);
      };
    });
  }

  /** True when nothing arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    try {
      await this.receive(ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function toPcapDatagrams(datagrams: readonly Datagram[]): PcapDatagram[] {
  return datagrams.map((d) => ({
    timestampMicros: d.at * 1000,
    source: d.from.address,
    destination: d.to.address,
    sourcePort: d.from.port,
    destinationPort: d.to.port,
    payload: d.bytes,
  }));
}

// Ports for child processes that need a fixed one: the bench's helpers.
export { freeTcpPort, freeUdpPort } from '../../bench/lib/server.js';

// UDP sockets for the LISP control plane: one dgram socket per listen address.
import dgram from 'node:dgram';
import type { Endpoint } from '../db/model.js';
import { kernelReceiveDrops } from './socket-drops.js';

/** An address and port to listen on. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** SO_RCVBUF asked for each socket unless configured. */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 4 << 20;

export type DatagramHandler = (bytes: Buffer, from: Endpoint) => void;

/** A dgram `lookup` for IP literals: answered at once instead of via dns.lookup and a nextTick per datagram. */
export function literalLookup(address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

export class UdpTransport {
  /** What the sockets were bound to (still known once they are closed). */
  private readonly bound: readonly Endpoint[];

  private constructor(
    private readonly sockets: ReadonlyArray<{ readonly socket: dgram.Socket; readonly family: 4 | 6 }>,
    private readonly onSendError: (err: Error, to: Endpoint) => void,
    /** The receive buffer asked for each socket. */
    private readonly receiveBufferBytes: number,
  ) {
    this.bound = this.addresses();
  }

  /** Binds every listen address; on failure closes what was bound and rethrows. */
  static async open(
    listen: readonly ListenAddress[],
    onDatagram: DatagramHandler,
    onSendError: (err: Error, to: Endpoint) => void = () => {},
    receiveBufferBytes = DEFAULT_RECEIVE_BUFFER_BYTES,
    /**
     * SO_REUSEPORT: several sockets (the workers', mapserver/workers/) bind the same address and
     * port, and the kernel spreads incoming datagrams over them by a hash of the source.
     */
    reusePort = false,
  ): Promise<UdpTransport> {
    const bound: Array<{ socket: dgram.Socket; family: 4 | 6 }> = [];
    try {
      for (const address of listen) {
        // ipv6Only keeps "[::]:4342" from also claiming IPv4 when "0.0.0.0:4342" is listed too.
        const socket = dgram.createSocket({
          type: address.family === 6 ? 'udp6' : 'udp4',
          ipv6Only: address.family === 6,
          recvBufferSize: receiveBufferBytes,
          // We only ever send to IP literals: answer the lookup synchronously instead of via
          // dns.lookup and a nextTick per datagram.
          lookup: literalLookup,
          ...(reusePort ? { reusePort: true } : {}),
        });
        socket.on('message', (bytes, rinfo) => onDatagram(bytes, { address: rinfo.address, port: rinfo.port }));
        // Send errors arrive here (sends take no callback: one less closure per datagram); an
        // error (e.g. ICMP unreachable on some platforms) must never kill the server.
        socket.on('error', (err) => onSendError(err, { address: '', port: 0 }));
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(address.port, address.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        bound.push({ socket, family: address.family });
      }
    } catch (err) {
      for (const { socket } of bound) socket.close();
      throw err;
    }
    return new UdpTransport(bound, onSendError, receiveBufferBytes);
  }

  /** Families we can send from. */
  get families(): ReadonlySet<'ipv4' | 'ipv6'> {
    return new Set(this.sockets.map((s) => (s.family === 6 ? 'ipv6' : 'ipv4')));
  }

  /**
   * Each socket's receive buffer: asked, and as the kernel granted it. Linux grants twice what was
   * asked, capped at twice net.core.rmem_max: a smaller figure means the sysctl cut the request.
   */
  receiveBuffers(): Array<{ readonly endpoint: Endpoint; readonly asked: number; readonly granted: number }> {
    return this.sockets.map(({ socket }, i) => ({ endpoint: this.bound[i]!, asked: this.receiveBufferBytes, granted: socket.getRecvBufferSize() }));
  }

  /** Local addresses actually bound (port 0 in the config becomes the kernel's choice). */
  addresses(): Endpoint[] {
    return this.sockets.map(({ socket }) => {
      const a = socket.address();
      return { address: a.address, port: a.port };
    });
  }

  /**
   * Datagrams the kernel dropped for these sockets because their receive buffers were full
   * (undefined where the kernel does not say). Reads /proc: for scrapes, not per datagram.
   */
  receiveBufferDrops(): number | undefined {
    return kernelReceiveDrops(this.bound);
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    const family = to.address.includes(':') ? 6 : 4;
    const entry = this.sockets.find((s) => s.family === family);
    if (!entry) {
      this.onSendError(new Error(`no IPv${family} socket to send from`), to);
      return;
    }
    entry.socket.send(bytes, to.port, to.address);
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map(({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}

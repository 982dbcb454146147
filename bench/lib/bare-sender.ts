// The fan-out floor (a child process of the mobility bench): on each trigger datagram it sends
// one prebuilt datagram to every target, as fast as Node's dgram allows. Nothing livmap does per
// SMR happens here (finding requesters, encoding, bookkeeping): what is left is Node's send path
// and the kernel's, the most a Node server could do on this machine.
import dgram from 'node:dgram';
import { literalLookup } from '../../mapserver/transport/udp.js';

export interface BareSenderSetup {
  /** IPv4 literals on loopback, each with a receiver on `port`. */
  readonly targets: readonly string[];
  readonly port: number;
  /** The datagram sent to every target, base64. */
  readonly datagram: string;
}

export interface BareSenderReady {
  readonly triggerPort: number;
}

process.once('message', (message: BareSenderSetup) => {
  const loopback = (ip: string): boolean => ip.startsWith('127.');
  if (!message.targets.every(loopback)) throw new Error('bare-sender sends to loopback only');
  const template = Buffer.from(message.datagram, 'base64');
  const datagrams = message.targets.map(() => Buffer.from(template));
  const socket = dgram.createSocket({ type: 'udp4', lookup: literalLookup });
  socket.on('message', () => {
    for (let i = 0; i < datagrams.length; i++) socket.send(datagrams[i]!, message.port, message.targets[i]!);
  });
  socket.bind(0, '127.0.0.1', () => {
    const ready: BareSenderReady = { triggerPort: socket.address().port };
    process.send?.(ready);
  });
  process.once('disconnect', () => socket.close());
});

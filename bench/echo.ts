// Baseline for every UDP figure: a plain Node dgram server that sends each datagram back as-is.
// It is the cheapest thing a Node UDP server can do per packet (one receive callback, one send),
// so "livmap / echo" is the share of Node's UDP ceiling the server keeps on this machine.
//
// As a process: node dist/bench/echo.js [--host 127.0.0.1] [--port 0] [--max-seconds 900]
// prints {"port":N} once bound and exits on SIGTERM/SIGINT or after --max-seconds.
import dgram from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface EchoServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startEcho(host = '127.0.0.1', port = 0): Promise<EchoServer> {
  const v6 = host.includes(':');
  // Same receive buffer as livmap's UdpTransport, so both drop (or not) under the same bursts.
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
  socket.on('error', () => {});
  socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' }, 'max-seconds': { type: 'string', default: '900' } },
  });
  const echo = await startEcho(values.host, Number(values.port));
  const stop = (): void => void echo.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Bounded lifetime: an orphaned echo server goes away by itself.
  setTimeout(stop, Math.min(Number(values['max-seconds']), 3600) * 1000);
  process.stdout.write(JSON.stringify({ port: echo.port }) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();

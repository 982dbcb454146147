// One request, one reply, from inside a lab network namespace (bench/lib/lab.ts runs it with
// `ip netns exec`): sends a prepared datagram every 20 ms until the target answers with the same
// nonce, and prints {"replyHex": ...} (or exits 1 after --timeout-ms). The bench uses it to
// register the prefix (Map-Register → Map-Notify), to wait for a server to answer, and to take
// the Map-Reply that both Map-Servers are compared on.
//
//   node dist/bench/lab-probe.js --target HOST:PORT --payload-hex HEX --nonce-offset N
//        [--reply-nonce-offset N] [--port-offset N --checksum-offset N] [--timeout-ms 10000]
import dgram from 'node:dgram';
import { cliOptions, intOption, usageError } from './lib/cli.js';

const USAGE = `usage: node dist/bench/lab-probe.js --target HOST:PORT --payload-hex HEX --nonce-offset N
  [--reply-nonce-offset N] [--port-offset N --checksum-offset N] [--timeout-ms MS]`;
const args = cliOptions(
  {
    target: { type: 'string' },
    'payload-hex': { type: 'string' },
    'nonce-offset': { type: 'string' },
    'reply-nonce-offset': { type: 'string', default: '4' },
    'port-offset': { type: 'string' },
    'checksum-offset': { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
  USAGE,
);
const target = /^([0-9.]+):(\d+)$/.exec(args.target ?? '');
if (!target) usageError('--target must be IPV4:PORT', USAGE);
if (!args['payload-hex'] || !/^([0-9a-f]{2})+$/i.test(args['payload-hex'])) usageError('--payload-hex must be hex bytes', USAGE);
const payload = Buffer.from(args['payload-hex'], 'hex');
const nonceOffset = intOption('nonce-offset', args['nonce-offset'] ?? '', 0, payload.length - 8, USAGE);
const replyNonceOffset = intOption('reply-nonce-offset', args['reply-nonce-offset'] ?? '4', 0, 2040, USAGE);
const portOffset = args['port-offset'] === undefined ? undefined : intOption('port-offset', args['port-offset'], 0, payload.length - 2, USAGE);
const checksumOffset = args['checksum-offset'] === undefined ? undefined : intOption('checksum-offset', args['checksum-offset'], 0, payload.length - 2, USAGE);
const timeoutMs = intOption('timeout-ms', args['timeout-ms'] ?? '10000', 1, 600_000, USAGE);
const host = target[1]!;
const port = Number(target[2]);
const nonce = payload.subarray(nonceOffset, nonceOffset + 8);

const socket = dgram.createSocket('udp4');
socket.on('error', (err) => {
  process.stderr.write(`lab-probe: ${err.message}\n`);
  process.exit(1);
});
socket.bind(0, () => {
  if (portOffset !== undefined) {
    payload.writeUInt16BE(socket.address().port, portOffset);
    // 0 = "no checksum" for the inner UDP of IPv4: nothing to recompute after writing the port.
    if (checksumOffset !== undefined) payload.writeUInt16BE(0, checksumOffset);
  }
  const timer = setInterval(() => socket.send(payload, port, host), 20);
  socket.send(payload, port, host);
  const deadline = setTimeout(() => {
    process.stderr.write(`lab-probe: no answer from ${host}:${port} within ${timeoutMs} ms\n`);
    process.exit(1);
  }, timeoutMs);
  socket.on('message', (msg) => {
    if (msg.length < replyNonceOffset + 8 || !msg.subarray(replyNonceOffset, replyNonceOffset + 8).equals(nonce)) return;
    clearInterval(timer);
    clearTimeout(deadline);
    process.stdout.write(JSON.stringify({ replyHex: msg.toString('hex') }) + '\n');
    socket.close();
  });
});

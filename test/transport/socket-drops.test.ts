// The kernel's receive-buffer drops, read from /proc/net/udp{,6}: the parser against fixed text
// (both byte orders, both families), and a real socket overrun on loopback where every datagram
// sent is either received or counted as dropped.
import t from 'tap';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { kernelReceiveDrops, parseProcNetUdp } from '../../mapserver/transport/socket-drops.js';

const UDP4 = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:10F6 00000000:0000 07 00000000:00000A00 00 00000000:00000000 00000000     0        0 81234 2 0000000000000000 17
  456: 00000000:0035 00000000:0000 07 00000000:00000000 00 00000000:00000000 00000000   101        0 81235 2 0000000000000000 0
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  789: 00000000000000000000000001000000:10F6 00000000000000000000000000000000:0000 07 00000000:00000000 00 00000000:00000000 00000000     0        0 91234 2 0000000000000000 5
`;

t.test('parses /proc/net/udp lines (little-endian words)', async (t) => {
  const [loopback, any] = parseProcNetUdp(UDP4, true);
  t.same([...loopback!.address], [127, 0, 0, 1]);
  t.equal(loopback!.port, 4342);
  t.equal(loopback!.rxQueue, 0xa00);
  t.equal(loopback!.drops, 17);
  t.same([...any!.address], [0, 0, 0, 0]);
  t.equal(any!.port, 53);
  const [v6] = parseProcNetUdp(UDP6, true);
  t.same([...v6!.address], [...new Uint8Array(15), 1], '::1');
  t.equal(v6!.drops, 5);
});

t.test('big-endian kernels print the address bytes in order', async (t) => {
  const [loopback] = parseProcNetUdp(UDP4.replace('0100007F', '7F000001'), false);
  t.same([...loopback!.address], [127, 0, 0, 1]);
});

t.test('sums the drops of the bound sockets only; undefined without /proc', async (t) => {
  const read = (path: string): string | undefined => (path.endsWith('udp6') ? UDP6 : UDP4);
  t.equal(kernelReceiveDrops([{ address: '127.0.0.1', port: 4342 }], read), 17);
  t.equal(kernelReceiveDrops([{ address: '127.0.0.1', port: 4342 }, { address: '::1', port: 4342 }], read), 22);
  t.equal(kernelReceiveDrops([{ address: '127.0.0.2', port: 4342 }], read), 0, 'another address, same port');
  t.equal(kernelReceiveDrops([{ address: '127.0.0.1', port: 4342 }], () => undefined), undefined);
});

t.test('garbage lines are skipped, not misread', async (t) => {
  t.same(parseProcNetUdp('header\nnot a socket line\n  1: ZZZZ:10F6 x x x x x x x x x x x\n'), []);
});

t.test('a real overrun: every datagram is either received or counted as a drop', { skip: existsSync('/proc/net/udp') ? false : 'no /proc/net/udp here' }, async (t) => {
  const receiver = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 16 });
  const sender = dgram.createSocket('udp4');
  t.teardown(() => { receiver.close(); sender.close(); });
  let received = 0;
  receiver.on('message', () => received++);
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
  const bound = { address: '127.0.0.1', port: receiver.address().port };
  t.equal(kernelReceiveDrops([bound]), 0, 'a new socket has dropped nothing');
  // Sent in one turn of the event loop: the receiver cannot read until the loop is done, so
  // the kernel queues what fits in 64 KiB and drops the rest.
  const payload = Buffer.alloc(512);
  const sent = 2000;
  for (let i = 0; i < sent; i++) sender.send(payload, bound.port, bound.address);
  // Wait until the queue is drained: nothing arrives for 200 ms.
  let last = -1;
  while (received !== last) {
    last = received;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const drops = kernelReceiveDrops([bound]);
  t.ok(drops! > 0, `the kernel dropped ${drops} of ${sent}`);
  t.equal(received + drops!, sent, `${received} received + ${drops} dropped = ${sent} sent`);
});

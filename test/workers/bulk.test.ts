// Bulk shares (mapserver/workers/bulk.ts): what a worker unpacks is what the main thread packed,
// datagram by datagram, whatever their sizes and address families; and how a chunk is split.
import t from 'tap';
import { forEachPacked, mainThreadShare, packDatagrams } from '../../mapserver/workers/bulk.js';
import type { Datagram } from '../../mapserver/transport/outbox.js';

t.test('packed datagrams come back in order, byte for byte, with their destinations', async (t) => {
  // Odd sizes put the offsets' start off a 4-byte boundary before alignment; one empty datagram.
  const sizes = [36, 1, 0, 41, 1500, 7];
  const datagrams: Datagram[] = sizes.map((size, i) => ({
    to: i % 2 ? { address: `2001:db8::${i}`, port: 4342 } : { address: `127.6.0.${i + 1}`, port: 60000 + i },
    bytes: Uint8Array.from({ length: size }, (_, k) => (k * 7 + i) & 0xff),
  }));
  const packed = packDatagrams(datagrams);
  // Transferred, the buffer is all a worker has: unpack from a copy to prove nothing else is shared.
  const copy = { ...packed, buffer: packed.buffer.slice(0), addresses: [...packed.addresses] };
  const out: Datagram[] = [];
  forEachPacked(copy, (to, bytes) => out.push({ to, bytes: Uint8Array.from(bytes) }));
  t.same(out.map((d) => d.to), datagrams.map((d) => d.to), 'destinations in order');
  t.same(out.map((d) => [...d.bytes]), datagrams.map((d) => [...d.bytes]), 'each datagram byte for byte');
  t.equal(packDatagrams([]).count, 0, 'an empty share packs');
});

t.test('the main thread takes a smaller share than a worker, and everything with no worker', async (t) => {
  t.equal(mainThreadShare(900, 0, 0.5), 900, 'no live worker: all of it');
  t.equal(mainThreadShare(900, 1, 0.5), 300, 'one worker: a third (the worker two)');
  t.equal(mainThreadShare(900, 3, 0.5), 128, 'three workers: 1/7, each worker 2/7');
  t.equal(mainThreadShare(900, 2, 0), 0, 'weight 0: the workers send it all');
});

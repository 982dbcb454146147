// End to end on real loopback sockets and a real LevelDB: OOR's packets in, OOR's answers out.
import t from 'tap';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { EncapsulatedControl, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { writePcap } from '../../mapserver/pcap/write.js';
import { tsharkSkip, assertNoMalformed, field, tsharkDecode } from '../helpers/tshark.js';
import { startLabServer } from '../helpers/server.js';
import { UdpPeer, toPcapDatagrams, type Datagram } from '../helpers/udp.js';
import { controlFrames, frame } from '../helpers/vectors.js';

const v01 = controlFrames('01-register-notify.pcap');
const v02 = controlFrames('02-resolve-ping.pcap');
const v03 = controlFrames('03-negative-map-reply.pcap');

/** The ECM with its ITR-RLOC moved onto loopback, so the server's reply stays on this machine. */
function withItrRloc(bytes: Uint8Array, ip: string): Buffer {
  const ecm = decode(bytes) as EncapsulatedControl;
  const request = ecm.message as MapRequest;
  return encode({ ...ecm, message: { ...request, itrRlocs: [{ afi: 'ipv4', ip }] } });
}

t.test('OOR xTRs register, resolve and get negative answers over real UDP', async (t) => {
  const server = await startLabServer(t);
  const [ms] = server.addresses() as [Endpoint];
  // xTR A on 127.0.0.3:4342 (it receives forwarded requests on the control port), xTR B on 127.0.0.4.
  const xtrA = await UdpPeer.bind('127.0.0.3', 4342);
  const xtrB = await UdpPeer.bind('127.0.0.4');
  t.teardown(async () => { await xtrA.close(); await xtrB.close(); });
  const everything: Datagram[] = [];

  // Vector 01: both registrations answered by a Map-Notify identical to OOR's.
  await xtrB.send(frame(v01, 1).bytes, ms);
  const notifyB = await xtrB.receive();
  t.ok(notifyB.bytes.equals(Buffer.from(frame(v01, 2).bytes)), 'Map-Notify to B identical to OOR frame 2');
  await xtrA.send(frame(v01, 3).bytes, ms);
  const notifyA = await xtrA.receive();
  t.ok(notifyA.bytes.equals(Buffer.from(frame(v01, 4).bytes)), 'Map-Notify to A identical to OOR frame 4');
  t.equal(server.db.liveRegistrations, 2);

  // Vector 02 frame 1: A asks for B's host; B registered P=1, so the server proxy-replies.
  await xtrA.send(withItrRloc(frame(v02, 1).bytes, '127.0.0.3'), ms);
  const reply = await xtrA.receive();
  t.ok(reply.bytes.equals(Buffer.from(frame(v02, 2).bytes)), 'proxy Map-Reply identical to OOR frame 2');

  // Vector 02 frame 4: B asks for A's host; A registered P=0, so the ECM is forwarded unchanged to A:4342.
  await xtrB.send(frame(v02, 4).bytes, ms);
  const forwarded = await xtrA.receive();
  t.ok(forwarded.bytes.equals(Buffer.from(frame(v02, 5).bytes)), 'ECM forwarded unchanged, as OOR frame 5');
  t.same(forwarded.from, ms, 'forwarded by the Map-Server');
  t.ok(await xtrB.silentFor(200), 'and no Map-Reply from the server to B');

  // Vector 03: outside every site, and inside a configured site that never registered.
  await xtrA.send(withItrRloc(frame(v03, 1).bytes, '127.0.0.3'), ms);
  const negative = decode((await xtrA.receive()).bytes) as MapReply;
  t.equal(formatEidPrefix(negative.records[0]!.eid), '10.16.64.0/18', 'covers 10.16.99.1 (OOR says 11.16.64.0/18)');
  t.equal(negative.records[0]!.ttl, 15);
  t.equal(negative.records[0]!.locators.length, 0);
  await xtrA.send(withItrRloc(frame(v03, 5).bytes, '127.0.0.3'), ms);
  const inSite = await xtrA.receive();
  t.ok(inSite.bytes.equals(Buffer.from(frame(v03, 6).bytes)), 'unregistered-site answer identical to OOR frame 6');

  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-register' }), 2);
  t.equal(await server.metrics.value('livmap_map_replies_total', { kind: 'negative' }), 2);
  t.equal(await server.metrics.value('livmap_map_replies_total', { kind: 'forwarded' }), 1);
  t.equal(await server.metrics.value('livmap_map_notifies_sent_total'), 2);

  everything.push(...xtrA.log, ...xtrB.log);
  t.test('everything the server sent decodes in tshark without errors', { skip: tsharkSkip() }, async (t) => {
    // The test server listens on an ephemeral port: tell tshark it speaks LISP control.
    const frames = await tsharkDecode(writePcap(toPcapDatagrams(everything)), ['-d', `udp.port==${ms.port},lisp`]);
    assertNoMalformed(frames);
    t.equal(frames.length, everything.length);
    const types = frames.map((f) => field(f.lisp[0], 'lisp.type'));
    t.same(types.sort(), ['2', '2', '2', '4', '4', '8'], 'three Map-Replies, two Map-Notifies and the forwarded ECM');
    t.equal(field(frames.find((f) => field(f.lisp[0], 'lisp.type') === '4')?.lisp[0], 'lisp.keyid'), '0x0001');
  });
});

t.test('malformed and unexpected datagrams are counted and dropped; the server keeps answering', async (t) => {
  const server = await startLabServer(t);
  const [ms] = server.addresses() as [Endpoint];
  const itr = await UdpPeer.bind('127.0.0.5', 4342);
  t.teardown(() => itr.close());
  const garbage = [Buffer.alloc(0), Buffer.from([0x10]), Buffer.from('not lisp at all'), Buffer.from(frame(v01, 1).bytes).subarray(0, 30), Buffer.from([0xf0, 0, 0, 0])];
  for (const g of garbage) await itr.send(g, ms);
  await itr.send(frame(v01, 2).bytes, ms); // a Map-Notify is not for a Map-Server
  await itr.send(withItrRloc(frame(v03, 1).bytes, '127.0.0.5'), ms);
  const answer = decode((await itr.receive()).bytes);
  t.equal(answer.type, 'map-reply', 'a valid request after the garbage is still answered');
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'malformed' }), garbage.length);
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'unexpected' }), 1);
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'internal' }), 0);
});

t.test('a refused registration is silent on the wire, counted, and announced', async (t) => {
  const server = await startLabServer(t);
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.0.6');
  t.teardown(() => etr.close());
  const events: string[] = [];
  server.events.on('event', (e) => events.push(e.type === 'refused' ? `refused:${e.reason}` : e.type));
  const forged = Buffer.from(frame(v01, 1).bytes);
  forged[20] ^= 0xff; // inside the authentication data
  await etr.send(forged, ms);
  t.ok(await etr.silentFor(300), 'no Map-Notify for a forged Map-Register');
  t.same(events, ['refused:auth']);
  t.equal(server.db.liveRegistrations, 0);
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'auth' }), 1);
});

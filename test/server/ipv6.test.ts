// IPv6 end to end: an IPv6 socket, IPv6 EIDs and RLOCs, an ECM with an IPv6 inner header, the
// reply to an IPv6 ITR-RLOC; and an IPv4 request for an IPv6 site answered on the right socket.
import t from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import type { MapReply } from '../../mapserver/codec/types.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { formatEidPrefix, parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { writePcap } from '../../mapserver/pcap/write.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { tsharkSkip, assertNoMalformed, field, tsharkDecode } from '../helpers/tshark.js';
import { UdpPeer, toPcapDatagrams } from '../helpers/udp.js';

t.test('IPv6 EIDs, RLOCs, ECM inner header and ITR-RLOC', async (t) => {
  const base = labConfig(t.testdir(), {
    sites: [{ name: 'v6', keys: [{ alg: 'hmac-sha1', secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix('2001:db8:10::/48'), acceptMoreSpecifics: true }] }],
  });
  const server = await LispServer.start({ ...base, lisp: { ...base.lisp, listen: [{ host: '127.0.0.1', port: 0, family: 4 }, { host: '::1', port: 0, family: 6 }] } });
  t.teardown(() => server.close());
  const [, ms6] = server.addresses() as [Endpoint, Endpoint];
  t.equal(ms6.address, '::1');
  const etr = await UdpPeer.bind('::1');
  const itr = await UdpPeer.bind('::1', 4342);
  t.teardown(async () => { await etr.close(); await itr.close(); });

  await etr.send(mapRegisterBytes({ eid: '2001:db8:10::/48', rlocs: ['2001:db8:ffff::1', '192.0.2.1'] }), ms6);
  const notify = decode((await etr.receive()).bytes);
  t.equal(notify.type, 'map-notify', 'registered over IPv6');

  await itr.send(ecmRequestBytes({ eid: '2001:db8:10::42', sourceEid: '2001:db8:30::10', itr: '::1' }), ms6);
  const got = await itr.receive();
  const reply = decode(got.bytes) as MapReply;
  t.equal(reply.type, 'map-reply');
  t.equal(formatEidPrefix(reply.records[0]!.eid), '2001:db8:10::/48');
  t.same(reply.records[0]!.locators.map((l) => l.rloc), [{ afi: 'ipv6', ip: '2001:db8:ffff::1' }, { afi: 'ipv4', ip: '192.0.2.1' }]);
  t.same(got.from, ms6, 'answered from the IPv6 socket');

  await itr.send(ecmRequestBytes({ eid: '2001:db8:99::1', sourceEid: '2001:db8:30::10', itr: '::1' }), ms6);
  const negative = decode((await itr.receive()).bytes) as MapReply;
  // 2001:db8:99:: and the site 2001:db8:10::/48 part at bit 40 (0x99 vs 0x10 in the third group).
  t.equal(formatEidPrefix(negative.records[0]!.eid), '2001:db8:80::/41', 'the widest prefix that overlaps no site');
  t.equal(negative.records[0]!.locators.length, 0, 'negative');
  t.equal(negative.records[0]!.ttl, 15);

  await t.test('tshark decodes the IPv6 exchange', { skip: tsharkSkip() }, async (t) => {
    const frames = await tsharkDecode(writePcap(toPcapDatagrams([...etr.log, ...itr.log])), ['-d', `udp.port==${ms6.port},lisp`]);
    assertNoMalformed(frames);
    t.same(frames.map((f) => field(f.lisp[0], 'lisp.type')), ['4', '2', '2']);
  });
});

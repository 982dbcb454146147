// kill -9 and restart on the same data directory: registrations (with their remaining
// lifetime) and static mappings are answered before any ETR re-registers.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { EncapsulatedControl, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { killed, livmap, startServe } from '../helpers/cli.js';
import { UdpPeer, freeTcpPort, freeUdpPort } from '../helpers/udp.js';
import { controlFrames, frame } from '../helpers/vectors.js';

const v01 = controlFrames('01-register-notify.pcap');
const v02 = controlFrames('02-resolve-ping.pcap');

function requestFor(eid: string, itr: string): Buffer {
  const ecm = decode(frame(v02, 1).bytes) as EncapsulatedControl;
  const request = ecm.message as MapRequest;
  return encode({
    ...ecm,
    message: { ...request, itrRlocs: [{ afi: 'ipv4', ip: itr }], records: [{ iid: 0, address: { afi: 'ipv4', ip: eid }, length: 32 }] },
  });
}

t.test('kill -9 and restart: state is answered before re-registration; SIGTERM stops cleanly', async (t) => {
  const dir = t.testdir();
  const port = await freeUdpPort();
  const configPath = join(dir, 'livmap.json');
  writeFileSync(configPath, JSON.stringify({
    dataDir: join(dir, 'data'),
    lisp: { listen: [`127.0.0.1:${port}`] },
    api: { listen: `127.0.0.1:${await freeTcpPort()}`, token: 'test-token-123' },
    sites: [{ name: 'xtr-b', keys: [{ alg: 'hmac-sha1', secret: 'lisp-interop-key' }], prefixes: [{ eid: '192.168.20.0/24', acceptMoreSpecifics: true }] }],
    mappings: [{ eid: '198.51.100.0/24', ttl: 10, rlocs: [{ address: '203.0.113.9', priority: 1, weight: 100 }] }],
  }));
  const ms = { address: '127.0.0.1', port };
  const etr = await UdpPeer.bind('127.0.0.7');
  const itr = await UdpPeer.bind('127.0.0.8', 4342);
  t.teardown(async () => { await etr.close(); await itr.close(); });

  let child = await startServe(configPath);
  await etr.send(frame(v01, 1).bytes, ms);
  t.equal(decode((await etr.receive(5000)).bytes).type, 'map-notify', 'registered (the Map-Notify means it is stored)');
  t.equal(await killed(child, 'SIGKILL'), null, 'killed with SIGKILL');

  child = await startServe(configPath);
  t.teardown(() => { child.kill('SIGKILL'); });
  await itr.send(requestFor('192.168.20.10', '127.0.0.8'), ms);
  const registered = decode((await itr.receive(5000)).bytes) as MapReply;
  t.equal(formatEidPrefix(registered.records[0]!.eid), '192.168.20.0/24', 'the registration survived the crash');
  t.equal(registered.records[0]!.locators[0]!.rloc.afi === 'ipv4' && registered.records[0]!.locators[0]!.rloc.ip, '10.99.0.4');
  await itr.send(requestFor('198.51.100.20', '127.0.0.8'), ms);
  const staticReply = decode((await itr.receive(5000)).bytes) as MapReply;
  t.equal(formatEidPrefix(staticReply.records[0]!.eid), '198.51.100.0/24', 'the static mapping is answered');
  t.equal(staticReply.records[0]!.locators.length, 1);
  t.equal(await killed(child, 'SIGTERM'), 0, 'SIGTERM exits 0 after closing sockets and the store');
});

t.test('an invalid config is refused with the field named and a non-zero exit', async (t) => {
  const dir = t.testdir({ 'bad.json': JSON.stringify({ sites: [{ name: 'x', keys: [{ alg: 'md5', secret: 's' }], prefixes: [{ eid: '10.0.0.0/8' }] }] }) });
  const { code, stderr } = await livmap(['serve', '--config', join(dir, 'bad.json')]);
  t.equal(code, 2);
  t.match(stderr, /invalid config: sites\[0\]\.keys\[0\]\.alg: is not one of the allowed values/);
});

// `livmap lig` against a live Map-Server on loopback, in-process and as the real CLI.
import t from 'tap';
import { livmap } from '../helpers/cli.js';
import { formatLig, lig } from '../../mapserver/cli/lig.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { startLabServer } from '../helpers/server.js';
import { UdpPeer, freeUdpPort } from '../helpers/udp.js';
import { controlFrames, frame } from '../helpers/vectors.js';

const v01 = controlFrames('01-register-notify.pcap');

async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { code, stdout, stderr } = await livmap(args);
  return { code, out: stdout, err: stderr };
}

t.test('lig resolves a registered EID and a negative one', async (t) => {
  const server = await startLabServer(t);
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.0.13');
  t.teardown(() => etr.close());
  await etr.send(frame(v01, 1).bytes, ms);
  await etr.receive();

  const resolver = { host: ms.address, port: ms.port };
  const positive = await lig({ eid: '192.168.20.10', iid: 0, resolver, timeoutMs: 2000, attempts: 1 });
  t.equal(formatEidPrefix(positive.reply.records[0]!.eid), '192.168.20.0/24');
  t.ok(positive.rttMs > 0 && positive.rttMs < 2000);
  const text = formatLig('192.168.20.10', positive);
  t.match(text, /192\.168\.20\.0\/24, record ttl: 10 minutes, not authoritative/);
  t.match(text, /10\.99\.0\.4\s+up\s+1\/100/);

  const negative = await lig({ eid: '10.16.99.1', iid: 0, resolver, timeoutMs: 2000, attempts: 1 });
  t.equal(formatEidPrefix(negative.reply.records[0]!.eid), '10.16.64.0/18');
  t.match(formatLig('10.16.99.1', negative), /negative reply: no locators/);

  const cli = await run(['lig', '192.168.20.10', '--mr', `127.0.0.1:${ms.port}`]);
  t.equal(cli.code, 0, cli.err);
  t.match(cli.out, /Send map-request to 127\.0\.0\.1:\d+ for 192\.168\.20\.10/);
  t.match(cli.out, /Mapping entry for EID 192\.168\.20\.10:\n192\.168\.20\.0\/24, record ttl: 10 minutes/);
});

t.test('lig says clearly when nothing answers, and refuses bad arguments', async (t) => {
  const port = await freeUdpPort();
  const timeout = await run(['lig', '10.1.1.1', '--mr', `127.0.0.1:${port}`, '--timeout', '150', '--count', '2']);
  t.equal(timeout.code, 1);
  t.match(timeout.err, /no Map-Reply from 127\.0\.0\.1:\d+ after 2 request\(s\) of 150 ms/);
  const bad = await run(['lig', '10.1.1.1', '--mr', 'resolver.example']);
  t.equal(bad.code, 2);
  t.match(bad.err, /--mr 'resolver\.example' is not HOST\[:PORT\] with an IP address/);
  const none = await run(['lig']);
  t.equal(none.code, 2);
  t.match(none.err, /give the EID to look up/);
  const help = await run(['lig', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /usage: livmap lig EID/);
});

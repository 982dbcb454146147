// `livmap lig` against a live Map-Server on loopback, in-process and as the real CLI.
import t from 'tap';
import { livmap } from '../helpers/cli.js';
import { formatLig, lig } from '../../mapserver/cli/lig.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { startLabServer } from '../helpers/server.js';
import { UdpPeer, freeUdpPort } from '../helpers/udp.js';
import { controlFrames, frame } from '../helpers/vectors.js';
import { freeUdp6Port, serveWith } from './serve-process.js';

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
  const bad = await run(['lig', '10.1.1.1', '--mr', 'resolver.invalid']);
  t.equal(bad.code, 2);
  t.match(bad.err, /--mr 'resolver\.invalid': cannot resolve 'resolver\.invalid' \(ENOTFOUND\)/);
  t.equal(bad.out, '', 'nothing claimed sent');
  const malformed = await run(['lig', '10.1.1.1', '--mr', 'a b:1']);
  t.equal(malformed.code, 2);
  t.match(malformed.err, /--mr 'a b:1': 'a b' is neither an IP address nor a host name/);
  const none = await run(['lig']);
  t.equal(none.code, 2);
  t.match(none.err, /give the EID to look up/);
  const help = await run(['lig', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /usage: livmap lig EID/);
});

t.test('lig input: an IPv6 EID without --source-eid, a host name for --mr, a bad EID before anything is sent', async (t) => {
  const server = await startLabServer(t);
  const [ms] = server.addresses() as [Endpoint];
  // The resolver is reached over IPv4, the EID is IPv6: the source EID is :: (lig has no EID of its own).
  const v6 = await run(['lig', '2001:db8::1', '--mr', `127.0.0.1:${ms.port}`]);
  t.equal(v6.code, 0, v6.err);
  t.match(v6.out, /Mapping entry for EID 2001:db8::1:\n::\/0, record ttl: 15 minutes, authoritative, action natively-forward\n {2}\(negative reply: no locators\)/);
  const named = await run(['lig', '10.16.10.9', '--mr', `localhost:${ms.port}`]);
  t.equal(named.code, 0, named.err);
  t.match(named.out, /^Send map-request to 127\.0\.0\.1:\d+ for 10\.16\.10\.9 \.\.\./, 'the name resolved before sending');
  const foo = await run(['lig', 'foo', '--mr', `127.0.0.1:${ms.port}`]);
  t.equal(foo.code, 2, 'a bad EID is a usage error');
  t.equal(foo.out, '', 'and nothing claims to be sent');
  t.match(foo.err, /^livmap lig: EID foo: 'foo' is not an IPv4, IPv6 or MAC address\n/);
  const wrongFamily = await run(['lig', '2001:db8::1', '--mr', `127.0.0.1:${ms.port}`, '--source-eid', '10.0.0.1']);
  t.equal(wrongFamily.code, 1);
  t.match(wrongFamily.err, /--source-eid must be of the EID's address family/);
});

t.test('IPv6 endpoints are printed [addr]:port', async (t) => {
  const port = await freeUdp6Port();
  const serve = await serveWith(t.testdir(), { lisp: { listen: [`[::1]:${port}`] } });
  t.teardown(() => void serve.stop('SIGKILL'));
  const ms = { port };
  const v6 = await run(['lig', '10.16.10.9', '--mr', `[::1]:${ms.port}`]);
  t.equal(v6.code, 0, v6.err);
  t.match(v6.out, new RegExp(`^Send map-request to \\[::1\\]:${ms.port} for 10\\.16\\.10\\.9 \\.\\.\\.\\nReceived map-reply from \\[::1\\]:${ms.port} with rtt`));
  const silent = await run(['lig', '10.1.1.1', '--mr', `[::1]:${await freeUdp6Port()}`, '--timeout', '100', '--count', '1']);
  t.match(silent.err, /no Map-Reply from \[::1\]:\d+ after 1 request\(s\)/);
});

// `livmap register` against a live Map-Server on loopback, as the real CLI.
import t from 'tap';
import { livmap } from '../helpers/cli.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { startLabServer } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';
import { freeUdp6Port, serveWith } from './serve-process.js';


async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { code, stdout, stderr } = await livmap(args);
  return { code, out: stdout, err: stderr };
}

t.test('register: accepted with the right key, refused silently with a wrong one', async (t) => {
  const server = await startLabServer(t, {}, {
    sites: [{ name: 'branch', keys: [{ alg: 'hmac-sha256', secret: 'branch-key' }], prefixes: [{ eid: parseEidPrefix('172.16.30.0/24'), acceptMoreSpecifics: true }] }],
  });
  const [ms] = server.addresses() as [Endpoint];
  const target = `127.0.0.1:${ms.port}`;
  const ok = await run(['register', '--ms', target, '--eid', '172.16.30.0/24', '--rloc', '127.0.0.30', '--rloc', '127.0.0.31', '--key', 'branch-key', '--alg', 'hmac-sha256', '--no-proxy']);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /Map-Notify received in [\d.]+ ms, authentication verified: 172\.16\.30\.0\/24 -> 127\.0\.0\.30, 127\.0\.0\.31/);
  const [reg] = [...server.db.registrations()];
  t.equal(reg?.proxyReply, false, '--no-proxy clears the P bit');
  t.equal(reg?.record.locators.length, 2);

  const wrong = await run(['register', '--ms', target, '--eid', '172.16.30.0/24', '--rloc', '127.0.0.30', '--key', 'nope', '--alg', 'hmac-sha256', '--timeout', '300']);
  t.equal(wrong.code, 1);
  t.match(wrong.err, /no Map-Notify within 300 ms: wrong key/);

  const bad = await run(['register', '--eid', '172.16.30.0/33', '--rloc', '127.0.0.30', '--key', 'k']);
  t.equal(bad.code, 2);
  t.match(bad.err, /prefix length 33/);
  const missing = await run(['register', '--eid', '172.16.30.0/24', '--key', 'k']);
  t.equal(missing.code, 2);
  t.match(missing.err, /--rloc is required/);
});

t.test('register: a bad --timeout is refused before anything is sent; IPv6 and host-name Map-Servers', async (t) => {
  const listener = await UdpPeer.bind('127.0.0.1');
  t.teardown(() => listener.close());
  const target = `127.0.0.1:${listener.local.port}`;
  const bad = await run(['register', '--ms', target, '--eid', '10.16.10.0/24', '--rloc', '127.0.0.1', '--key', 'k', '--timeout', 'abc']);
  t.equal(bad.code, 2);
  t.match(bad.err, /--timeout must be a positive number of milliseconds, not 'abc'/);
  t.equal(bad.out, '');
  t.ok(await listener.silentFor(300), 'no Map-Register was sent');
  for (const [flag, value] of [['--ttl', '-1'], ['--iid', 'x'], ['--source', 'nowhere']]) {
    const refused = await run(['register', '--ms', target, '--eid', '10.16.10.0/24', '--rloc', '127.0.0.1', '--key', 'k', flag!, value!]);
    t.equal(refused.code, 2, `${flag} ${value}`);
  }

  const port = await freeUdp6Port();
  const serve = await serveWith(t.testdir(), { lisp: { listen: [`[::1]:${port}`] } });
  t.teardown(() => void serve.stop('SIGKILL'));
  const ms = { port };
  const v6 = await run(['register', '--ms', `[::1]:${ms.port}`, '--eid', '10.16.10.0/24', '--rloc', '127.0.0.1', '--key', 'local-key']);
  t.equal(v6.code, 0, v6.err);
  t.match(v6.out, new RegExp(`^Sent Map-Register for 10\\.16\\.10\\.0/24 -> 127\\.0\\.0\\.1 to \\[::1\\]:${ms.port}\\n`));
  const named = await run(['register', '--ms', `localhost:${listener.local.port}`, '--eid', '10.16.10.0/24', '--rloc', '127.0.0.1', '--key', 'k', '--timeout', '100']);
  t.match(named.out, new RegExp(`to 127\\.0\\.0\\.1:${listener.local.port}`), 'the host name resolved');
  t.ok(await listener.receive(1000), 'and the Map-Register went there');
});

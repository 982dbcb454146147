// `livmap register` against a live Map-Server on loopback, as the real CLI.
import t from 'tap';
import { livmap } from '../helpers/cli.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { startLabServer } from '../helpers/server.js';


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

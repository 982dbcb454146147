// The operator verbs against a real `livmap serve` (UDP registrations by `livmap register`, the
// API over HTTP), on the endpoints today's API already has; operate-api.test.ts covers the rest.
import t from 'tap';
import { spawn } from 'node:child_process';
import { LIVMAP_BIN, livmap } from '../helpers/cli.js';
import { freeTcpPort } from '../helpers/udp.js';
import { serveWith, TOKEN, type ServeProcess } from './serve-process.js';

/** Registers as an ETR at `rloc` (sent from there, so each RLOC is its own ETR). */
async function registered(serve: ServeProcess, eid: string, rloc: string, key: string): Promise<void> {
  const run = await livmap(['register', '--ms', `127.0.0.1:${serve.lispPort}`, '--eid', eid, '--rloc', rloc, '--key', key, '--source', rloc]);
  if (run.code !== 0) throw new Error(`register ${eid} failed: ${run.stderr}`);
}

t.test('sites, registrations, lookup and move, as tables and as JSON', async (t) => {
  const serve = await serveWith(t.testdir());
  t.teardown(() => void serve.stop('SIGKILL'));
  await registered(serve, '10.16.10.0/24', '127.0.0.1', 'local-key');
  await registered(serve, '192.168.20.0/24', '127.0.0.2', 'cloud-key');

  const sites = await serve.cli(['sites']);
  t.equal(sites.code, 0, sites.stderr);
  t.match(sites.stdout, /^SITE\s+PREFIXES \(\+ accepts more specifics\)\s+REGS\s+AUTH-FAIL\s+XTRS\s+KEYS\n/);
  t.match(sites.stdout, /\nlocal\s+10\.16\.10\.0\/24\+\s+1\s+\S+\s+\S+\s+hmac-sha1\n/);
  t.match(sites.stdout, /\ncloud\s+192\.168\.20\.0\/24\+\s+1\s+/);
  const oneSite = JSON.parse((await serve.cli(['sites', 'cloud', '--json'])).stdout) as { name: string; registrations: number };
  t.equal(oneSite.name, 'cloud');
  t.equal(oneSite.registrations, 1);
  const noSite = await serve.cli(['sites', 'mars']);
  t.equal(noSite.code, 1, 'unknown site: exit 1');
  t.match(noSite.stderr, /livmap sites: no site 'mars'/);

  const regs = await serve.cli(['registrations']);
  t.equal(regs.code, 0, regs.stderr);
  t.match(regs.stdout, /^SITE\s+EID\s+ETR\s+FROM\s+RLOCS\s+STATE\s+REFRESHED\s+EXPIRES\n/);
  t.match(regs.stdout, /\nlocal\s+10\.16\.10\.0\/24\s+rloc:127\.0\.0\.1\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1\s+live\s+\d+s ago\s+in \d+s\n/);
  t.match(regs.stdout, /\n2 registrations\n$/);
  const limited = JSON.parse((await serve.cli(['registrations', '--json', '--limit', '1'])).stdout) as { registrations: unknown[] };
  t.equal(limited.registrations.length, 1, '--limit caps what is printed');

  const positive = await serve.cli(['lookup', '10.16.10.5']);
  t.equal(positive.code, 0, positive.stderr);
  t.match(positive.stdout, /^10\.16\.10\.5: registered, 10\.16\.10\.0\/24, ttl 10 min, site local, proxy reply\n\s+RLOC\s+PRI\/WEIGHT\s+STATE\n\s+127\.0\.0\.1\s+1\/100\s+up\n$/);
  const negative = await serve.cli(['lookup', '10.99.1.1']);
  t.equal(negative.code, 1, 'a negative answer is exit 1');
  t.match(negative.stdout, /^10\.99\.1\.1: negative, /);
  const badEid = await serve.cli(['lookup', 'foo']);
  t.equal(badEid.code, 2);
  t.match(badEid.stderr, /EID 'foo' is not an address or prefix/);

  const moved = await serve.cli(['move', '10.16.10.5', '--to', 'cloud']);
  t.equal(moved.code, 0, moved.stderr);
  t.match(moved.stdout, /^moved 10\.16\.10\.5\/32: 127\.0\.0\.1 -> 127\.0\.0\.2 \(site cloud\)\n  \d+ SMRs?, \d+ Map-Notif(y|ies), fan-out [\d.]+ ms; hint holds until \d{4}-\d\d-\d\dT/);
  const after = JSON.parse((await serve.cli(['lookup', '10.16.10.5', '--json'])).stdout) as { site: string; rlocs: Array<{ address: string }> };
  t.equal(after.site, 'cloud');
  t.same(after.rlocs.map((r) => r.address), ['127.0.0.2']);
  const byRloc = JSON.parse((await serve.cli(['move', '10.16.10.5', '--rloc', '127.0.0.1', '--json'])).stdout) as { to: string[]; from: string[] };
  t.same(byRloc, { ...byRloc, from: ['127.0.0.2'], to: ['127.0.0.1'] });
  const noSite2 = await serve.cli(['move', '10.16.10.5', '--to', 'mars']);
  t.equal(noSite2.code, 2, 'the API says 400: exit 2');
  t.equal(noSite2.stderr, "livmap move: no site 'mars'\n", 'one line, no help after an API answer');
  const both = await serve.cli(['move', '10.16.10.5']);
  t.equal(both.code, 2);
  t.match(both.stderr, /give exactly one of --to SITE and --rloc IP/);
  t.match(both.stderr, /usage: livmap move EID/);
});

t.test('exit codes: unreachable 3, wrong token 4; help lists them', async (t) => {
  const port = await freeTcpPort();
  const down = await livmap(['sites', '--api', `http://127.0.0.1:${port}`, '--token', 'x']);
  t.equal(down.code, 3);
  t.match(down.stderr, new RegExp(`cannot reach the livmap API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  const serve = await serveWith(t.testdir());
  t.teardown(() => void serve.stop('SIGKILL'));
  const wrong = await livmap(['registrations', '--api', serve.api, '--token', 'not-the-token']);
  t.equal(wrong.code, 4);
  t.match(wrong.stderr, /the bearer token is not valid \(the token was refused;/);
  // The token from the environment, as a script would give it.
  const env = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [LIVMAP_BIN, 'sites'], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '', LIVMAP_API: serve.api, LIVMAP_TOKEN: TOKEN } });
    child.on('exit', resolve);
  });
  t.equal(env, 0, 'LIVMAP_API and LIVMAP_TOKEN are used');
  const help = await livmap(['help']);
  t.match(help.stdout, /exit codes of the API verbs[^]*3 {2}cannot reach the API[^]*4 {2}authentication refused/);
  for (const verb of ['sites', 'registrations', 'lookup', 'move', 'clear', 'events']) t.match(help.stdout, new RegExp(`\\n  ${verb} `));
  const version = await livmap(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^livmap 0\.1\.0 \(node v24\.\d+\.\d+\)\n$/);
});

t.test('events --follow prints events as they happen and ends cleanly on Ctrl-C', async (t) => {
  const serve = await serveWith(t.testdir());
  t.teardown(() => void serve.stop('SIGKILL'));
  // --timeout bounds connecting only: the stream stays open past it.
  const child = spawn(process.execPath, [LIVMAP_BIN, 'events', '--follow', '--timeout', '1000', '--api', serve.api, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  // Until the stream is open, a registration would be missed: register until one line shows.
  for (let i = 0; i < 50 && !out.includes('registered'); i++) {
    await registered(serve, '10.16.10.0/24', '127.0.0.1', 'local-key');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.match(out, /(#\d+|-) {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}registered {2}site local {2}10\.16\.10\.0\/24 {2}etr rloc:127\.0\.0\.1 {2}rlocs 127\.0\.0\.1/);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(child.exitCode, null, 'still following after --timeout');
  await registered(serve, '192.168.20.0/24', '127.0.0.2', 'cloud-key');
  for (let i = 0; i < 50 && !out.includes('site cloud'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  t.match(out, /registered {2}site cloud {2}192\.168\.20\.0\/24 {2}etr rloc:127\.0\.0\.2/);
  child.kill('SIGINT');
  t.equal(await exited, 0);
});

// `livmap serve` as an operator meets it, as real processes: a taken port, SIGTERM with an event
// stream open, SIGHUP reloading the config, the first-start token line, readable logs, dataDir.
import t from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { livmap } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/udp.js';
import { DEMO_SITES, TOKEN, serveWith, startServeProcess } from './serve-process.js';

t.test('a taken UDP or API port is one clear line and exit 2, no stack trace', async (t) => {
  const dir = t.testdir();
  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  t.teardown(() => udp.close());
  const taken = udp.address().port;
  const run = await livmap(['serve', '--listen', `127.0.0.1:${taken}`, '--api', `127.0.0.1:${await freeTcpPort()}`, '--data', join(dir, 'a')]);
  t.equal(run.code, 2);
  t.equal(run.stderr, `livmap serve: cannot listen for LISP (UDP) on 127.0.0.1:${taken}: the address is already in use (another livmap or Map-Server running?)\n`);
  t.notMatch(run.stdout + run.stderr, /\n\s+at /, 'no stack trace');

  const tcp = createServer();
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  t.teardown(() => tcp.close());
  const apiPort = (tcp.address() as { port: number }).port;
  const api = await livmap(['serve', '--listen', `127.0.0.1:${await freeUdpPort()}`, '--api', `127.0.0.1:${apiPort}`, '--data', join(dir, 'b')]);
  t.equal(api.code, 2);
  t.match(api.stderr, new RegExp(`^livmap serve: cannot listen for API \\(TCP\\) on 127\\.0\\.0\\.1:${apiPort}: the address is already in use`));
  t.equal(api.stderr.split('\n').length, 2, 'one line');
  t.notMatch(api.stdout + api.stderr, /\n\s+at /);
});

t.test('bad serve arguments are refused with the allowed values', async (t) => {
  const format = await livmap(['serve', '--log-format', 'xml']);
  t.equal(format.code, 2);
  t.match(format.stderr, /--log-format must be one of auto, pretty, json, not 'xml'/);
  const listen = await livmap(['serve', '--listen', 'nowhere', '--data', join(t.testdir(), 'd')]);
  t.equal(listen.code, 2);
  t.match(listen.stderr, /invalid config: --listen\[0\]: 'nowhere' is not host:port/);
});

t.test('SIGTERM stops within 2 s while an /api/v1/events client stays connected, and frees the ports', async (t) => {
  const dir = t.testdir();
  const serve = await serveWith(dir);
  t.teardown(() => void serve.stop('SIGKILL'));
  const stream = await fetch(`${serve.api}/api/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(stream.status, 200);
  const reader = stream.body!.getReader();
  await reader.read(); // the stream's opening comment: the client is connected
  const { code, ms } = await serve.stop('SIGTERM');
  t.equal(code, 0, serve.output());
  t.ok(ms < 2000, `stopped in ${ms.toFixed(0)} ms`);
  t.match(serve.output(), /stopped cleanly/);
  await reader.cancel().catch(() => undefined);
  // The UDP port is free again at once.
  const again = dgram.createSocket('udp4');
  again.bind(serve.lispPort, '127.0.0.1');
  await once(again, 'listening');
  again.close();
});

t.test('SIGHUP reloads sites, keys and static mappings, keeps registrations, and logs what changed', async (t) => {
  const dir = t.testdir();
  const serve = await serveWith(dir);
  t.teardown(() => void serve.stop('SIGKILL'));
  const ms = `127.0.0.1:${serve.lispPort}`;
  const registered = await livmap(['register', '--ms', ms, '--eid', '10.16.10.0/24', '--rloc', '127.0.0.1', '--key', 'local-key']);
  t.equal(registered.code, 0, registered.stderr);

  const config = JSON.parse(readFileSync(serve.configFile, 'utf8')) as { sites: typeof DEMO_SITES; mappings?: unknown[] };
  config.sites = [
    DEMO_SITES[0]!,
    { ...DEMO_SITES[1]!, keys: [{ alg: 'hmac-sha256', secret: 'new-cloud-key' }] },
    { name: 'dr', keys: [{ alg: 'hmac-sha1', secret: 'dr-key' }], prefixes: [{ eid: '172.30.0.0/16', acceptMoreSpecifics: false }] },
  ];
  config.mappings = [{ eid: '203.0.113.0/24', rlocs: [{ address: '198.51.100.1' }] }];
  writeFileSync(serve.configFile, JSON.stringify(config));
  const reloaded = serve.waitFor(/SIGHUP: config reloaded/);
  serve.child.kill('SIGHUP');
  await reloaded;
  const line = serve.output().split('\n').find((l) => l.includes('SIGHUP: config reloaded'))!;
  const logged = JSON.parse(line) as Record<string, unknown>;
  t.same(logged.sitesAdded, ['dr']);
  t.same(logged.sitesChanged, ['cloud']);
  t.same(logged.mappingsAdded, ['203.0.113.0/24']);
  t.equal(logged.registrationsDropped, undefined, 'no registration dropped');

  const sites = await serve.cli(['sites', '--json']);
  t.equal(sites.code, 0, sites.stderr);
  t.same((JSON.parse(sites.stdout) as { sites: Array<{ name: string }> }).sites.map((s) => s.name).sort(), ['cloud', 'dr', 'local']);
  const regs = await serve.cli(['registrations', '--json']);
  t.same((JSON.parse(regs.stdout) as { registrations: Array<{ eid: string }> }).registrations.map((r) => r.eid), ['10.16.10.0/24'], 'the registration survived');
  const mapping = await serve.cli(['lookup', '203.0.113.9']);
  t.equal(mapping.code, 0);
  t.match(mapping.stdout, /203\.0\.113\.9: static, 203\.0\.113\.0\/24/);
  // The new key is in force on UDP, the old one no longer.
  t.equal((await livmap(['register', '--ms', ms, '--eid', '192.168.20.0/24', '--rloc', '127.0.0.2', '--key', 'new-cloud-key', '--alg', 'hmac-sha256'])).code, 0);
  t.equal((await livmap(['register', '--ms', ms, '--eid', '192.168.20.0/24', '--rloc', '127.0.0.2', '--key', 'cloud-key', '--timeout', '300'])).code, 1);

  // A broken file on SIGHUP: logged, and the running config stays.
  writeFileSync(serve.configFile, '{ "sites": [ ');
  const refused = serve.waitFor(/SIGHUP: config not reloaded/);
  serve.child.kill('SIGHUP');
  await refused;
  t.equal((await serve.cli(['lookup', '203.0.113.9'])).code, 0, 'still serving the last good config');

  // Removing a site drops its registrations, and says so.
  config.sites = [DEMO_SITES[1]!];
  config.mappings = [];
  writeFileSync(serve.configFile, JSON.stringify(config));
  const second = serve.waitFor(/SIGHUP: config reloaded/);
  serve.child.kill('SIGHUP');
  await second;
  const last = JSON.parse(serve.output().split('\n').filter((l) => l.includes('SIGHUP: config reloaded')).at(-1)!) as Record<string, unknown>;
  t.same(last.sitesRemoved, ['local', 'dr']);
  t.same(last.sitesChanged, ['cloud']);
  t.same(last.mappingsRemoved, ['203.0.113.0/24']);
  t.equal(last.registrationsDropped, 1);
  t.equal((await serve.stop()).code, 0);
});

t.test('"API token generated on first start" only on the first start; dataDir is next to the config file', async (t) => {
  const dir = t.testdir({ conf: {} });
  const lispPort = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const configFile = join(dir, 'conf', 'livmap.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: 'state', lisp: { listen: [`127.0.0.1:${lispPort}`] }, api: { listen: `127.0.0.1:${apiPort}` }, sites: DEMO_SITES }));
  const known = { api: `http://127.0.0.1:${apiPort}`, lispPort, token: '', configFile };
  // Started from another directory: the data must still land in conf/state.
  const first = await startServeProcess(['--config', configFile], known, dir);
  t.teardown(() => void first.stop('SIGKILL'));
  t.match(first.output(), /API token generated on first start/);
  t.ok(existsSync(join(dir, 'conf', 'state', 'api-token')), 'token file in conf/state');
  t.equal((await first.stop()).code, 0);
  const second = await startServeProcess(['--config', configFile], known, dir);
  t.teardown(() => void second.stop('SIGKILL'));
  t.notMatch(second.output(), /API token generated/);
  // The CLI finds the token the same way: through --config.
  const sites = await livmap(['sites', '--config', configFile]);
  t.equal(sites.code, 0, sites.stderr);
  t.match(sites.stdout, /^SITE\s+PREFIXES/);
  t.equal((await second.stop()).code, 0);
});

t.test('logs: JSON when not a terminal, one readable line per entry with --log-format pretty', async (t) => {
  const dir = t.testdir();
  const json = await serveWith(dir, {}, ['--log-format', 'json']);
  t.teardown(() => void json.stop('SIGKILL'));
  for (const line of json.output().trim().split('\n')) t.doesNotThrow(() => JSON.parse(line), line);
  await json.stop();
  const prettyDir = t.testdir();
  const pretty = await serveWith(prettyDir, {}, ['--log-format', 'pretty']);
  t.teardown(() => void pretty.stop('SIGKILL'));
  const lines = pretty.output().trim().split('\n');
  for (const line of lines) t.match(line, /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /, line);
  t.match(pretty.output(), /INFO  LISP control plane listening listen=\[\{"address":"127\.0\.0\.1","port":\d+\}\] dataDir=\//);
  t.notMatch(pretty.output(), /"level":/);
  await pretty.stop();
});

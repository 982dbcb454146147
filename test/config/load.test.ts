import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../mapserver/json/convert.js';
import { DEMO_CONFIG } from '../../mapserver/config/demo.js';
import { loadConfigFile, parseListen, resolveConfig, unknownConfigKeys } from '../../mapserver/config/load.js';
import { DEFAULT_RECEIVE_BUFFER_BYTES } from '../../mapserver/transport/udp.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';

const base = {
  dataDir: './data',
  lisp: { listen: ['0.0.0.0:4342', '[::]:4342'] },
  api: { listen: '127.0.0.1:8080', token: 'change-me' },
  sites: [
    {
      name: 'local',
      keys: [{ alg: 'hmac-sha1', secret: 's1' }, { alg: 'hmac-sha256', secret: 's2' }],
      prefixes: [{ eid: '10.16.10.0/24', iid: 0, acceptMoreSpecifics: true }],
    },
  ],
  mappings: [{ eid: '198.51.100.0/24', iid: 0, ttl: 10, rlocs: [{ address: '203.0.113.9', priority: 1, weight: 100 }] }],
};

function errorOf(raw: unknown): ConfigError {
  try {
    resolveConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('config was accepted');
}

t.test('the issue example config resolves, extra keys allowed', async (t) => {
  const config = resolveConfig({ ...base, comment: 'extra keys are fine' });
  t.equal(config.sites.length, 1);
  t.equal(config.sites[0]!.keys.length, 2, 'several keys at once (rollover)');
  t.equal(formatEidPrefix(config.sites[0]!.prefixes[0]!.eid), '10.16.10.0/24');
  t.equal(config.mappings[0]!.locators[0]!.rloc.afi, 'ipv4');
  t.same(config.lisp.listen, [{ host: '0.0.0.0', port: 4342, family: 4 }, { host: '::', port: 4342, family: 6 }]);
  t.equal(config.lisp.registrationTtlSeconds, 180);
  t.equal(config.api.token, 'change-me');
});

t.test('keys livmap does not know are listed (extra keys stay allowed); comment keys are not', async (t) => {
  t.same(resolveConfig(base).ignoredKeys, []);
  t.same(resolveConfig(DEMO_CONFIG).ignoredKeys, []);
  const raw = { ...base, comment: 'x', _note: 'y', '//': 'z', dataDri: './d', lisp: { ...base.lisp, listn: [] }, api: { ...base.api, tokn: 'x' } };
  t.same(resolveConfig(raw).ignoredKeys, ['dataDri', 'lisp.listn', 'api.tokn']);
  t.same(unknownConfigKeys('not an object'), []);
});

t.test('lisp.receiveBufferBytes: 4 MiB unless set, within 64 KiB .. 1 GiB', async (t) => {
  t.equal(resolveConfig(base).lisp.receiveBufferBytes, DEFAULT_RECEIVE_BUFFER_BYTES);
  t.equal(resolveConfig({ ...base, lisp: { ...base.lisp, receiveBufferBytes: 1 << 20 } }).lisp.receiveBufferBytes, 1 << 20);
  t.equal(errorOf({ ...base, lisp: { ...base.lisp, receiveBufferBytes: 1000 } }).field, 'lisp.receiveBufferBytes');
  t.equal(errorOf({ ...base, lisp: { ...base.lisp, receiveBufferBytes: 2 ** 31 } }).field, 'lisp.receiveBufferBytes');
});

t.test('the embedded demo config is valid and has both migration sites', async (t) => {
  const config = resolveConfig(DEMO_CONFIG);
  t.same(config.sites.map((s) => formatEidPrefix(s.prefixes[0]!.eid)), ['10.16.10.0/24', '192.168.20.0/24']);
  t.equal(config.dataDir, './data');
});

t.test('bad configs name the field and the problem', async (t) => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['prefix too long', { ...base, sites: [{ ...base.sites[0], prefixes: [{ eid: '10.0.0.0/33' }] }] }, 'sites[0].prefixes[0].eid', /33/],
    ['unknown algorithm', { ...base, sites: [{ ...base.sites[0], keys: [{ alg: 'md5', secret: 'x' }] }] }, 'sites[0].keys[0].alg', /allowed/],
    ['missing keys', { ...base, sites: [{ name: 'x', prefixes: [{ eid: '10.0.0.0/8' }] }] }, 'sites[0].keys', /required/],
    ['unknown site field', { ...base, sites: [{ ...base.sites[0], colour: 'red' }] }, 'sites[0].colour', /not a known field/],
    ['bad RLOC', { ...base, mappings: [{ eid: '198.51.100.0/24', rlocs: [{ address: '300.1.1.1' }] }] }, 'mappings[0].rlocs[0].address', /not an IPv4 or IPv6/],
    ['bad listen', { ...base, lisp: { listen: ['localhost'] } }, 'lisp.listen[0]', /host:port/],
    ['overlapping sites', { ...base, sites: [base.sites[0], { ...base.sites[0], name: 'other', prefixes: [{ eid: '10.16.0.0/16' }] }] }, 'sites[1].prefixes[0].eid', /overlaps .* of site 'local'/],
    ['duplicate site', { ...base, sites: [base.sites[0], { ...base.sites[0], prefixes: [{ eid: '10.17.0.0/16' }] }] }, 'sites[1].name', /twice/],
    ['host bits set', { ...base, sites: [{ ...base.sites[0], prefixes: [{ eid: '10.16.10.1/24' }] }] }, 'sites[0].prefixes[0].eid', /host bits|10\.16\.10\.1/],
    ['wrong type', { ...base, lisp: { registrationTtlSeconds: 'soon' } }, 'lisp.registrationTtlSeconds', /integer/],
  ];
  for (const [name, raw, field, problem] of cases) {
    const err = errorOf(raw);
    t.equal(err.field, field, `${name}: field`);
    t.match(err.message, problem, `${name}: ${err.message}`);
  }
});

t.test('config files: unreadable and invalid JSON are reported with the path', async (t) => {
  const dir = t.testdir({ 'bad.json': '{ "sites": [ }', 'good.json': JSON.stringify(base) });
  await t.rejects(loadConfigFile(join(dir, 'missing.json')), /cannot read the config file \(ENOENT\)/);
  await t.rejects(loadConfigFile(join(dir, 'bad.json')), /is not valid JSON/);
  const good = await loadConfigFile(join(dir, 'good.json'));
  t.equal(good.sites[0]!.name, 'local');
  writeFileSync(join(dir, 'good.json'), JSON.stringify({ ...base, dataDir: '' }));
  await t.rejects(loadConfigFile(join(dir, 'good.json')), /dataDir/);
});

t.test('listen addresses', async (t) => {
  t.same(parseListen('[::1]:0', 'x'), { host: '::1', port: 0, family: 6 });
  t.same(parseListen('127.0.0.1:4342', 'x'), { host: '127.0.0.1', port: 4342, family: 4 });
  t.throws(() => parseListen('127.0.0.1:70000', 'x'), /host:port/);
  t.throws(() => parseListen('::1:4342', 'x'), /host:port|not an IP/);
});

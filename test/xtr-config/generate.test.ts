import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../mapserver/config/load.js';
import { formatEidPrefix, parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { generate, type Generated } from '../../xtr-config/generate.js';
import { checkOorXtrFile, type OorXtrConf } from '../../xtr-config/oor-conf-reader.js';
import { resolveSpec, type XtrSpec } from '../../xtr-config/spec.js';
import { GOLDEN_DIR, livcloudSpec } from './helpers.js';

function build(raw: unknown): { spec: XtrSpec; out: Generated } {
  const spec = resolveSpec(raw);
  return { spec, out: generate(spec) };
}

function readBack(text: string): OorXtrConf {
  const { conf, problems } = checkOorXtrFile(text);
  if (!conf || problems.length > 0) throw new Error(`generated file does not pass the OOR check: ${JSON.stringify(problems)}`);
  return conf;
}

function fileOf(out: Generated, xtr: string): string {
  const file = out.xtrFiles.find((f) => f.xtr === xtr);
  if (!file) throw new Error(`no file for ${xtr}`);
  return file.text;
}

t.test('regenerating the shipped spec reproduces the golden files byte for byte', async (t) => {
  const { out } = build(livcloudSpec());
  const golden = readdirSync(GOLDEN_DIR).sort();
  t.same(golden, ['cloud-xtr.conf', 'corr-xtr.conf', 'livmap.json', 'local-xtr.conf'], 'exactly the three xTR files and the livmap config');
  t.same(out.xtrFiles.map((f) => f.fileName).sort(), ['cloud-xtr.conf', 'corr-xtr.conf', 'local-xtr.conf']);
  for (const f of out.xtrFiles) t.equal(f.text, readFileSync(join(GOLDEN_DIR, f.fileName), 'utf8'), f.fileName);
  t.equal(out.livmapJson, readFileSync(join(GOLDEN_DIR, 'livmap.json'), 'utf8'), 'livmap.json');
  t.equal(generate(resolveSpec(livcloudSpec())).livmapJson, out.livmapJson, 'generation is deterministic');
});

t.test('every value in the generated OOR files matches the spec', async (t) => {
  const { spec, out } = build(livcloudSpec());
  for (const site of spec.sites) {
    for (const xtr of site.xtrs) {
      const conf = readBack(fileOf(out, xtr.name));
      t.equal(conf.operatingMode, 'xTR');
      t.equal(conf.debug, spec.oor.debug);
      t.equal(conf.mapRequestRetries, spec.oor.mapRequestRetries);
      t.equal(conf.encapsulation, spec.oor.encapsulation);
      t.same(conf.rlocProbing, spec.oor.rlocProbing);
      t.same(conf.mapResolvers, spec.mapResolvers);
      t.same(
        conf.mapServers.map((m) => ({ address: m.address, keyType: m.keyType, key: m.key, proxyReply: m.proxyReply })),
        spec.mapServers.map((address) => ({ address, keyType: 1, key: site.key.secret, proxyReply: site.proxyReply })),
      );
      const expected = [
        ...site.prefixes.map((p) => ({ eid: formatEidPrefix(p.eid), ttl: site.ttl })),
        ...spec.vms.filter((vm) => vm.site === site.name).map((vm) => ({ eid: formatEidPrefix(vm.eid), ttl: vm.ttl })),
      ];
      t.same(
        conf.databaseMappings.map((m) => ({ eid: formatEidPrefix(parseEidPrefix(m.eidPrefix ?? '', m.iid)), ttl: m.ttl })),
        expected,
        `${xtr.name} registers its site prefixes and the VMs running there`,
      );
      for (const m of conf.databaseMappings) {
        t.same(
          m.rlocAddresses.map((r) => ({ kind: 'address', address: r.address, priority: r.priority, weight: r.weight })),
          xtr.rlocs.filter((r) => r.kind === 'address'),
        );
        t.ok(m.rlocAddresses.every((r) => r.local), 'locators are local (the default)');
      }
    }
  }
  const local = readBack(fileOf(out, 'local-xtr'));
  t.same(
    local.databaseMappings.map((m) => [m.eidPrefix, m.iid, m.ttl]),
    [
      ['10.16.10.0/24', 0, 10],
      ['10.16.10.50/32', 0, 1],
    ],
  );
  t.same(readBack(fileOf(out, 'cloud-xtr')).databaseMappings.map((m) => m.eidPrefix), ['192.168.20.0/24']);
  t.same(readBack(fileOf(out, 'corr-xtr')).databaseMappings.map((m) => m.eidPrefix), ['172.16.30.0/24']);
});

t.test('the generated livmap config passes resolveConfig and accepts the VM wherever it runs', async (t) => {
  const { out } = build(livcloudSpec());
  const config = resolveConfig(JSON.parse(out.livmapJson));
  t.same(config.sites.map((s) => s.name), ['local', 'cloud', 'corr']);
  const local = config.sites[0]!;
  t.equal(formatEidPrefix(local.prefixes[0]!.eid), '10.16.10.0/24');
  t.equal(local.prefixes[0]!.acceptMoreSpecifics, true, 'the VM /32 lies in local\'s prefix');
  t.equal(config.sites[1]!.prefixes[0]!.acceptMoreSpecifics, false, 'no VM EID lies in the cloud prefix');
  t.equal(config.sites[2]!.prefixes[0]!.acceptMoreSpecifics, false, 'no VM EID lies in the correspondent prefix');
  t.same(local.keys, [{ alg: 'hmac-sha1', secret: 'lisp-interop-key' }]);
  t.same(config.lisp.listen, [{ host: '0.0.0.0', port: 4342, family: 4 }]);
  t.same(config.mappings, []);
});

t.test('moving the VM to the cloud site moves its database-mapping to the cloud file', async (t) => {
  const raw = livcloudSpec();
  raw.vms[0]!.site = 'cloud';
  const { out } = build(raw);
  const local = readBack(fileOf(out, 'local-xtr'));
  const cloud = readBack(fileOf(out, 'cloud-xtr'));
  t.same(local.databaseMappings.map((m) => m.eidPrefix), ['10.16.10.0/24']);
  t.same(cloud.databaseMappings.map((m) => [m.eidPrefix, m.ttl]), [
    ['192.168.20.0/24', 10],
    ['10.16.10.50/32', 1],
  ]);
  t.same(cloud.databaseMappings[1]!.rlocAddresses.map((r) => r.address), ['172.20.20.1'], 'registered with the cloud RLOC');
  const before = build(livcloudSpec()).out;
  t.equal(out.livmapJson, before.livmapJson, 'the livmap config does not depend on where the VM runs now');
  t.not(fileOf(out, 'cloud-xtr'), fileOf(before, 'cloud-xtr'));
});

t.test('a richer spec: several RLOCs, interfaces, IPv6, IIDs, mobile prefix, sites with distinct keys', async (t) => {
  const raw = {
    mapServers: ['172.30.0.2', '2001:db8:30::2'],
    oor: { debug: 2, encapsulation: 'VXLAN-GPE', rlocProbing: { interval: 0, retries: 0, retriesInterval: 1 } },
    sites: [
      {
        name: 'dc1',
        eidPrefixes: [{ eid: '10.1.0.0/16', iid: 7 }, { eid: '2001:db8:1::/48' }],
        key: { alg: 'hmac-sha1', secret: 'a "quoted" $ecret ${HOME} #1 // x' },
        proxyReply: true,
        ttl: 30,
        xtrs: [
          {
            name: 'dc1-a',
            rlocs: [
              { interface: 'eth0', priority: 1, weight: 50 },
              { interface: 'eth0', ipVersion: 6, priority: 2, weight: 50 },
              { address: '2001:db8:ff::1', priority: 3, weight: 0 },
            ],
          },
          { name: 'dc1-b', rlocs: [{ address: '198.51.100.7' }] },
        ],
      },
      {
        name: 'dc2',
        eidPrefixes: [{ eid: '[7] 10.2.0.0/16' }],
        key: { alg: 'hmac-sha1', secret: 'dc2-key' },
        xtrs: [{ name: 'dc2-a', rlocs: [{ address: '203.0.113.2' }] }],
      },
      {
        name: 'ext',
        eidPrefixes: [{ eid: '10.3.0.0/16' }],
        key: { alg: 'hmac-sha256', secret: 'ext-key' },
        xtrs: [{ name: 'ext-1', target: 'external', rlocs: [{ address: '203.0.113.3' }] }],
      },
    ],
    mobilePrefixes: [{ name: 'roaming', eid: '10.99.0.0/24', iid: 7 }],
    vms: [
      { name: 'db', eid: '10.1.2.3', iid: 7, site: 'dc2', mayRunAt: ['dc1', 'dc2'] },
      { name: 'web', eid: '2001:db8:1::80', site: 'dc1', ttl: 2 },
      { name: 'roamer', eid: '[7] 10.99.0.9/32', site: 'dc1', mayRunAt: ['dc1', 'dc2'] },
    ],
  };
  const { spec, out } = build(raw);
  t.same(out.xtrFiles.map((f) => f.fileName), ['dc1-a.conf', 'dc1-b.conf', 'dc2-a.conf'], 'no file for the external xTR');
  const a = readBack(fileOf(out, 'dc1-a'));
  t.equal(a.debug, 2);
  t.equal(a.encapsulation, 'VXLAN-GPE');
  t.same(a.rlocProbing, { interval: 0, retries: 0, retriesInterval: 1 });
  t.same(a.mapResolvers, ['172.30.0.2', '2001:db8:30::2'], 'map resolvers default to the map servers');
  t.equal(a.mapServers.length, 2);
  t.ok(a.mapServers.every((m) => m.key === raw.sites[0]!.key.secret && m.proxyReply), 'awkward secret survives quoting');
  t.same(a.databaseMappings.map((m) => [m.eidPrefix, m.iid, m.ttl]), [
    ['10.1.0.0/16', 7, 30],
    ['2001:db8:1::/48', 0, 30],
    ['2001:db8:1::80/128', 0, 2],
    ['10.99.0.9/32', 7, 1],
  ]);
  const m0 = a.databaseMappings[0]!;
  t.same(m0.rlocIfaces.map((r) => [r.interface, r.ipVersion, r.priority, r.weight]), [
    ['eth0', 4, 1, 50],
    ['eth0', 6, 2, 50],
  ]);
  t.same(m0.rlocAddresses.map((r) => [r.address, r.priority, r.weight]), [['2001:db8:ff::1', 3, 0]]);
  t.same(readBack(fileOf(out, 'dc1-b')).databaseMappings.map((m) => m.rlocAddresses[0]!.address), ['198.51.100.7', '198.51.100.7', '198.51.100.7', '198.51.100.7']);
  t.same(readBack(fileOf(out, 'dc2-a')).databaseMappings.map((m) => [m.eidPrefix, m.iid]), [
    ['10.2.0.0/16', 7],
    ['10.1.2.3/32', 7],
  ]);

  const config = resolveConfig(JSON.parse(out.livmapJson));
  t.same(config.lisp.listen.map((l) => l.family), [4, 6], 'listens on both families the Map-Server addresses use');
  const byName = new Map(config.sites.map((s) => [s.name, s]));
  t.same(
    byName.get('dc1')!.keys.map((k) => k.secret),
    [raw.sites[0]!.key.secret, 'dc2-key', 'ext-key'],
    'dc1 also holds the keys of the sites its VMs may run at (db: dc2; web: every site, the default)',
  );
  t.same(byName.get('dc1')!.prefixes.map((p) => p.acceptMoreSpecifics), [true, true]);
  t.same(byName.get('dc2')!.keys.map((k) => k.secret), ['dc2-key']);
  t.same(byName.get('ext')!.keys, [{ alg: 'hmac-sha256', secret: 'ext-key' }], 'an external xTR may use HMAC-SHA-256');
  const roaming = byName.get('roaming')!;
  t.equal(formatEidPrefix(roaming.prefixes[0]!.eid), '[7] 10.99.0.0/24');
  t.equal(roaming.prefixes[0]!.acceptMoreSpecifics, true);
  t.same(roaming.keys.map((k) => k.secret), [raw.sites[0]!.key.secret, 'dc2-key']);
  t.same(spec.vms.map((v) => v.home), [
    { kind: 'site', name: 'dc1' },
    { kind: 'site', name: 'dc1' },
    { kind: 'mobile', name: 'roaming' },
  ]);
});

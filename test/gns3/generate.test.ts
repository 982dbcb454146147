// `livmap gns3` end to end: the project it writes is a valid GNS3 2.2 topology (our strict
// schema), every node's files agree with the spec and with `livmap xtr-config`, and the portable
// zip opens with Python's zipfile (what GNS3 imports with) to the same project.
import t from 'tap';
import { Ajv } from 'ajv';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildLab } from '../../xtr-config/lab.js';
import { checkOorXtrFile } from '../../xtr-config/oor-conf-reader.js';
import { SpecError } from '../../xtr-config/spec.js';
import { livmap } from '../helpers/cli.js';
import { GOLDEN_DIR, SPEC_PATH, livcloudSpec } from '../xtr-config/helpers.js';
import { GNS3_TOPOLOGY_SCHEMA } from './topology-schema.js';

const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
const validate = ajv.compile(GNS3_TOPOLOGY_SCHEMA);
// Debian's python3 (not a pyenv shim); its zipfile module is what GNS3 imports projects with.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

interface Topo {
  name: string;
  project_id: string;
  topology: {
    nodes: Array<{ name: string; node_id: string; node_type: string; properties: { image: string; adapters: number; start_command: string; extra_volumes: string[] } }>;
    links: Array<{ link_id: string; nodes: Array<{ node_id: string; adapter_number: number; port_number: number }> }>;
    drawings: unknown[];
  };
}

interface Iface {
  address: string;
  netmask: string;
  gateway?: string;
  hwaddress?: string;
  up: string[];
}

/** Reads the static stanzas of an ifupdown interfaces file (independently of the generator). */
function parseInterfaces(text: string): Map<string, Iface> {
  const out = new Map<string, Iface>();
  let current: Iface | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('auto ')) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'iface') {
      if (rest[1] !== 'inet' || rest[2] !== 'static') throw new Error(`unexpected stanza: ${line}`);
      current = { address: '', netmask: '', up: [] };
      out.set(rest[0]!, current);
    } else if (!current) {
      throw new Error(`option outside a stanza: ${line}`);
    } else if (word === 'address' || word === 'netmask' || word === 'gateway' || word === 'hwaddress') {
      current[word] = rest.join(' ');
    } else if (word === 'up') {
      current.up.push(rest.join(' '));
    } else {
      throw new Error(`option the generator should not write: ${line}`);
    }
  }
  return out;
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
function maskLength(mask: string): number {
  return toInt(mask).toString(2).replace(/0+$/, '').length;
}
function sameSubnet(a: string, b: string, length: number): boolean {
  const m = length === 0 ? 0 : 2 ** 32 - 2 ** (32 - length);
  return Math.floor(toInt(a) / 2 ** (32 - length)) === Math.floor(toInt(b) / 2 ** (32 - length)) && m > 0;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((p) => join(dir, p))
    .filter((p) => statSync(p).isFile())
    .map((p) => relative(dir, p))
    .sort();
}

let work = '';
t.before(() => {
  work = mkdtempSync(join(tmpdir(), 'livmap-gns3-'));
});
t.teardown(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function generateProject(name = 'scenario3'): Promise<{ dir: string; zip: string; topo: Topo; stdout: string }> {
  const dir = join(work, name);
  const zip = join(work, `${name}.gns3project`);
  const run = await livmap(['gns3', '--spec', SPEC_PATH, '--out', dir, '--zip', zip, '--name', name]);
  if (run.code !== 0) throw new Error(`livmap gns3 failed (${run.code}): ${run.stderr}`);
  return { dir, zip, topo: JSON.parse(readFileSync(join(dir, `${name}.gns3`), 'utf8')) as Topo, stdout: run.stdout };
}

t.test('the project file is a GNS3 2.2 topology, and the schema is strict', async (t) => {
  const { topo, stdout } = await generateProject();
  t.match(stdout, /GNS3 2\.2, revision 9/);
  t.ok(validate(topo), JSON.stringify(validate.errors));
  t.equal((topo as unknown as { revision: number }).revision, 9);
  t.ok(topo.topology.nodes.every((n) => n.node_type === 'docker'), 'every node is a Docker node');
  t.ok(topo.topology.drawings.length > 0, 'site labels');

  const mutations: Array<[string, (x: Record<string, any>) => void]> = [
    ['an unknown top-level key', (x) => (x.extra = 1)],
    ['no drawings', (x) => delete x.topology.drawings],
    ['an unknown key in a node', (x) => (x.topology.nodes[0].colour = 'red')],
    ['an unknown Docker property', (x) => (x.topology.nodes[0].properties.privileged = true)],
    ['a Docker node without image', (x) => delete x.topology.nodes[0].properties.image],
    ['a Docker node without node_id', (x) => delete x.topology.nodes[0].node_id],
    ['a link end without port_number', (x) => delete x.topology.links[0].nodes[0].port_number],
    ['revision 10', (x) => (x.revision = 10)],
    ['a node id that is not a UUID', (x) => (x.topology.nodes[0].node_id = 'vm1')],
  ];
  for (const [what, mutate] of mutations) {
    const copy = JSON.parse(JSON.stringify(topo)) as Record<string, any>;
    mutate(copy);
    t.notOk(validate(copy), `refused: ${what}`);
  }
});

t.test('nodes, links and files agree with the spec and with livmap xtr-config', async (t) => {
  const { dir, topo } = await generateProject('consistency');
  const spec = livcloudSpec();
  const byName = new Map(topo.topology.nodes.map((n) => [n.name, n]));
  const byId = new Map(topo.topology.nodes.map((n) => [n.node_id, n]));
  const files = (name: string): string => join(dir, 'project-files', 'docker', byName.get(name)!.node_id);
  const ifaces = (name: string): Map<string, Iface> => parseInterfaces(readFileSync(join(files(name), 'etc/network/interfaces'), 'utf8'));
  t.same([...byName.keys()].sort(), ['cloud-xtr', 'corr-host', 'corr-xtr', 'livmap', 'local-xtr', 'underlay-router', 'vm1']);
  t.equal(new Set(topo.topology.nodes.map((n) => n.node_id)).size, topo.topology.nodes.length, 'node ids are unique');

  // Every node's adapters exist in its interfaces file, and every link joins two existing adapters.
  for (const n of topo.topology.nodes) {
    t.same([...ifaces(n.name).keys()].sort(), Array.from({ length: n.properties.adapters }, (_, i) => `eth${i}`), `${n.name}: one stanza per adapter`);
  }
  const linked = new Map<string, string>(); // "node:ethN" -> "node:ethN" at the other end
  for (const l of topo.topology.links) {
    t.equal(l.nodes.length, 2);
    const [a, b] = l.nodes.map((e) => {
      const node = byId.get(e.node_id);
      t.ok(node, 'link end names a node');
      t.ok(e.adapter_number < (node?.properties.adapters ?? 0), 'adapter exists');
      t.equal(e.port_number, 0);
      return `${node?.name}:eth${e.adapter_number}`;
    }) as [string, string];
    t.notOk(linked.has(a) || linked.has(b), 'an adapter has one link at most');
    linked.set(a, b);
    linked.set(b, a);
  }
  const peerOf = (end: string): string | undefined => linked.get(end);
  // Linked interfaces share a subnet (except the VM port, where the gateway is a /32).
  for (const [a, b] of linked) {
    const [an, ai] = a.split(':') as [string, string];
    const [bn, bi] = b.split(':') as [string, string];
    const ia = ifaces(an).get(ai)!;
    const ib = ifaces(bn).get(bi)!;
    const len = Math.min(maskLength(ia.netmask), maskLength(ib.netmask));
    t.ok(sameSubnet(ia.address, ib.address, len), `${a} ${ia.address} and ${b} ${ib.address} share a /${len}`);
  }

  // The Map-Server: its address and the livmap config from the same spec.
  const ms = ifaces('livmap').get('eth0')!;
  t.equal(ms.address, (spec.mapServers as string[])[0]);
  t.equal(byName.get('livmap')!.properties.image, 'livmap/livmap');
  t.equal(byName.get('livmap')!.properties.start_command, 'serve --config /etc/livmap/livmap.json');
  const livmapJson = JSON.parse(readFileSync(join(files('livmap'), 'etc/livmap/livmap.json'), 'utf8')) as Record<string, unknown>;
  const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, 'livmap.json'), 'utf8')) as Record<string, unknown>;
  t.same(livmapJson.sites, golden.sites, 'sites, keys and prefixes as livmap xtr-config writes them');
  t.same(livmapJson.lisp, golden.lisp);
  t.equal(livmapJson.dataDir, '/var/lib/livmap', 'data in the persisted volume');
  t.same(livmapJson.api, { listen: '0.0.0.0:8080' }, 'operator API reachable from the lab');
  t.same(byName.get('livmap')!.properties.extra_volumes, ['/etc/livmap', '/var/lib/livmap']);
  t.ok(ms.gateway && peerOf('livmap:eth0')?.startsWith('underlay-router:'), 'the MS hangs off the router');
  t.equal(ifaces('underlay-router').get(peerOf('livmap:eth0')!.split(':')[1]!)!.address, ms.gateway, 'and routes through it');

  // Each site's xTR: RLOC, gateway, OOR configs identical to livmap xtr-config's.
  for (const site of spec.sites) {
    const xtr = site.xtrs[0]!;
    const name = xtr.name as string;
    const node = byName.get(name)!;
    t.equal(node.properties.image, 'livmap/oor-xtr');
    t.same(node.properties.extra_volumes, ['/etc/oor']);
    const eth0 = ifaces(name).get('eth0')!;
    t.equal(eth0.address, xtr.rlocs[0]!.address, `${name}: eth0 is the RLOC`);
    t.equal(`${eth0.address}/${maskLength(eth0.netmask)}`.replace(/\.\d+\//, '.0/'), site.underlay, `${name}: on the site underlay`);
    const routerEnd = peerOf(`${name}:eth0`)!;
    t.match(routerEnd, /^underlay-router:eth\d$/);
    t.equal(ifaces('underlay-router').get(routerEnd.split(':')[1]!)!.address, eth0.gateway, `${name}: default route via the router`);
    const conf = readFileSync(join(files(name), 'etc/oor/oor.conf'), 'utf8');
    t.equal(conf, readFileSync(join(GOLDEN_DIR, `${name}.conf`), 'utf8'), `${name}: oor.conf is the xtr-config file`);
    const parsed = checkOorXtrFile(conf);
    t.same(parsed.problems, []);
    t.same(parsed.conf!.mapServers.map((m) => [m.address, m.key]), [[ms.address, (site.key as { secret: string }).secret]], `${name}: registers with the livmap node and the site key`);
    for (const m of parsed.conf!.databaseMappings) t.same(m.rlocAddresses.map((r) => r.address), [eth0.address], `${name}: ${m.eidPrefix} with the RLOC of eth0`);
  }

  // The VM: its address, its link at the spec site, a port with the same MAC at every site it may run at.
  const vm = spec.vms[0]!;
  const vmIface = ifaces('vm1').get('eth0')!;
  t.equal(vmIface.address, vm.eid);
  const startPort = peerOf('vm1:eth0')!;
  t.match(startPort, /^local-xtr:eth\d$/, 'the VM starts linked to the xTR of its spec site');
  const ports = (vm.mayRunAt as string[]).map((siteName) => {
    const xtrName = spec.sites.find((s) => s.name === siteName)!.xtrs[0]!.name as string;
    const port = [...ifaces(xtrName)].find(([, i]) => i.up.some((r) => r.startsWith(`ip route add ${vm.eid}/32 `)));
    t.ok(port, `${xtrName} has a port for the VM`);
    return { xtrName, eth: port![0], iface: port![1] };
  });
  t.equal(new Set(ports.map((p) => p.iface.hwaddress)).size, 1, 'the same MAC on every site (the VM keeps its ARP entry)');
  // busybox ifup (what GNS3 runs) reads the word after the class as the MAC.
  t.ok(ports.every((p) => /^ether ([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(p.iface.hwaddress ?? '')), 'hwaddress ether MAC');
  t.ok(ports.every((p) => p.iface.address === vmIface.gateway && p.iface.netmask === '255.255.255.255'), 'every VM port is the VM gateway /32');
  t.ok(ports.every((p) => p.iface.up.includes(`ip route add ${vm.eid}/32 dev ${p.eth}`)), 'with a host route to the VM');
  for (const p of ports) {
    for (const where of vm.mayRunAt as string[]) {
      const placed = livcloudSpec();
      placed.vms[0]!.site = where;
      const conf = readFileSync(join(files(p.xtrName), `etc/oor/vm1-at-${where}.conf`), 'utf8');
      const eids = checkOorXtrFile(conf).conf!.databaseMappings.map((m) => m.eidPrefix);
      const home = spec.sites.find((s) => s.xtrs[0]!.name === p.xtrName)!;
      t.same(eids, [home.eidPrefixes[0]!.eid, ...(home.name === where ? [`${vm.eid}/32`] : [])], `${p.xtrName} with the VM at ${where}`);
    }
  }

  // The correspondent host sits on the corr site's EID prefix behind corr-xtr.
  const corr = ifaces('corr-host').get('eth0')!;
  t.equal(peerOf('corr-host:eth0'), 'corr-xtr:eth1');
  t.ok(sameSubnet(corr.address, '172.16.30.0', 24), 'inside the corr EID prefix');
  t.equal(corr.gateway, ifaces('corr-xtr').get('eth1')!.address);
  t.equal(byName.get('underlay-router')!.properties.start_command, 'router');
  t.equal(byName.get('vm1')!.properties.start_command, 'echo 7000');
});

t.test('the portable project unzips (Python zipfile, as GNS3 imports it) to the same project', async (t) => {
  const { dir, zip } = await generateProject('portable');
  const out = join(work, 'unzipped');
  execFileSync(PYTHON, ['-m', 'zipfile', '-t', zip], { stdio: 'pipe' });
  execFileSync(PYTHON, ['-m', 'zipfile', '-e', zip, out], { stdio: 'pipe' });
  const topo = JSON.parse(readFileSync(join(out, 'project.gns3'), 'utf8')) as Topo;
  t.ok(validate(topo), JSON.stringify(validate.errors));
  t.same(topo, JSON.parse(readFileSync(join(dir, 'portable.gns3'), 'utf8')));
  const inZip = listFiles(out).filter((f) => f !== 'project.gns3');
  const inDir = listFiles(dir).filter((f) => f !== 'portable.gns3');
  t.same(inZip, inDir, 'the same project files');
  for (const f of inDir) t.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(dir, f), 'utf8'), f);
  for (const n of topo.topology.nodes) t.ok(existsSync(join(out, 'project-files/docker', n.node_id, 'etc/network/interfaces')), `${n.name}: network config in the zip`);
});

t.test('regenerating gives the same project; bad input is refused before anything is written', async (t) => {
  const a = await generateProject('again');
  const first = readFileSync(a.zip);
  rmSync(a.dir, { recursive: true });
  const b = await generateProject('again');
  t.same(readFileSync(b.zip), first, 'byte-identical zip');
  const missing = await livmap(['gns3', '--spec', SPEC_PATH]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /--spec FILE and --out DIR are required/);
  const bad = await livmap(['gns3', '--spec', SPEC_PATH, '--out', join(work, 'bad'), '--transit', '10.0.0.0/24']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /does not contain the Map-Server 172\.30\.0\.2/);
  t.notOk(existsSync(join(work, 'bad')), 'nothing written');
  t.match((await livmap(['--help'])).stdout, /gns3/, 'listed among the verbs');
});

t.test('specs the lab cannot model are refused with the field named', async (t) => {
  const cases: Array<[string, (s: ReturnType<typeof livcloudSpec>) => void, string, RegExp]> = [
    ['a site without underlay', (s) => delete s.sites[1]!.underlay, 'sites[1].underlay', /give site 'cloud' an "underlay"/],
    ['two Map-Servers', (s) => ((s as Record<string, unknown>).mapServers = ['172.30.0.2', '172.30.0.3']), 'mapServers', /exactly one Map-Server/],
    ['an xTR with two RLOCs', (s) => s.sites[0]!.xtrs[0]!.rlocs.push({ address: '172.16.10.2' }), 'sites[0].xtrs', /exactly one RLOC/],
    ['an interface RLOC', (s) => (s.sites[2]!.xtrs[0]!.rlocs[0] = { interface: 'eth0' }), 'sites[2].xtrs', /exactly one RLOC given by "address"/],
  ];
  for (const [what, mutate, field, problem] of cases) {
    const raw = livcloudSpec();
    mutate(raw);
    try {
      buildLab(raw);
      t.fail(`${what}: accepted`);
    } catch (err) {
      t.ok(err instanceof SpecError, `${what}: SpecError`);
      t.equal((err as SpecError).field, field, `${what}: names ${field}`);
      t.match((err as SpecError).problem, problem);
    }
  }
});

// Every class of bad spec: the error names the field, and the verb writes nothing at all.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xtrConfigVerb } from '../../mapserver/cli/xtr-config.js';
import { generate } from '../../xtr-config/generate.js';
import { SpecError, resolveSpec } from '../../xtr-config/spec.js';
import { livcloudSpec } from './helpers.js';

type Spec = ReturnType<typeof livcloudSpec>;

function errorOf(raw: unknown): SpecError {
  try {
    generate(resolveSpec(raw));
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
  throw new Error('spec was accepted');
}

/** Runs the verb in-process with stdout/stderr captured. */
async function runVerb(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await xtrConfigVerb.run(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const work = mkdtempSync(join(tmpdir(), 'livmap-xtr-errors-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  readonly name: string;
  readonly mutate: (s: Spec) => unknown;
  readonly field: string;
  readonly problem: RegExp;
}

const cases: Case[] = [
  {
    name: 'overlapping EID prefixes across sites',
    mutate: (s) => ((s.sites[1]!.eidPrefixes[0]!.eid = '10.16.0.0/16'), s),
    field: 'sites[1].eidPrefixes[0].eid',
    problem: /10\.16\.0\.0\/16 overlaps 10\.16\.10\.0\/24 of site 'local'/,
  },
  {
    name: 'overlapping EID prefixes within a site',
    mutate: (s) => (s.sites[0]!.eidPrefixes.push({ eid: '10.16.10.128/25' }), s),
    field: 'sites[0].eidPrefixes[1].eid',
    problem: /overlaps 10\.16\.10\.0\/24/,
  },
  {
    name: 'a mobile prefix overlapping a site',
    mutate: (s) => ({ ...s, mobilePrefixes: [{ name: 'mobile', eid: '192.168.20.128/25' }] }),
    field: 'mobilePrefixes[0].eid',
    problem: /overlaps 192\.168\.20\.0\/24 of site 'cloud'/,
  },
  {
    name: 'a VM outside every site prefix and mobile prefix',
    mutate: (s) => ((s.vms[0]!.eid = '10.99.0.1'), s),
    field: 'vms[0].eid',
    problem: /inside no site EID prefix and no mobilePrefixes entry/,
  },
  {
    name: 'a VM EID in another instance ID than its site prefix',
    mutate: (s) => ((s.vms[0]!.iid = 5), s),
    field: 'vms[0].eid',
    problem: /\[5\] 10\.16\.10\.50\/32 lies inside no site/,
  },
  {
    name: 'a VM EID that is a prefix, not one address',
    mutate: (s) => ((s.vms[0]!.eid = '10.16.10.48/30'), s),
    field: 'vms[0].eid',
    problem: /a VM EID is one address \(\/32\)/,
  },
  {
    name: 'two VMs with one EID',
    mutate: (s) => (s.vms.push({ name: 'vm2', eid: '10.16.10.50/32', site: 'cloud' }), s),
    field: 'vms[1].eid',
    problem: /already the EID of vms\[0\]/,
  },
  {
    name: 'a VM naming an unknown site',
    mutate: (s) => ((s.vms[0]!.site = 'mars'), s),
    field: 'vms[0].site',
    problem: /no site is named 'mars'/,
  },
  {
    name: 'a VM whose mayRunAt names an unknown site',
    mutate: (s) => ((s.vms[0]!.mayRunAt = ['local', 'moon']), s),
    field: 'vms[0].mayRunAt[1]',
    problem: /no site is named 'moon'/,
  },
  {
    name: 'a VM running at a site outside its mayRunAt',
    mutate: (s) => ((s.vms[0]!.mayRunAt = ['cloud']), s),
    field: 'vms[0].site',
    problem: /not in the VM's mayRunAt list/,
  },
  {
    name: 'a missing key',
    mutate: (s) => (delete (s.sites[0] as Record<string, unknown>).key, s),
    field: 'sites[0].key',
    problem: /is required/,
  },
  {
    name: 'an empty key secret',
    mutate: (s) => ((s.sites[0]!.key.secret = ''), s),
    field: 'sites[0].key.secret',
    problem: /must not be empty/,
  },
  {
    name: 'an unknown field in an xTR',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.colour = 'blue'), s),
    field: 'sites[0].xtrs[0].colour',
    problem: /is not a known field/,
  },
  {
    name: 'an unknown top-level field',
    mutate: (s) => ({ ...s, mapserver: ['172.30.0.2'] }),
    field: 'mapserver',
    problem: /is not a known field/,
  },
  {
    name: 'an xTR RLOC with neither interface nor address',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.rlocs[0] = { priority: 1, weight: 100 }), s),
    field: 'sites[0].xtrs[0].rlocs[0]',
    problem: /needs an "interface" \(rloc-iface\) or an "address" \(rloc-address\)/,
  },
  {
    name: 'an xTR RLOC with both interface and address',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.rlocs[0]!.interface = 'eth0'), s),
    field: 'sites[0].xtrs[0].rlocs[0]',
    problem: /either "interface" or "address", not both/,
  },
  {
    name: 'an xTR without RLOCs',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.rlocs = []), s),
    field: 'sites[0].xtrs[0].rlocs',
    problem: /fewer than 1 items/,
  },
  {
    name: 'an OOR xTR given an HMAC-SHA-256 key',
    mutate: (s) => ((s.sites[1]!.key.alg = 'hmac-sha256'), s),
    field: 'sites[1].key.alg',
    problem: /OOR 1\.3 supports only hmac-sha1 \(key-type 1\)/,
  },
  {
    name: 'an unknown key algorithm',
    mutate: (s) => ((s.sites[0]!.key.alg = 'md5'), s),
    field: 'sites[0].key.alg',
    problem: /must be one of "hmac-sha1", "hmac-sha256"/,
  },
  {
    name: 'an RLOC address outside the site underlay',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.rlocs[0]!.address = '172.20.20.9'), s),
    field: 'sites[0].xtrs[0].rlocs[0].address',
    problem: /outside the site's underlay 172\.16\.10\.0\/24/,
  },
  {
    name: 'an IPv6 RLOC OOR would ignore',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.rlocs[0] = { address: 'fd00::1' }), s),
    field: 'sites[0].xtrs[0].rlocs[0].address',
    problem: /not a global IPv6 address/,
  },
  {
    name: 'a Map-Server that is not an IP address',
    mutate: (s) => ((s.mapServers = ['ms.example']), s),
    field: 'mapServers[0]',
    problem: /not an IPv4 or IPv6 address/,
  },
  {
    name: 'the same Map-Server twice',
    mutate: (s) => ((s.mapServers = ['2001:db8::2', '2001:DB8:0::2']), s),
    field: 'mapServers[1]',
    problem: /Map-Server '2001:db8::2' is already defined at mapServers\[0\]/,
  },
  {
    name: 'an instance ID beyond OOR\'s 24 bits',
    mutate: (s) => ((s.sites[0]!.eidPrefixes[0]!.iid = 16777216), s),
    field: 'sites[0].eidPrefixes[0].iid',
    problem: /must be <= 16777215/,
  },
  {
    name: 'an EID prefix with host bits set',
    mutate: (s) => ((s.sites[0]!.eidPrefixes[0]!.eid = '10.16.10.1/24'), s),
    field: 'sites[0].eidPrefixes[0].eid',
    problem: /host bits are set/,
  },
  {
    name: 'two xTRs with one name (one file each)',
    mutate: (s) => ((s.sites[1]!.xtrs[0]!.name = 'local-xtr'), s),
    field: 'sites[1].xtrs[0].name',
    problem: /xTR 'local-xtr' is already defined at sites\[0\]\.xtrs\[0\]\.name/,
  },
  {
    name: 'an xTR name that is not a safe file name',
    mutate: (s) => ((s.sites[0]!.xtrs[0]!.name = '../evil'), s),
    field: 'sites[0].xtrs[0].name',
    problem: /must match pattern/,
  },
  {
    name: 'a probe retry interval longer than the probe interval',
    mutate: (s) => ({ ...s, oor: { rlocProbing: { interval: 10, retries: 2, retriesInterval: 20 } } }),
    field: 'oor.rlocProbing.retriesInterval',
    problem: /longer than the probe interval/,
  },
  {
    name: 'a site whose VMs need more keys than livmap allows',
    mutate: (s) => {
      const sites = [s.sites[0]!];
      for (let i = 0; i < 8; i++) {
        sites.push({
          name: `edge${i}`,
          eidPrefixes: [{ eid: `10.${100 + i}.0.0/16` }],
          key: { alg: 'hmac-sha1', secret: `key-${i}` },
          xtrs: [{ name: `edge${i}-xtr`, rlocs: [{ interface: 'eth0' }] }],
        });
      }
      // The VM may run at every one of them, so site local needs all nine keys.
      return { ...s, sites, vms: s.vms.map((vm) => ({ ...vm, mayRunAt: sites.map((x) => x.name) })) };
    },
    field: 'sites[0].key',
    problem: /would need 9 keys .* livmap allows 8/,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const raw = c.mutate(livcloudSpec());
    const err = errorOf(raw);
    t.equal(err.field, c.field, 'names the field');
    t.match(err.problem, c.problem);

    const dir = mkdtempSync(join(work, 'case-'));
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(raw));
    const out = join(dir, 'out');
    const livmapPath = join(dir, 'livmap.json');
    const run = await runVerb(['--spec', specPath, '--out', out, '--livmap-config', livmapPath]);
    t.equal(run.code, 1);
    t.equal(run.stdout, '');
    t.match(run.stderr, `${c.field}: `);
    t.match(run.stderr, /nothing was written/);
    t.notOk(existsSync(out), 'no output directory');
    t.notOk(existsSync(livmapPath), 'no livmap config');
    t.same(readdirSync(dir), ['spec.json']);
  });
}

t.test('an existing output directory is left untouched by a bad spec', async (t) => {
  const dir = mkdtempSync(join(work, 'keep-'));
  const out = join(dir, 'out');
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(livcloudSpec()));
  const first = await runVerb(['--spec', good, '--out', out]);
  t.equal(first.code, 0, first.stderr);
  const before = readdirSync(out).sort();
  t.same(before, ['cloud-xtr.conf', 'corr-xtr.conf', 'local-xtr.conf']);
  const bad = livcloudSpec();
  bad.vms[0]!.site = 'nowhere';
  bad.sites[1]!.xtrs[0]!.name = 'renamed-xtr';
  const badPath = join(dir, 'bad.json');
  writeFileSync(badPath, JSON.stringify(bad));
  const second = await runVerb(['--spec', badPath, '--out', out]);
  t.equal(second.code, 1);
  t.same(readdirSync(out).sort(), before, 'no new file, no temporary left behind');
});

t.test('a spec that is not JSON, or missing', async (t) => {
  const dir = mkdtempSync(join(work, 'json-'));
  const path = join(dir, 'spec.json');
  writeFileSync(path, '{ "mapServers": [');
  const run = await runVerb(['--spec', path, '--out', join(dir, 'out')]);
  t.equal(run.code, 1);
  t.match(run.stderr, /is not valid JSON/);
  const missing = await runVerb(['--spec', join(dir, 'nope.json'), '--out', join(dir, 'out')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read .*ENOENT/);
  t.same(readdirSync(dir), ['spec.json']);
});

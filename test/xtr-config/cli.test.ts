// `node bin/livmap xtr-config …` end to end (the build npm test makes), in a temp working directory.
import t from 'tap';
import { livmap as runLivmap, type CliRun } from '../helpers/cli.js';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GOLDEN_DIR, SPEC_PATH, livcloudSpec } from './helpers.js';

let work = '';

t.before(() => {
  work = mkdtempSync(join(tmpdir(), 'livmap-xtr-cli-'));
});
t.teardown(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function livmap(...args: string[]): Promise<CliRun> {
  return runLivmap(args, { cwd: work });
}

t.test('help and usage errors', async (t) => {
  const help = await livmap('xtr-config', '--help');
  t.equal(help.code, 0, help.stderr);
  t.match(help.stdout, /usage: livmap xtr-config --spec FILE --out DIR \[--livmap-config FILE\]/);
  t.match(help.stdout, /--check/);
  t.match((await livmap('--help')).stdout, /xtr-config/, 'listed among the verbs');
  const noOut = await livmap('xtr-config', '--spec', SPEC_PATH);
  t.equal(noOut.code, 2);
  t.match(noOut.stderr, /--spec FILE and --out DIR are required/);
  const unknown = await livmap('xtr-config', '--bogus');
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /bogus/);
  const checkNothing = await livmap('xtr-config', '--check');
  t.equal(checkNothing.code, 2);
});

t.test('the shipped spec: files equal the golden outputs', async (t) => {
  const out = join(work, 'out');
  const livmapPath = join(work, 'out', 'livmap.json');
  const run = await livmap('xtr-config', '--spec', SPEC_PATH, '--out', out, '--livmap-config', livmapPath);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  t.equal(
    run.stdout,
    [
      `wrote ${join(out, 'local-xtr.conf')}  (xTR local-xtr, site local: 10.16.10.0/24, 10.16.10.50/32)`,
      `wrote ${join(out, 'cloud-xtr.conf')}  (xTR cloud-xtr, site cloud: 192.168.20.0/24)`,
      `wrote ${join(out, 'corr-xtr.conf')}  (xTR corr-xtr, site corr: 172.16.30.0/24)`,
      `wrote ${livmapPath}  (livmap config: 3 sites: local, cloud, corr)`,
      '',
    ].join('\n'),
  );
  t.same(readdirSync(out).sort(), readdirSync(GOLDEN_DIR).sort(), 'no temporaries left');
  for (const name of readdirSync(GOLDEN_DIR)) t.equal(readFileSync(join(out, name), 'utf8'), readFileSync(join(GOLDEN_DIR, name), 'utf8'), name);

  const check = await livmap('xtr-config', '--check', join(out, 'local-xtr.conf'), join(out, 'cloud-xtr.conf'));
  t.equal(check.code, 0, check.stderr);
  t.match(check.stdout, /local-xtr\.conf: ok \(OOR 1\.3 xTR; 1 map-server, 2 database-mapping: 10\.16\.10\.0\/24, 10\.16\.10\.50\/32\)/);
  t.match(check.stdout, /cloud-xtr\.conf: ok/);
});

t.test('moving the VM and regenerating rewrites both files in place', async (t) => {
  const out = join(work, 'move');
  t.equal((await livmap('xtr-config', '--spec', SPEC_PATH, '--out', out)).code, 0);
  const spec = livcloudSpec();
  spec.vms[0]!.site = 'cloud';
  const moved = join(work, 'moved.json');
  writeFileSync(moved, JSON.stringify(spec));
  const run = await livmap('xtr-config', '--spec', moved, '--out', out);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /xTR local-xtr, site local: 10\.16\.10\.0\/24\)/);
  t.match(run.stdout, /xTR cloud-xtr, site cloud: 192\.168\.20\.0\/24, 10\.16\.10\.50\/32\)/);
  t.notMatch(readFileSync(join(out, 'local-xtr.conf'), 'utf8'), /10\.16\.10\.50/);
  t.match(readFileSync(join(out, 'cloud-xtr.conf'), 'utf8'), /eid-prefix = 10\.16\.10\.50\/32/);
});

t.test('a bad spec: exit 1, the field named, nothing written', async (t) => {
  const spec = livcloudSpec();
  spec.sites[0]!.key.alg = 'hmac-sha256';
  const path = join(work, 'bad.json');
  writeFileSync(path, JSON.stringify(spec));
  const out = join(work, 'bad-out');
  const run = await livmap('xtr-config', '--spec', path, '--out', out, '--livmap-config', join(work, 'bad-livmap.json'));
  t.equal(run.code, 1);
  t.equal(run.stdout, '');
  t.match(run.stderr, /sites\[0\]\.key\.alg: xTR 'local-xtr' .* OOR 1\.3 supports only hmac-sha1/);
  t.notOk(existsSync(out));
  t.notOk(existsSync(join(work, 'bad-livmap.json')));
});

t.test('--check reports OOR problems with file and line', async (t) => {
  const path = join(work, 'broken.conf');
  writeFileSync(path, 'operating-mode = xTR\nmap-resolver = { 172.30.0.2 }\nmap-server {\n  address = 172.30.0.2\n  key-type = 2\n  key = k\n}\ncolour = blue\n');
  const run = await livmap('xtr-config', '--check', path);
  t.equal(run.code, 1);
  t.match(run.stderr, `${path}:8: no such option 'colour'`);
  writeFileSync(path, 'operating-mode = xTR\nmap-resolver = { 172.30.0.2 }\nmap-server {\n  address = 172.30.0.2\n  key-type = 2\n  key = k\n}\n');
  const semantic = await livmap('xtr-config', '--check', path);
  t.equal(semantic.code, 1);
  t.match(semantic.stderr, `${path}:3: map-server key-type 2: OOR supports only 1`);
  t.match(semantic.stderr, /no database-mapping/);
});

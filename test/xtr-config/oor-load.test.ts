// Where a real OOR binary is installed, start it with each golden file inside a throwaway network
// namespace that owns the file's RLOC address, and check it gets past config parsing. OOR is
// never built here; without it (or without the rights to make a namespace) the test is skipped.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOorXtrFile } from '../../xtr-config/oor-conf-reader.js';
import { GOLDEN_DIR } from './helpers.js';

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

// OOR's messages when it refuses a config (oor_config_confuse.c / oor_config_functions.c).
const REFUSED = /Parse error|no such option|Check conf file|Wrong Map Server configuration|Only SHA-1|Can't add|Couldn't find config file|Unknown operating mode|Aborting/i;

function skipReason(): string | false {
  if (!onPath('oor')) return 'no oor binary on PATH: skipping the OOR load check';
  if (process.getuid?.() !== 0 || !onPath('unshare') || !onPath('ip')) {
    return 'oor is installed but this test needs root, unshare and ip to give oor a network namespace: skipping the OOR load check';
  }
  return false;
}

t.test('OOR 1.3 loads every generated xTR file', { skip: skipReason() }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'livmap-oor-load-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  for (const name of readdirSync(GOLDEN_DIR).filter((n) => n.endsWith('.conf'))) {
    const text = readFileSync(join(GOLDEN_DIR, name), 'utf8');
    const conf = checkOorXtrFile(text).conf!;
    const rloc = conf.databaseMappings[0]!.rlocAddresses[0]!.address!;
    const gateway = rloc.replace(/\.\d+$/, '.254');
    const path = join(work, name);
    writeFileSync(path, text);
    // OOR takes an rloc-address only when it is the source address towards the interface's gateway.
    const script = [
      'set -e',
      'ip link set lo up',
      // veth rather than dummy: it needs no extra kernel module.
      'ip link add uplink type veth peer name uplink-peer',
      'ip link set uplink-peer up',
      `ip addr add ${rloc}/24 dev uplink`,
      'ip link set uplink up',
      `ip route add default via ${gateway} dev uplink`,
      `exec timeout 5 oor -f ${path}`,
    ].join('\n');
    const run = spawnSync('unshare', ['--net', 'sh', '-c', script], { encoding: 'utf8', timeout: 20000 });
    const output = `${run.stdout}${run.stderr}`;
    t.notMatch(output, REFUSED, `${name}: OOR does not refuse the config`);
    t.equal(run.status, 124, `${name}: OOR keeps running until the timeout stops it`);
    if (run.status !== 124) t.comment(output);
  }
});

// `livmap xtr-config` writes files that carry the sites' shared keys: readable by the owner only.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { livmap } from '../helpers/cli.js';

const SPEC = fileURLToPath(new URL('../../xtr-config/sites/livcloud.json', import.meta.url));

t.test('OOR configs and the livmap config are written 0600', async (t) => {
  const dir = t.testdir();
  const run = await livmap(['xtr-config', '--spec', SPEC, '--out', join(dir, 'oor'), '--livmap-config', join(dir, 'livmap.json')]);
  t.equal(run.code, 0, run.stderr);
  for (const file of ['oor/local-xtr.conf', 'oor/cloud-xtr.conf', 'livmap.json']) {
    t.equal(statSync(join(dir, file)).mode & 0o777, 0o600, file);
  }
  t.match(readFileSync(join(dir, 'oor/local-xtr.conf'), 'utf8'), /key\s*=/, 'the file does hold a key');
});

// On one host, `livmap lig` advertises the host's address as ITR-RLOC; the Map-Resolver keeps
// it to SMR later, on port 4342 — its own socket. Run in a fresh network namespace, so livmap can
// have 127.0.0.1:4342 (and the API 127.0.0.1:8080) to itself: after lig and a move, livmap must
// not receive its own SMR (it would drop it as "SMR sent to the Map-Resolver").
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIVMAP_BIN } from '../helpers/cli.js';
import { DEMO_SITES, TOKEN } from './serve-process.js';

const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0;
const ci = process.env.CI === 'true';

t.test('lig then a move: livmap does not SMR itself', { skip: !canUnshare && !ci ? 'needs root for unshare -n' : false }, async (t) => {
  t.ok(canUnshare, 'unshare -n works (root): required under CI');
  const dir = t.testdir();
  writeFileSync(join(dir, 'livmap.json'), JSON.stringify({
    dataDir: 'data', lisp: { listen: ['127.0.0.1:4342'] }, api: { listen: '127.0.0.1:8080', token: TOKEN }, sites: DEMO_SITES,
  }));
  const script = `
set -e
ip link set lo up
L="node ${LIVMAP_BIN}"
$L serve --config livmap.json --log-level debug > serve.log 2>&1 &
PID=$!
trap 'kill -9 $PID 2>/dev/null || true' EXIT
for i in $(seq 100); do grep -q 'operator API listening' serve.log && break; sleep 0.2; done
$L register --eid 10.16.10.0/24 --rloc 127.0.0.1 --key local-key
$L register --eid 192.168.20.0/24 --rloc 127.0.0.2 --key cloud-key --source 127.0.0.2
$L lig 10.16.10.5
$L move 10.16.10.5 --to cloud --api http://127.0.0.1:8080 --token ${TOKEN} --json > move.json
sleep 2.5
node -e "fetch('http://127.0.0.1:8080/metrics').then((r) => r.text()).then((m) => process.stdout.write(m))" > metrics.txt
kill -TERM $PID
wait $PID
`;
  const run = spawnSync('unshare', ['-n', 'sh', '-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 90_000 });
  t.equal(run.status, 0, 'serve, register, lig, move and stop ran in the namespace');
  if (run.status !== 0) t.comment(`${run.stdout}\n${run.stderr}`);
  const log = readFileSync(join(dir, 'serve.log'), 'utf8');
  const move = JSON.parse(readFileSync(join(dir, 'move.json'), 'utf8')) as { smrs: number; to: string[] };
  t.same(move.to, ['127.0.0.2']);
  t.ok(move.smrs >= 1, 'lig was answered, so the move SMRs its ITR-RLOC (127.0.0.1:4342)');
  const metrics = readFileSync(join(dir, 'metrics.txt'), 'utf8');
  t.match(metrics, /livmap_messages_dropped_total\{reason="filtered"\} [1-9]/, 'that SMR (and its retransmissions) were not sent to ourselves');
  t.notMatch(log, /SMR sent to the Map-Resolver/, 'livmap never received its own SMR');
  t.notMatch(metrics, /livmap_messages_dropped_total\{reason="unexpected"\} [1-9]/);
});

// The Mininet scenario (simulations/mininet/migration.py): `livmap serve` and three real OOR 1.3
// xTRs in Mininet, the VM moving back and forth four times, `livmap oor-update` telling the xTRs.
// Needs root, Debian's mininet, openoverlayrouter, bridge-utils, iputils-ping, curl and dist/
// (`npm test` builds it first; alone: `npm run build && npx tap test/simulations/mininet.test.ts`).
// Under CI=true a machine that cannot run it is a failure: CI must install those packages.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'simulations/mininet/migration.py');
const PYTHON = '/usr/bin/python3'; // Debian's: Mininet is installed for it, not for a pyenv python3
const CI = process.env.CI === 'true';

interface Move {
  move: number;
  direction: string;
  gapS: number;
  moveAt: number;
  relinkedAt: number;
  newXtrUpdatedAt: number;
  oldXtrUpdatedAt: number;
  newXtrUpdate: { xtr: string; exit: number; output: string };
  oldXtrUpdate: { xtr: string; exit: number; output: string };
  apiStatus?: string;
  recovered: boolean;
  outage: { downtimeMs: number; lostProbes: number; censored: boolean; probesSent: number; probesAnswered: number; backAfterMoveDoneMs: number | null };
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (Mininet)';
  if (!existsSync(PYTHON)) return `needs Debian's ${PYTHON}`;
  try {
    execFileSync(PYTHON, [SCRIPT, '--check'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    return stderr.trim().replace(/^mininet scenario: SKIP: /, '') || String(err);
  }
  if (!existsSync(join(ROOT, 'dist/simulations/netns/daemon.js'))) return 'dist/ is missing: run `npm run build`';
  return undefined;
}

const why = whyNot();
// Two series of ~40 s each (Mininet and OOR start-up included) on a loaded 2-core machine.
if (!why) t.setTimeout(300_000);

function run(args: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // SIGTERM lets the script stop Mininet and its processes; it never outlives the test.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

for (const switchover of ['none', 'api'] as const) {
  t.test(`Mininet, real OOR xTRs: 4 moves back and forth, switchover ${switchover}`, {
    skip: why && !CI ? `skipped: ${why}` : false,
    timeout: 150_000,
  }, async (t) => {
    if (why) {
      t.fail(`CI=true but this machine cannot run the Mininet scenario: ${why}`);
      return;
    }
    const out = join(t.testdir(), 'out');
    const gaps = [1, 5, 2, 3];
    const { code, stdout, stderr } = await run(['--moves', '4', '--gaps', gaps.join(','), '--switchover', switchover, '--out', out], 120_000);
    t.comment(stdout.trim());
    t.ok(code === 0 || code === 1, `the scenario ran to the end (exit ${code})\n${stderr}`);
    t.match(stderr, /cleaned up: processes stopped, lm\d+ deleted, Mininet stopped/, 'cleaned up');
    const bridge = /(lm\d+) deleted/.exec(stderr)?.[1];
    if (bridge) t.throws(() => execFileSync('ip', ['link', 'show', bridge], { stdio: 'ignore' }), `bridge ${bridge} is gone`);
    // Every process the run started has `out` in its command line (OOR's config, the logs).
    let leftover = '';
    try {
      leftover = execFileSync('pgrep', ['-af', out], { encoding: 'utf8' });
    } catch {
      // pgrep exits 1 when nothing matches
    }
    t.equal(leftover, '', 'no process of the run is left');
    const file = join(out, 'mininet-moves.json');
    if (!existsSync(file)) {
      t.fail(`no ${file}`);
      return;
    }
    const report = JSON.parse(readFileSync(file, 'utf8')) as { switchover: string; moves: Move[] };
    t.equal(report.switchover, switchover);
    t.same(report.moves.map((m) => m.direction), ['local-to-cloud', 'cloud-to-local', 'local-to-cloud', 'cloud-to-local'], 'four moves, alternating');
    t.same(report.moves.map((m) => m.gapS), gaps);
    for (const m of report.moves) {
      const name = `move ${m.move} ${m.direction}`;
      t.equal(m.newXtrUpdate.exit, 0, `${name}: livmap oor-update of the new site's xTR ${m.newXtrUpdate.xtr} succeeded: ${m.newXtrUpdate.output}`);
      t.equal(m.oldXtrUpdate.exit, 0, `${name}: livmap oor-update of the old site's xTR ${m.oldXtrUpdate.xtr} succeeded: ${m.oldXtrUpdate.output}`);
      if (switchover === 'api') t.equal(m.apiStatus, '200', `${name}: POST /api/v1/moves accepted`);
      t.ok(m.moveAt < m.relinkedAt && m.relinkedAt <= m.newXtrUpdatedAt && m.newXtrUpdatedAt <= m.oldXtrUpdatedAt, `${name}: steps in order`);
      // 1 ms nominal; a loaded 2-core machine stretches node's 1 ms timer.
      t.ok(m.outage.probesSent > m.gapS * 100, `${name}: measured (${m.outage.probesSent} probes sent in its ${m.gapS} s window)`);
      t.ok(m.outage.probesAnswered > 0, `${name}: probes answered in its window`);
      t.ok(m.recovered && !m.outage.censored, `${name}: traffic came back before the next move (${m.outage.downtimeMs} ms lost, ${m.outage.lostProbes} probes)`);
      t.match(stdout, new RegExp(`move +${m.move} ${m.direction} `), `${name} reported`);
    }
    t.equal(code, report.moves.every((m) => m.recovered) ? 0 : 1, 'exit status says whether every move recovered');
  });
}

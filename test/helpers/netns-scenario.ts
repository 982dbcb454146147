// Runs simulations/netns/run.sh (the real-OOR migration scenario) for the netns tests and checks
// what every series must show: each move measured, reported, recovered; namespaces removed.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { CHILD_ENV } from './cli.js';
import { realOorMissing } from './netns.js';
import type { MoveResult } from '../../simulations/results.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN_SH = join(ROOT, 'simulations/netns/run.sh');

export function missing(): string | undefined {
  const base = realOorMissing();
  if (base) return base;
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  try {
    execFileSync('python3', ['-c', 'import socket'], { stdio: 'ignore' });
  } catch {
    return 'needs python3';
  }
  if (!existsSync(join(ROOT, 'dist/simulations/netns/daemon.js'))) return 'no build in dist/ (npm test builds it; or npm run build)';
  return undefined;
}

/** A move as results.json holds it: the shared format's own type. */
export type { MoveResult };
export interface Results {
  format: string;
  xtr: string;
  switchover: string;
  variants: string[];
  moves: MoveResult[];
  summary: Record<string, { moves: number; recovered: number; outageMs: { median: number; p95: number; max: number } }>;
  events: Array<{ type: string; bindingBefore?: { rlocs?: Array<{ address: string }> }; bindingAfter?: { rlocs?: Array<{ address: string }> } }>;
}

function runScenario(args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(RUN_SH, [...args], { env: CHILD_ENV, timeout: timeoutMs, killSignal: 'SIGTERM', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function series(t: Test, name: string, args: readonly string[], expectMoves: number, timeoutMs: number): Promise<Results | undefined> {
  const out = join(t.testdir(), 'out');
  const run = await runScenario([...args, '--out', out], timeoutMs);
  t.comment(`${name}:\n${run.stdout}`);
  // 0: every move recovered; 3: some did not (results written). Anything else: the scenario broke.
  t.ok(run.code === 0 || run.code === 3, `${name}: run.sh completed (exit ${run.code})`, { stderr: run.stderr.slice(-3000) });
  const prefix = /prefix (lvs\d+)/.exec(run.stderr)?.[1];
  t.ok(prefix, 'run.sh named its namespaces');
  if (prefix) t.notMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(`^${prefix}-`, 'm'), 'every namespace it created is gone');
  const file = join(out, 'results.json');
  if (!existsSync(file)) {
    t.fail(`${name}: no results.json`);
    return undefined;
  }
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  t.equal(results.format, 'livmap-migration-results/1');
  t.equal(results.xtr, 'oor', 'real OOR xTRs');
  t.equal(results.moves.length, expectMoves, 'every move measured and reported');
  results.moves.forEach((m, i) => {
    t.equal(m.index, i + 1);
    t.equal(m.direction, i % 2 === 0 ? 'local-to-cloud' : 'cloud-to-local', `move ${i + 1} alternates direction`);
    t.ok(m.probesSent > 100, `move ${m.index}: probed (${m.probesSent} probes in ${m.windowMs} ms)`);
    t.ok(existsSync(join(out, m.timelineSvg)), `move ${m.index}: timeline ${m.timelineSvg}`);
    t.ok(typeof m.steps.newXtrUpdated === 'number', `move ${m.index}: the new xTR was updated`);
    t.ok(
      m.recovered,
      m.recovered
        ? `move ${m.index} (${m.direction}, after ${m.gapS} s): recovered; outage ${m.outageMs} ms, ${m.lostProbes} probes lost, back ${m.backAfterUpdateMs} ms after the new xTR's update`
        : `move ${m.index} (${m.direction}, after ${m.gapS} s): NOT recovered within ${m.windowMs} ms (${m.lostProbes} probes lost)`,
    );
  });
  t.ok(existsSync(join(out, 'comparison.svg')), 'comparison chart');
  for (const [direction, s] of Object.entries(results.summary)) {
    t.comment(`${name} ${direction}: ${s.recovered}/${s.moves} recovered, outage median ${s.outageMs.median} ms, p95 ${s.outageMs.p95}, max ${s.outageMs.max}`);
  }
  return results;
}


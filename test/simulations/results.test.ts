// The common results step (simulations/results.ts): outage, recovery and summaries computed from
// a synthetic probe log, and the files results-cli writes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeSeries, type MoveRecord, type ProbeLog } from '../../simulations/results.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const T0 = 1_800_000_000_000;

/** 1 ms probes from T0 for `ms`, lost where `lost(t)` says (t relative to T0), RTT 0.2 ms otherwise. */
function probeLog(ms: number, lost: (t: number) => boolean): ProbeLog {
  const sendWall: number[] = [];
  const rttMs: Array<number | null> = [];
  for (let i = 0; i < ms; i++) {
    sendWall.push(T0 + i);
    rttMs.push(lost(i) ? null : 0.2);
  }
  return { intervalMs: 1, sendWall, rttMs };
}

// Move 1 at +1000 (outage 1000..1100), move 2 at +3000 (never recovers), move 3 at +5000 (no loss).
const probe = probeLog(7000, (t) => (t >= 1000 && t < 1100) || (t >= 3000 && t < 4950));
const moves: MoveRecord[] = [
  { index: 1, from: 'local', to: 'cloud', gapS: 0, moveAt: T0 + 1000, linkMovedAt: T0 + 1020, newXtrUpdatedAt: T0 + 1090, oldXtrUpdatedAt: T0 + 1095 },
  { index: 2, from: 'cloud', to: 'local', gapS: 2, moveAt: T0 + 3000, newXtrUpdatedAt: T0 + 3050 },
  { index: 3, from: 'local', to: 'cloud', gapS: 2, moveAt: T0 + 5000, newXtrUpdatedAt: T0 + 5010 },
];

t.test('outage, recovery and summaries', async (t) => {
  const { moves: out, summary } = analyzeSeries({ emulator: 'test', xtr: 'oor', switchover: 'register', variants: [], probe, moves });
  t.equal(out.length, 3);
  t.match(out[0], { direction: 'local-to-cloud', recovered: true, lostProbes: 100, outageMs: 100, backAfterUpdateMs: 10, sincePreviousMoveS: null });
  t.same(out[0]!.steps, { linkMoved: 20, newXtrUpdated: 90, oldXtrUpdated: 95 });
  t.match(out[1], { direction: 'cloud-to-local', recovered: false, backAfterUpdateMs: null, sincePreviousMoveS: 2 });
  t.ok(out[1]!.lostProbes >= 1950, 'every probe of its window lost');
  t.ok(out[1]!.windowMs < 2000, 'its window ends before the next move');
  t.match(out[2], { recovered: true, outageMs: 0, lostProbes: 0 });
  t.match(summary['local-to-cloud'], { moves: 2, recovered: 2, notRecovered: [] });
  t.match(summary['cloud-to-local'], { moves: 1, recovered: 0, notRecovered: [2], backAfterUpdateMs: null });
});

t.test('a step a runner wrote as null counts as absent', async (t) => {
  const withNull = [{ ...moves[0]!, newXtrUpdatedAt: null as unknown as number }];
  const { moves: out } = analyzeSeries({ emulator: 'test', xtr: 'oor', switchover: 'register', variants: [], probe, moves: withNull });
  t.equal(out[0]!.backAfterUpdateMs, null);
  t.notOk('newXtrUpdated' in out[0]!.steps);
});

t.test('results-cli writes results.json, timelines and the chart, exit 3 when a move did not recover', async (t) => {
  const cli = join(ROOT, 'dist/simulations/results-cli.js');
  if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` (npm test does it)');
  const dir = t.testdir();
  writeFileSync(join(dir, 'probe.json'), `${JSON.stringify(probe)}\n`);
  writeFileSync(join(dir, 'moves.jsonl'), moves.map((m) => JSON.stringify(m)).join('\n'));
  writeFileSync(join(dir, 'events.jsonl'), `${JSON.stringify({ type: 'livmap-restart', at: T0 + 2000 })}\n`);
  const run = spawnSync(process.execPath, [cli, '--probe', join(dir, 'probe.json'), '--moves', join(dir, 'moves.jsonl'), '--events', join(dir, 'events.jsonl'), '--out', join(dir, 'out')], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  t.equal(run.status, 3, run.stderr);
  t.match(run.stdout, /cloud-to-local: 0\/1 recovered/);
  t.match(run.stdout, /NO \(nothing answered in/);
  const results = JSON.parse(readFileSync(join(dir, 'out/results.json'), 'utf8')) as { format: string; moves: Array<{ timelineSvg: string }>; events: unknown[]; reference: Array<{ kind: string }> };
  t.equal(results.format, 'livmap-migration-results/1');
  t.equal(results.events.length, 1);
  for (const m of results.moves) t.ok(existsSync(join(dir, 'out', m.timelineSvg)), m.timelineSvg);
  t.same(results.reference.map((r) => r.kind).sort(), ['measured-earlier', 'reported', 'reported'], "OOR's figure is measured (earlier), the paper's are reported");
  const chart = readFileSync(join(dir, 'out/comparison.svg'), 'utf8');
  t.match(chart, 'reported: reported in the paper, not measured here');
  t.match(chart, 'measured-earlier: measured in an earlier lab run');
  const height = Number(/height="(\d+)"/.exec(chart)![1]);
  const ys = [...chart.matchAll(/<text [^>]*y="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.ok(Math.max(...ys) < height, 'every text line (the legend too) lies inside the picture');
});

// A short migration scenario: two moves with mobility on, one with it off (TTL scaled), and the
// files `npm run sim` writes.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseArgs, runSimulation, type ModeResult } from '../../simulations/run.js';
import { measureOutage, summarize } from '../../simulations/stats.js';

t.test('downtime and summary arithmetic', async (t) => {
  const probes = Array.from({ length: 100 }, (_, i) => ({ sentAt: i, answeredAt: i >= 40 && i < 50 ? undefined : i + 0.2 }));
  const o = measureOutage(probes, 40, 10);
  t.equal(o.lostProbes, 10);
  t.equal(o.downtimeMs, 10, 'gap 39 -> 50 minus the 1 ms spacing');
  t.equal(measureOutage(probes.map((p) => ({ ...p, answeredAt: p.sentAt + 0.2 })), 40, 10).downtimeMs, 0, 'no loss, no downtime');
  t.same([o.gapFromMs, o.gapToMs, o.censored], [-1, 10, false]);
  const tail = measureOutage(probes.map((p) => (p.sentAt >= 60 ? { sentAt: p.sentAt } : p)), 40, 10);
  t.ok(tail.censored, 'nothing answered after the outage began: censored');
  t.equal(tail.downtimeMs, 40, 'counted up to the last probe sent');
  // The sender stalled for 30 ms (no probe sent) but lost nothing: no downtime.
  const stalled = probes.map((p) => ({ sentAt: p.sentAt < 60 ? p.sentAt : p.sentAt + 30, answeredAt: p.sentAt + 0.2 + (p.sentAt < 60 ? 0 : 30) }));
  t.equal(measureOutage(stalled, 40, 10).downtimeMs, 0, 'a sender stall is not lost traffic');
  t.same(summarize([5, 1, 3, 2, 4]), { count: 5, mean: 3, median: 3, p95: 5, min: 1, max: 5 });
  t.equal(summarize([1, 2, 3, 4]).median, 2.5);
  t.same(parseArgs(['--runs', '3', '--out', 'x']), { runs: 3, outDir: 'x', offRuns: 3 });
  t.throws(() => parseArgs(['--modes', 'sideways']));
});

t.test('short scenario: results.json and SVGs with sane values', async (t) => {
  const outDir = t.testdir();
  const { modes, results } = await runSimulation({ runs: 2, offRuns: 1, offTimeScale: 0.005, modes: ['on', 'off'], outDir });
  const on = modes.find((m) => m.mode === 'on') as ModeResult;
  const off = modes.find((m) => m.mode === 'off') as ModeResult;

  t.equal(on.downtimeMs.length, 2);
  t.ok(on.smrsReceivedByCorr >= 2, 'the correspondent got an SMR in every mobility-on run');
  t.ok(on.summary.median >= 0 && on.summary.median < 250, `mobility on: ${on.summary.median} ms, well under the scaled TTL`);
  t.equal(off.smrsReceivedByCorr, 0, 'no SMR with mobility off');
  t.equal(off.timeScale, 0.005);
  t.ok(off.downtimeMs[0]! > on.summary.median, `mobility off (${off.downtimeMs[0]} ms at TTL 300 ms) loses more than on`);
  t.ok(off.downtimeMs[0]! < 300 + 250, 'but no more than the scaled TTL plus a resolution');
  t.ok(off.extrapolated && off.extrapolated.summary.median > off.summary.median, 'extrapolated to the real TTL, labelled');
  t.match(off.extrapolated?.label, /EXTRAPOLATED/);
  t.match(off.notes.join(' '), /SCALED TTL/);

  const json = JSON.parse(await readFile(join(outDir, 'results.json'), 'utf8')) as {
    modes: Array<{ mode: string; summary: { median: number; mean: number; p95: number } }>;
    reported: Array<{ status: string }>;
    runs: Array<{ downtimeMs: number; timeline: { t: number[]; rttMs: Array<number | null> }; timelineSvg: string }>;
  };
  t.same(json.modes.map((m) => m.mode), ['on', 'off']);
  for (const m of json.modes) t.ok(Number.isFinite(m.summary.median) && Number.isFinite(m.summary.mean) && Number.isFinite(m.summary.p95), `${m.mode}: mean, median, p95`);
  t.ok(json.reported.some((r) => r.status === 'reported, not measured'), 'the paper figures are labelled as reported');
  t.equal(json.runs.length, 3);
  for (const run of json.runs) {
    t.ok(run.timeline.t.length > 50 && run.timeline.t.length === run.timeline.rttMs.length, 'per-run timeline');
    t.ok(run.timeline.rttMs.some((r) => r !== null), 'answered probes in the timeline');
  }
  t.same(results.modes, json.modes);

  const svgs = [join(outDir, 'downtime-comparison.svg'), ...(await readdir(join(outDir, 'timelines'))).map((f) => join(outDir, 'timelines', f))];
  t.equal(svgs.length, 4);
  for (const file of svgs) {
    const text = await readFile(file, 'utf8');
    t.ok(text.startsWith('<?xml') && text.includes('<svg xmlns="http://www.w3.org/2000/svg"') && text.trimEnd().endsWith('</svg>'), `${file.slice(outDir.length + 1)} is an SVG document`);
    t.notMatch(text, /NaN|undefined/, 'no NaN/undefined coordinates');
  }
  const chart = await readFile(svgs[0]!, 'utf8');
  t.match(chart, /reported,/);
  t.match(chart, /not measured/);
});

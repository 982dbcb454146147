// The loopback migration scenario as users run it: one lab per mode, the VM moving back and forth
// (4 moves, 1 s apart) with mobility on and off (TTL scaled), and the files `npm run sim` writes
// (the shared results format of every emulator).
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseArgs, runSimulation, summaryTable, type SeriesResult } from '../../simulations/run.js';
import { measureOutage, summarize } from '../../simulations/stats.js';

t.test('downtime and summary arithmetic, arguments', async (t) => {
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
  t.same(parseArgs(['--moves', '4', '--gaps', '1,2.5', '--out', 'x']), { moves: 4, gapsS: [1, 2.5], outDir: 'x' });
  t.throws(() => parseArgs(['--modes', 'sideways']));
  t.throws(() => parseArgs(['--gaps', '1,0']), /positive/);
  t.throws(() => parseArgs(['--runs', '3']), /--moves/, 'the old one-move-per-lab option is refused, not ignored');
});

interface ResultsJson {
  format: string;
  emulator: string;
  label: string;
  variants: string[];
  summary: Record<string, { moves: number; recovered: number }>;
  moves: Array<{ index: number; direction: string; gapS: number; recovered: boolean; outageMs: number; lostProbes: number; timelineSvg: string }>;
  extrapolated?: { kind: string; label: string; moves: Array<{ index: number; outageMs: number }> };
  reference: Array<{ kind: string }>;
}

t.test('a back-and-forth series per mode: every move measured and reported, mobility on recovers, off loses more', async (t) => {
  const outDir = t.testdir();
  const { series, allRecovered } = await runSimulation({ moves: 4, gapsS: [1], offTimeScale: 0.005, modes: ['on', 'off'], outDir });
  const on = series.find((s) => s.mode === 'on') as SeriesResult;
  const off = series.find((s) => s.mode === 'off') as SeriesResult;
  const directions = ['local-to-cloud', 'cloud-to-local', 'local-to-cloud', 'cloud-to-local'];

  for (const s of [on, off]) {
    t.same(s.moves.map((m) => m.direction), directions, `${s.mode}: the VM went back and forth in one lab`);
    t.same(s.moves.map((m) => m.gapS), [0, 1, 1, 1]);
    for (const m of s.moves.slice(1)) t.ok(m.sincePreviousMoveS !== null && m.sincePreviousMoveS >= 0.95, `${s.mode} move ${m.index}: ${m.sincePreviousMoveS} s after the previous one`);
    for (const m of s.moves) t.ok(m.probesSent > 100 && Number.isFinite(m.outageMs) && m.outageMs >= 0, `${s.mode} move ${m.index} measured: ${m.outageMs} ms, ${m.lostProbes} lost of ${m.probesSent}`);
  }
  for (const m of on.moves) {
    t.ok(m.recovered, `mobility on, move ${m.index} (${m.direction}) recovered: ${m.outageMs} ms`);
    t.ok(m.outageMs < 250, `mobility on, move ${m.index}: ${m.outageMs} ms, well under a TTL`);
    t.equal(m.lostAfterRecovery === null || m.lostAfterRecovery === 0, true, `move ${m.index}: nothing lost once traffic was back (no flip back)`);
  }
  for (const f of on.facts) t.ok(f.smrsReceivedByCorr >= 1, `mobility on, move ${f.index}: the correspondent got an SMR`);
  t.same(Object.fromEntries(Object.entries(on.summary).map(([d, s]) => [d, [s.moves, s.recovered]])), { 'local-to-cloud': [2, 2], 'cloud-to-local': [2, 2] });

  t.equal(off.facts.reduce((a, f) => a + f.smrsReceivedByCorr, 0), 0, 'no SMR with mobility off');
  for (const m of off.moves) {
    t.ok(m.recovered, `mobility off, move ${m.index} recovered once the scaled TTL ran out: ${m.outageMs} ms`);
    t.ok(m.outageMs < 300 + 250, `mobility off, move ${m.index}: no more than the scaled TTL (300 ms) plus a resolution`);
  }
  const median = (s: SeriesResult): number => summarize(s.moves.map((m) => m.outageMs)).median;
  t.ok(median(off) > median(on), `mobility off (median ${median(off)} ms at TTL 300 ms) loses more than on (${median(on)} ms)`);
  t.ok(off.extrapolated, 'the off series carries extrapolated figures');
  t.match(off.extrapolated?.label, /EXTRAPOLATED.*not measured/);
  t.equal(off.extrapolated?.moves.length, 4, 'one extrapolated figure per recovered move');
  for (const x of off.extrapolated?.moves ?? []) t.ok(x.outageMs >= off.moves[x.index - 1]!.outageMs, 'scaling the TTL back up never shrinks an outage');
  t.match(off.notes.join(' '), /SCALED TTL/);
  t.equal(allRecovered, true);
  t.match(summaryTable(series), /\| mobility OFF, TTL x0\.005 \(measured\) \| cloud-to-local \| 2 \| 2 \|/);

  // The shared results format, per mode, and the chart of all modes.
  for (const s of [on, off]) {
    const json = JSON.parse(await readFile(join(outDir, s.mode, 'results.json'), 'utf8')) as ResultsJson;
    t.equal(json.format, 'livmap-migration-results/1');
    t.equal(json.emulator, 'loopback');
    t.same(json.moves.map((m) => [m.index, m.direction, m.recovered]), s.moves.map((m) => [m.index, m.direction, m.recovered]));
    t.same(json.reference.map((r) => r.kind).sort(), ['measured-earlier', 'reported', 'reported'], "the paper's figures are labelled reported");
    t.same((await readdir(join(outDir, s.mode, 'timelines'))).sort(), ['move-1.svg', 'move-2.svg', 'move-3.svg', 'move-4.svg']);
    for (const m of json.moves) t.equal(m.timelineSvg, `timelines/move-${m.index}.svg`);
  }
  const offJson = JSON.parse(await readFile(join(outDir, 'off', 'results.json'), 'utf8')) as ResultsJson;
  t.ok(offJson.variants.includes('map-cache-ttl-scaled-x0.005'), 'the scaled TTL is named in the results');
  t.equal(offJson.extrapolated?.kind, 'extrapolated');

  const svgs = [join(outDir, 'comparison.svg'), ...['on', 'off'].flatMap((mode) => [join(outDir, mode, 'comparison.svg'), ...[1, 2, 3, 4].map((i) => join(outDir, mode, 'timelines', `move-${i}.svg`))])];
  for (const file of svgs) {
    const text = await readFile(file, 'utf8');
    t.ok(text.startsWith('<?xml') && text.includes('<svg xmlns="http://www.w3.org/2000/svg"') && text.trimEnd().endsWith('</svg>'), `${file.slice(outDir.length + 1)} is an SVG document`);
    t.notMatch(text, /NaN|undefined/, 'no NaN/undefined coordinates');
  }
  const chart = await readFile(join(outDir, 'comparison.svg'), 'utf8');
  t.match(chart, 'reported: reported in the paper, not measured here');
  t.match(chart, 'measured: measured in this run');
  t.match(chart, 'extrapolated: extrapolated from measured scaled-TTL runs, not measured');
  t.match(await readFile(join(outDir, 'on', 'timelines', 'move-2.svg'), 'utf8'), /move 2: cloud-to-local .*measured: outage/);
});

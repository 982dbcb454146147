// `npm run sim -- --moves N --gaps S,S,... --out DIR`: the migration scenario on loopback, the VM
// moving back and forth within one lab per mode; every mode's series goes through the shared
// results step (results.ts): DIR/<mode>/results.json, timelines/move-N.svg, comparison.svg, and
// DIR/comparison.svg puts the modes side by side.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeSeries, REFERENCE_BARS, writeSeriesResults, type DirectionSummary, type ExtrapolatedResult, type MoveResult, type SeriesInput } from './results.js';
import { ListenError } from '../mapserver/compose/service.js';
import { runSeries, type MoveFacts, type SeriesOptions, type SeriesRun } from './scenario.js';
import { round } from './stats.js';
import { barChartSvg, type Bar } from './svg.js';

export type Mode = 'on' | 'on-warm' | 'off';

export interface SimulationOptions {
  readonly moves: number;
  readonly gapsS: readonly number[];
  readonly offTimeScale: number;
  readonly outDir: string;
  readonly modes: readonly Mode[];
  readonly probeIntervalMs: number;
  readonly keepOldRegisteringMs: number;
  readonly vmTtlMinutes: number;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

/**
 * Gaps 1, 2, 5 s rather than the lab's 1, 5, 30 s: a series per mode then takes ~10 s instead of
 * ~40 s, and a 30 s gap adds nothing on loopback (the emulated xTRs' periodic bursts come every
 * 60 s; `--gaps 1,5,30` runs it). 2 s is inside the window where OOR would retry an unanswered
 * Map-Register (1.8-3.3 s), an edge case of the server's burst rule worth exercising.
 */
export const DEFAULT_SIMULATION: SimulationOptions = {
  moves: 6,
  gapsS: [1, 2, 5],
  offTimeScale: 0.01,
  outDir: 'sim-results',
  modes: ['on', 'on-warm', 'off'],
  probeIntervalMs: 1,
  keepOldRegisteringMs: 0,
  vmTtlMinutes: 1,
};

const MODE_TEXT: Record<Mode, string> = {
  on: 'livmap, mobility ON (SMRs to requesters)',
  'on-warm': 'livmap, mobility ON, cloud xTR already caches the correspondent before move 1',
  off: 'livmap, mobility OFF (no SMRs: ITRs wait for the map-cache TTL)',
};

function modeLabel(mode: Mode, o: SimulationOptions): string {
  if (mode === 'off') return `mobility OFF, TTL x${o.offTimeScale}`;
  return mode === 'on' ? 'mobility ON' : 'mobility ON, warm';
}

function scaledTtlMs(o: SimulationOptions): number {
  return o.vmTtlMinutes * 60_000 * o.offTimeScale;
}

function seriesOptions(mode: Mode, o: SimulationOptions): Partial<SeriesOptions> {
  const base = { moves: o.moves, gapsS: o.gapsS, probeIntervalMs: o.probeIntervalMs, keepOldRegisteringMs: o.keepOldRegisteringMs, vmTtlMinutes: o.vmTtlMinutes };
  if (mode === 'off') {
    const ttlMs = scaledTtlMs(o);
    // Each move falls anywhere in the correspondent's TTL cycle; the last one is probed for a whole TTL and more.
    return { ...base, mobility: false, timeScale: o.offTimeScale, preMoveJitterMs: ttlMs, gapJitterMs: ttlMs, maxPostMoveMs: ttlMs + 3000 };
  }
  return { ...base, mobility: true, timeScale: 1, warmCloudCache: mode === 'on-warm' };
}

/**
 * Mobility off, per recovered move: the part of the outage spent waiting for the correspondent's
 * cache entry to expire, scaled back to the real TTL; the rest (resolution) kept as measured.
 */
function extrapolate(outageMs: number, facts: MoveFacts, scale: number): number | undefined {
  const remaining = facts.corrCacheAtMove?.remainingTtlMs;
  if (remaining === undefined) return undefined;
  const ttlPart = Math.min(Math.max(0, remaining), outageMs);
  return outageMs - ttlPart + ttlPart / scale;
}

export interface SeriesResult {
  readonly mode: Mode;
  readonly description: string;
  readonly label: string;
  /** Where this series' results.json, timelines and chart are. */
  readonly dir: string;
  readonly moves: readonly Omit<MoveResult, 'timelineSvg'>[];
  readonly summary: Readonly<Record<string, DirectionSummary>>;
  readonly extrapolated?: ExtrapolatedResult;
  readonly facts: readonly MoveFacts[];
  readonly totals: SeriesRun['totals'];
  readonly notes: readonly string[];
  readonly table: string;
  /** The results.json written for this series. */
  readonly results: Record<string, unknown>;
}

export interface SimulationResult {
  readonly series: readonly SeriesResult[];
  readonly files: readonly string[];
  /** Every move of every series recovered. */
  readonly allRecovered: boolean;
}

export async function runSimulation(partial: Partial<SimulationOptions> = {}): Promise<SimulationResult> {
  const o: SimulationOptions = { ...DEFAULT_SIMULATION, ...partial };
  const log = o.log ?? ((): void => {});
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const series: SeriesResult[] = [];

  for (const mode of o.modes) {
    log(`${mode}: ${o.moves} moves, gaps ${o.gapsS.join(',')} s${mode === 'off' ? `, map-cache TTLs x${o.offTimeScale}` : ''}`);
    const run = await runSeries(seriesOptions(mode, o));
    const variants = [`mobility-${mode}`, ...(mode === 'off' ? [`map-cache-ttl-scaled-x${o.offTimeScale}`] : []), ...(o.keepOldRegisteringMs > 0 ? [`old-xtr-keeps-registering-${o.keepOldRegisteringMs}ms`] : [])];
    const input: SeriesInput = {
      emulator: 'loopback',
      xtr: 'emulated',
      switchover: 'register',
      variants,
      label: modeLabel(mode, o),
      probe: run.probe,
      moves: run.moves,
      events: run.events,
      probeEndAt: run.probeEndAt,
    };
    const notes: string[] = [];
    let withExtrapolation = input;
    if (mode === 'off') {
      const { moves } = analyzeSeries(input);
      const outageMsByMove: Record<number, number> = {};
      for (const m of moves) {
        const facts = run.facts.find((f) => f.index === m.index);
        const value = m.recovered && facts ? extrapolate(m.outageMs, facts, o.offTimeScale) : undefined;
        if (value !== undefined) outageMsByMove[m.index] = round(value);
      }
      withExtrapolation = {
        ...input,
        extrapolated: {
          label: `EXTRAPOLATED to a ${o.vmTtlMinutes}-minute TTL (not measured)`,
          barLabel: `mobility OFF, ${o.vmTtlMinutes}-min TTL`,
          method: "per recovered move: outage - r + r / timeScale, where r = min(outage, remaining TTL of the correspondent's cache entry at the move); a move right after a refresh loses the whole TTL",
          outageMsByMove,
        },
      };
      notes.push(
        `MEASURED WITH SCALED TTL: xTR map-cache TTLs x${o.offTimeScale} (VM /32 TTL ${o.vmTtlMinutes} min -> ${round(scaledTtlMs(o))} ms), each gap plus a random 0-${round(scaledTtlMs(o))} ms; ` +
          'the outages are measured with that TTL, the extrapolated figures scale the TTL-expiry part back to real minutes.',
      );
      if (Math.min(...o.gapsS) * 1000 <= scaledTtlMs(o)) notes.push('some gap is not longer than the scaled TTL: a move may not recover before the next one');
    }
    const dir = join(outDir, mode);
    const written = await writeSeriesResults(withExtrapolation, dir);
    files.push(...written.files);
    const { moves, summary } = analyzeSeries(withExtrapolation);
    const smrs = run.facts.reduce((a, f) => a + f.smrsReceivedByCorr, 0);
    if (mode !== 'off') {
      const without = run.facts.filter((f) => f.smrsReceivedByCorr === 0).map((f) => f.index);
      if (without.length) notes.push(`no SMR reached the correspondent after move(s) ${without.join(', ')}`);
    }
    if (mode === 'off' && smrs > 0) notes.push('SMRs arrived although mobility was switched off: the server ignored mobility.enabled=false');
    const notRecovered = moves.filter((m) => !m.recovered).map((m) => m.index);
    if (notRecovered.length) notes.push(`NOT RECOVERED: move(s) ${notRecovered.join(', ')}`);
    const extrapolated = written.results.extrapolated as ExtrapolatedResult | undefined;
    series.push({
      mode,
      description: MODE_TEXT[mode],
      label: modeLabel(mode, o),
      dir,
      moves,
      summary,
      ...(extrapolated ? { extrapolated } : {}),
      facts: run.facts,
      totals: run.totals,
      notes,
      table: written.table,
      results: written.results,
    });
    for (const m of moves) {
      log(`${mode} move ${m.index} ${m.direction} (gap ${m.gapS} s): ${m.recovered ? `outage ${m.outageMs} ms` : `NOT RECOVERED in ${m.windowMs} ms`}, ${m.lostProbes} probes lost`);
    }
  }

  const chart = join(outDir, 'comparison.svg');
  await writeFile(chart, barChartSvg(`Lost traffic per VM move, loopback, ${o.moves} moves back and forth per mode (median, whisker min..max)`, comparisonBars(series, o.vmTtlMinutes)));
  files.push(chart);
  return { series, files, allRecovered: series.every((s) => s.moves.every((m) => m.recovered)) };
}

function comparisonBars(series: readonly SeriesResult[], vmTtlMinutes: number): Bar[] {
  const bars: Bar[] = [];
  const short = (direction: string): string => direction.replace('-to-', ' -> ');
  for (const s of series) {
    for (const [direction, d] of Object.entries(s.summary)) {
      bars.push({
        label: `${s.label.replace(', ', '\n')}\n${short(direction)}`,
        valueMs: Math.max(0.01, d.outageMs.median),
        range: [Math.max(0.01, d.outageMs.min), Math.max(0.01, d.outageMs.max)],
        note: `measured: median of ${d.moves}\n${d.recovered}/${d.moves} recovered`,
        kind: 'measured',
      });
    }
    for (const [direction, d] of Object.entries(s.extrapolated?.summary ?? {})) {
      bars.push({
        label: `mobility OFF\n${vmTtlMinutes}-min TTL\n${short(direction)}`,
        valueMs: Math.max(0.01, d.median),
        range: [Math.max(0.01, d.min), Math.max(0.01, d.max)],
        note: `extrapolated,\nnot measured,\nmedian of ${d.moves}`,
        kind: 'extrapolated',
      });
    }
  }
  return [...bars, ...REFERENCE_BARS];
}

/** Per direction and mode: median, p95, max (ms), as in the README. */
export function summaryTable(series: readonly SeriesResult[]): string {
  const lines = ['| mode | direction | moves | recovered | median | p95 | max |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const s of series) {
    for (const [direction, d] of Object.entries(s.summary)) {
      lines.push(`| ${s.label} (measured) | ${direction} | ${d.moves} | ${d.recovered} | ${d.outageMs.median} ms | ${d.outageMs.p95} ms | ${d.outageMs.max} ms |`);
    }
    for (const [direction, d] of Object.entries(s.extrapolated?.summary ?? {})) {
      lines.push(`| ${s.extrapolated!.label} | ${direction} | ${d.moves} | | ${round(d.median / 1000, 2)} s | ${round(d.p95 / 1000, 2)} s | ${round(d.max / 1000, 2)} s |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const USAGE = `usage: npm run sim -- [--moves N] [--gaps S,S,...] [--off-time-scale S] [--modes on,on-warm,off]
                      [--probe-interval MS] [--keep-old-registering MS] [--out DIR]

Runs the VM-migration scenario on loopback (livmap in-process, emulated OOR-like xTRs): per mode,
one lab in which the VM moves back and forth (local -> cloud -> local ...), one probe stream.
Writes DIR/<mode>/results.json, DIR/<mode>/timelines/move-N.svg, DIR/<mode>/comparison.svg
(the format every emulator uses, simulations/README.md) and DIR/comparison.svg (all modes).
  --moves N                 moves per mode (default 6)
  --gaps LIST               seconds from one move to the next, cycled (default 1,2,5)
  --off-time-scale S        map-cache TTL scale for mobility OFF (default 0.01: 1 min -> 600 ms)
  --modes LIST              on, on-warm (cloud xTR already caches the correspondent), off
  --probe-interval MS       probe spacing (default 1)
  --keep-old-registering MS the old site's xTR keeps re-registering the VM this long (default 0)
  --out DIR                 output directory (default sim-results)
Exit status 0 when every move recovered, 3 when some did not (the results are written either way).`;

export function parseArgs(argv: readonly string[]): Partial<SimulationOptions> | 'help' {
  const out: { -readonly [K in keyof SimulationOptions]?: SimulationOptions[K] } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const number = (min: number): number => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < min) throw new Error(`${arg} must be a number >= ${min}`);
      return n;
    };
    switch (arg) {
      case '-h': case '--help': return 'help';
      case '--moves': out.moves = Math.floor(number(1)); break;
      case '--gaps': {
        const gaps = value().split(',').map((g) => Number(g.trim()));
        if (gaps.length === 0 || gaps.some((g) => !Number.isFinite(g) || g <= 0)) throw new Error('--gaps must be a comma-separated list of positive seconds');
        out.gapsS = gaps;
        break;
      }
      case '--runs': case '--off-runs': throw new Error(`${arg} is gone: a mode now runs one series of --moves moves back and forth`);
      case '--off-time-scale': out.offTimeScale = number(0.0001); break;
      case '--probe-interval': out.probeIntervalMs = number(1); break;
      case '--keep-old-registering': out.keepOldRegisteringMs = number(0); break;
      case '--out': out.outDir = value(); break;
      case '--modes': {
        const modes = value().split(',').map((m) => m.trim());
        for (const m of modes) if (m !== 'on' && m !== 'on-warm' && m !== 'off') throw new Error(`unknown mode '${m}' (on, on-warm, off)`);
        out.modes = modes as Mode[];
        break;
      }
      default: throw new Error(`unknown argument '${arg}'`);
    }
  }
  return out;
}

async function main(): Promise<number> {
  let options: Partial<SimulationOptions> | 'help';
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { series, files, allRecovered } = await runSimulation({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  for (const s of series) {
    process.stdout.write(`\n== ${s.description} (${s.dir})\n${s.table}`);
    for (const note of s.notes) process.stdout.write(`note: ${note}\n`);
  }
  process.stdout.write(`\n${summaryTable(series)}`);
  process.stdout.write(`wrote ${files.length} files under ${resolve(options.outDir ?? DEFAULT_SIMULATION.outDir)}\n`);
  return allRecovered ? 0 : 3;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // A port we cannot have is the operator's to fix, not a bug: one line, exit 2, as `livmap serve`.
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof ListenError || code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        process.stderr.write(`simulation: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

// `npm run sim -- --runs N --out DIR`: the migration scenario on loopback, N moves per mode,
// results.json + SVG plots in DIR.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runOnce, type RunOptions, type RunResult } from './scenario.js';
import { round, summarize, type Summary } from './stats.js';
import { barChartSvg, timelineSvg, type Bar, type TimelineMarker } from './svg.js';

export type Mode = 'on' | 'on-warm' | 'off';

export interface SimulationOptions {
  readonly runs: number;
  readonly offRuns: number;
  readonly offTimeScale: number;
  readonly outDir: string;
  readonly modes: readonly Mode[];
  readonly probeIntervalMs: number;
  readonly keepOldRegisteringMs: number;
  readonly vmTtlMinutes: number;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

export const DEFAULT_SIMULATION: SimulationOptions = {
  runs: 15,
  offRuns: 15,
  offTimeScale: 0.01,
  outDir: 'sim-results',
  modes: ['on', 'on-warm', 'off'],
  probeIntervalMs: 1,
  keepOldRegisteringMs: 0,
  vmTtlMinutes: 1,
};

/** The paper's figures for its non-LISP scenarios: quoted, never measured here. */
export const REPORTED = [
  { label: 'Paper Scenario 1 (non-LISP)', lostTrafficSeconds: [0.4, 1.0], status: 'reported, not measured' },
  { label: 'Paper Scenario 2 (non-LISP)', lostTrafficSeconds: [0.4, 1.0], status: 'reported, not measured' },
] as const;

/** OOR's own Map-Server, from test/vectors/oor/README.md (OOR 1.3 in netns): quoted, not measured here. */
export const OOR_REFERENCE = { label: "OOR's own Map-Server (VM /32 TTL 1 min)", lostTrafficSeconds: 54.9, runs: 4, status: 'from test/vectors/oor/README.md, not measured here' } as const;

const MODE_TEXT: Record<Mode, string> = {
  on: 'livmap, mobility ON (SMRs to requesters)',
  'on-warm': 'livmap, mobility ON, cloud xTR already caches the correspondent',
  off: 'livmap, mobility OFF (no SMRs: ITRs wait for the map-cache TTL)',
};

function runOptions(mode: Mode, o: SimulationOptions): Partial<RunOptions> {
  const base = { probeIntervalMs: o.probeIntervalMs, keepOldRegisteringMs: o.keepOldRegisteringMs, vmTtlMinutes: o.vmTtlMinutes };
  if (mode === 'off') {
    const ttlMs = o.vmTtlMinutes * 60_000 * o.offTimeScale;
    // The move falls anywhere in the correspondent's TTL cycle; probing must outlast a whole TTL.
    return { ...base, mobility: false, timeScale: o.offTimeScale, preMoveJitterMs: ttlMs, maxPostMoveMs: ttlMs + 3000 };
  }
  return { ...base, mobility: true, timeScale: 1, warmCloudCache: mode === 'on-warm' };
}

/** The TTL-expiry part of an OFF run scaled back to real minutes; the rest (resolution) kept. */
function extrapolate(run: RunResult, scale: number): number | undefined {
  const remaining = run.corrCacheAtMove?.remainingTtlMs;
  if (remaining === undefined) return undefined;
  const ttlPart = Math.min(Math.max(0, remaining), run.downtimeMs);
  return run.downtimeMs - ttlPart + ttlPart / scale;
}

function markers(run: RunResult): TimelineMarker[] {
  const out: TimelineMarker[] = run.serverMoves.map((m) => ({ t: m.t, label: `server: binding moved, ${m.smrs} SMR (${m.t} ms)` }));
  const wanted: Record<string, string> = {
    'corr:smr-received': 'corr: SMR received',
    'corr:cache-updated': 'corr: cache updated',
    'corr:cache-expired': 'corr: cache expired',
    'corr:cache-installed': 'corr: cache installed',
    'cloud:cache-installed': 'cloud: reverse path resolved',
    'cloud:registered': 'cloud: Map-Notify',
  };
  const seen = new Set<string>();
  for (const e of run.events) {
    const key = `${e.xtr}:${e.type}`;
    const label = wanted[key];
    if (!label || seen.has(key) || e.t < 0) continue;
    seen.add(key);
    out.push({ t: e.t, label: `${label} (${e.t} ms)` });
  }
  return out;
}

export interface ModeResult {
  readonly mode: Mode;
  readonly description: string;
  readonly runs: number;
  readonly timeScale: number;
  readonly downtimeMs: number[];
  readonly summary: Summary;
  readonly censoredRuns: number;
  readonly smrsReceivedByCorr: number;
  readonly notes: string[];
  readonly extrapolated?: { readonly label: string; readonly method: string; readonly downtimeMs: number[]; readonly summary: Summary };
}

export interface SimulationResult {
  readonly results: Record<string, unknown>;
  readonly modes: ModeResult[];
  readonly files: string[];
}

export async function runSimulation(partial: Partial<SimulationOptions> = {}): Promise<SimulationResult> {
  const o: SimulationOptions = { ...DEFAULT_SIMULATION, ...partial };
  const log = o.log ?? ((): void => {});
  const outDir = resolve(o.outDir);
  await mkdir(join(outDir, 'timelines'), { recursive: true });
  const files: string[] = [];
  const modes: ModeResult[] = [];
  const perRun: Array<Record<string, unknown>> = [];

  for (const mode of o.modes) {
    const count = mode === 'off' ? o.offRuns : o.runs;
    const runs: RunResult[] = [];
    for (let i = 0; i < count; i++) {
      const run = await runOnce(runOptions(mode, o));
      runs.push(run);
      log(`${mode} run ${i + 1}/${count}: downtime ${run.downtimeMs} ms (${run.outage.lostProbes} probes lost${run.outage.censored ? ', censored' : ''})`);
      const name = `${mode}-${String(i + 1).padStart(2, '0')}.svg`;
      const file = join(outDir, 'timelines', name);
      await writeFile(file, timelineSvg({
        title: `${MODE_TEXT[mode]}, run ${i + 1}: ${run.downtimeMs} ms lost${mode === 'off' ? ` (TTL × ${o.offTimeScale})` : ''}`,
        // Zoom on the outage; results.json keeps every probe.
        points: run.timeline.t.map((t, k) => ({ t, rttMs: run.timeline.rttMs[k] ?? null })).filter((p) => p.t <= Math.max(60, run.outage.gapToMs * 2 + 20)),
        gap: { from: run.outage.gapFromMs, to: run.outage.gapToMs },
        markers: markers(run),
      }));
      files.push(file);
      perRun.push({ mode, run: i + 1, timelineSvg: `timelines/${name}`, ...run });
    }
    const downtimes = runs.map((r) => r.downtimeMs);
    const notes: string[] = [];
    const smrs = runs.reduce((a, r) => a + r.smrsReceivedByCorr, 0);
    if (mode !== 'off' && smrs === 0) notes.push('no SMR reached the correspondent: the server did not apply mobility (option not honoured?)');
    if (mode === 'off' && smrs > 0) notes.push('SMRs arrived although mobility was switched off: the server ignored mobility.enabled=false');
    const result: ModeResult = {
      mode,
      description: MODE_TEXT[mode],
      runs: count,
      timeScale: mode === 'off' ? o.offTimeScale : 1,
      downtimeMs: downtimes,
      summary: mapSummary(summarize(downtimes)),
      censoredRuns: runs.filter((r) => r.outage.censored).length,
      smrsReceivedByCorr: smrs,
      notes,
    };
    if (mode === 'off') {
      const ext = runs.map((r) => extrapolate(r, o.offTimeScale)).filter((v): v is number => v !== undefined).map((v) => round(v));
      notes.push(
        `MEASURED WITH SCALED TTL: xTR map-cache TTLs scaled by ${o.offTimeScale} (VM /32 TTL ${o.vmTtlMinutes} min -> ${round(o.vmTtlMinutes * 60_000 * o.offTimeScale)} ms); ` +
          'downtimeMs are the scaled measurements, the extrapolated block scales the TTL-expiry part back to real minutes.',
      );
      modes.push({
        ...result,
        extrapolated: {
          label: `EXTRAPOLATED to a ${o.vmTtlMinutes}-minute TTL (not measured)`,
          method: 'per run: downtime - r + r / timeScale, where r = min(downtime, remaining TTL of the correspondent\'s cache entry at the move); a move right after a refresh loses the whole TTL (~60 s).',
          downtimeMs: ext,
          summary: mapSummary(summarize(ext)),
        },
      });
    } else {
      modes.push(result);
    }
  }

  const bars: Bar[] = [];
  for (const m of modes) {
    const range: [number, number] = [m.summary.min, m.summary.p95];
    if (m.mode === 'on') bars.push({ label: 'livmap\nmobility ON', valueMs: m.summary.median, range, note: `median of ${m.runs}, measured`, kind: 'measured' });
    if (m.mode === 'on-warm') bars.push({ label: 'livmap ON, new\nsite cache warm', valueMs: m.summary.median, range, note: `median of ${m.runs}, measured`, kind: 'measured' });
    if (m.mode === 'off') {
      bars.push({ label: 'livmap OFF\n(TTL scaled)', valueMs: m.summary.median, range, note: `TTL × ${m.timeScale}, measured`, kind: 'measured' });
      if (m.extrapolated) {
        const s = m.extrapolated.summary;
        bars.push({ label: 'livmap OFF\n(1-min TTL)', valueMs: s.median, range: [s.min, s.p95], note: 'extrapolated,\nnot measured', kind: 'extrapolated' });
      }
    }
  }
  bars.push({ label: "OOR's own MS", valueMs: OOR_REFERENCE.lostTrafficSeconds * 1000, note: 'vectors README,\nnot measured here', kind: 'measured-earlier' });
  for (const r of REPORTED) {
    bars.push({ label: r.label.replace(' (non-LISP)', '\n(non-LISP)'), valueMs: ((r.lostTrafficSeconds[0] + r.lostTrafficSeconds[1]) / 2) * 1000, range: [r.lostTrafficSeconds[0] * 1000, r.lostTrafficSeconds[1] * 1000], note: 'reported,\nnot measured', kind: 'reported' });
  }
  const chart = join(outDir, 'downtime-comparison.svg');
  await writeFile(chart, barChartSvg('Lost traffic per VM move (median; whisker min..p95 or reported range)', bars));
  files.push(chart);

  const results = {
    generatedAt: new Date().toISOString(),
    environment: { node: process.version, platform: process.platform, cpus: cpus().length, transport: 'loopback UDP, livmap in-process, emulated OOR-like xTRs' },
    scenario: {
      description: 'VM 10.16.10.50 (own /32, TTL 1 min) moves from xTR local (10.16.10.0/24, P=0) to xTR cloud (192.168.20.0/24, P=1) while corr (172.16.30.10 behind xTR corr, P=0) probes it every probeIntervalMs; fresh livmap + xTRs per run.',
      downtime: 'longest interval between send times of consecutive answered probes with lost probes between them (from 50 ms before the move), minus the median probe spacing; sender stalls without loss do not count',
      probeIntervalMs: o.probeIntervalMs,
      vmTtlMinutes: o.vmTtlMinutes,
      oldXtrKeepsRegisteringMs: o.keepOldRegisteringMs,
      serverOption: 'startService(config, { logger, mobility: { enabled } }) (ServerOptions.mobility)',
    },
    modes,
    reported: [...REPORTED, OOR_REFERENCE],
    plots: { comparison: 'downtime-comparison.svg', timelines: 'timelines/<mode>-<run>.svg' },
    runs: perRun,
  };
  const file = join(outDir, 'results.json');
  await writeFile(file, JSON.stringify(results, null, 1) + '\n');
  files.push(file);
  return { results, modes, files };
}

function mapSummary(s: Summary): Summary {
  return { count: s.count, mean: round(s.mean), median: round(s.median), p95: round(s.p95), min: round(s.min), max: round(s.max) };
}

const USAGE = `usage: npm run sim -- [--runs N] [--off-runs N] [--off-time-scale S] [--modes on,on-warm,off]
                      [--probe-interval MS] [--keep-old-registering MS] [--out DIR]

Runs the VM-migration scenario on loopback (livmap in-process, emulated xTRs) and writes
DIR/results.json, DIR/downtime-comparison.svg and DIR/timelines/*.svg.
  --runs N                  moves per mobility-ON mode (default 15)
  --off-runs N              moves with mobility OFF (default: --runs)
  --off-time-scale S        map-cache TTL scale for mobility OFF (default 0.01: 1 min -> 600 ms)
  --modes LIST              on, on-warm (cloud xTR already caches the correspondent), off
  --probe-interval MS       probe spacing (default 1)
  --keep-old-registering MS the old xTR keeps re-registering the VM this long (default 0)
  --out DIR                 output directory (default sim-results)`;

export function parseArgs(argv: readonly string[]): Partial<SimulationOptions> | 'help' {
  const out: { -readonly [K in keyof SimulationOptions]?: SimulationOptions[K] } = {};
  let offRunsSet = false;
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
      case '--runs': out.runs = Math.floor(number(1)); break;
      case '--off-runs': out.offRuns = Math.floor(number(0)); offRunsSet = true; break;
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
  if (!offRunsSet && out.runs !== undefined) out.offRuns = out.runs;
  return out;
}

async function main(): Promise<void> {
  let options: Partial<SimulationOptions> | 'help';
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { modes, files } = await runSimulation({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  for (const m of modes) {
    process.stdout.write(`${m.description}: median ${m.summary.median} ms, mean ${m.summary.mean} ms, p95 ${m.summary.p95} ms over ${m.runs} runs${m.mode === 'off' ? ` (TTL × ${m.timeScale})` : ''}\n`);
    if (m.extrapolated) process.stdout.write(`  ${m.extrapolated.label}: median ${round(m.extrapolated.summary.median / 1000, 2)} s\n`);
    for (const note of m.notes) process.stdout.write(`  note: ${note}\n`);
  }
  process.stdout.write(`wrote ${files.length} files under ${resolve(options.outDir ?? DEFAULT_SIMULATION.outDir)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}

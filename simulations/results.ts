// One results format for every emulator (loopback, netns, Mininet, containers/GNS3): a series of
// VM moves measured by one continuous UDP probe stream, turned into results.json, one SVG
// timeline per move and a comparison chart. Scenario runners record only raw facts (probe send
// times and RTTs, when each move started and when each xTR was updated); everything derived
// (outage, lost probes, recovery) is computed here, the same way for all of them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { measureOutage, round, summarize, type Probe } from './stats.js';
import { barChartSvg, timelineSvg, type Bar, type TimelineMarker } from './svg.js';

/** The probe stream: wall-clock send time of every probe (ms since the epoch) and its RTT or null. */
export interface ProbeLog {
  readonly intervalMs: number;
  readonly sendWall: readonly number[];
  readonly rttMs: ReadonlyArray<number | null>;
}

/** What a scenario runner records about one move (times in ms since the epoch). */
export interface MoveRecord {
  readonly index: number;
  readonly from: string;
  readonly to: string;
  /** Seconds since the previous move (0 for the first). */
  readonly gapS: number;
  /** The VM's link starts moving. */
  readonly moveAt: number;
  /** The VM's link is up at the new site. */
  readonly linkMovedAt?: number;
  /** The new site's xTR holds the VM (OOR answered OK to the update, i.e. it has sent its burst). */
  readonly newXtrUpdatedAt?: number;
  /** The old site's xTR no longer holds it (absent: not updated, e.g. the stale case). */
  readonly oldXtrUpdatedAt?: number;
  /** POST /moves answered (switchover api). */
  readonly apiMoveAt?: number;
  /** Anything the runner wants kept with the move. */
  readonly notes?: readonly string[];
}

export interface SeriesEvent {
  readonly type: string;
  readonly at: number;
  readonly [key: string]: unknown;
}

export interface SeriesInput {
  readonly emulator: string;
  readonly xtr: string;
  readonly switchover: string;
  readonly variants: readonly string[];
  readonly probe: ProbeLog;
  readonly moves: readonly MoveRecord[];
  readonly events?: readonly SeriesEvent[];
  /** When probing stopped for the last move's window (default: the last probe). */
  readonly probeEndAt?: number;
  /** Names the series on the chart's bars (default: "<xtr> xTRs, <switchover>"). */
  readonly label?: string;
  /** Figures derived from the measured outages under a stated assumption: kept apart, never "measured". */
  readonly extrapolated?: ExtrapolatedInput;
}

/** E.g. an outage measured with scaled map-cache TTLs, scaled back to the real TTL. */
export interface ExtrapolatedInput {
  readonly label: string;
  /** The chart's short name for these bars (lines split on ", "; default "extrapolated"). */
  readonly barLabel?: string;
  readonly method: string;
  /** Extrapolated outage (ms) per move index; a move without one is left out. */
  readonly outageMsByMove: Readonly<Record<number, number>>;
}

export interface ExtrapolatedResult {
  readonly kind: 'extrapolated';
  readonly label: string;
  readonly method: string;
  readonly moves: ReadonlyArray<{ readonly index: number; readonly direction: string; readonly outageMs: number }>;
  readonly summary: Readonly<Record<string, { readonly moves: number; readonly median: number; readonly p95: number; readonly max: number; readonly min: number }>>;
}

export interface MoveResult {
  readonly index: number;
  readonly direction: string;
  readonly from: string;
  readonly to: string;
  readonly gapS: number;
  /** Measured from the previous move's start (longer than gapS when a move took longer than the gap). */
  readonly sincePreviousMoveS: number | null;
  readonly switchover: string;
  /** Lost traffic (see DEFINITIONS.outageMs); a lower bound when not recovered. */
  readonly outageMs: number;
  readonly lostProbes: number;
  readonly recovered: boolean;
  /**
   * Probes lost after traffic first came back (after the first loss following the move): a
   * binding that flips back and forth shows here; null when nothing was lost or never came back.
   */
  readonly lostAfterRecovery: number | null;
  /** First answered probe after the outage, relative to the new xTR's update; null when not recovered. */
  readonly backAfterUpdateMs: number | null;
  /** Relative to moveAt. */
  readonly gapFromMs: number;
  readonly gapToMs: number;
  readonly windowMs: number;
  readonly probesSent: number;
  readonly probesAnswered: number;
  readonly steps: Readonly<Record<string, number>>;
  readonly notes: readonly string[];
  readonly timelineSvg: string;
}

export interface DirectionSummary {
  readonly moves: number;
  readonly recovered: number;
  readonly notRecovered: readonly number[];
  readonly outageMs: { readonly median: number; readonly p95: number; readonly max: number; readonly min: number };
  readonly backAfterUpdateMs: { readonly median: number; readonly p95: number; readonly max: number } | null;
}

export const DEFINITIONS = {
  outageMs:
    'the longest interval between the send times of two consecutive answered probes with lost probes between them, minus the probe spacing, among the probes sent from 50 ms before the move until the next move (or the end of probing); when no probe is answered after the loss it runs to the end of the window and the move is not recovered',
  recovered: 'a probe sent after the outage was answered within the move window',
  lostAfterRecovery: 'probes lost after the first answered probe that follows the first loss after the move (a binding flipping back shows here)',
  backAfterUpdateMs: "send time of the first answered probe after the outage minus the time the new site's xTR took the VM (OOR answered OK to oor-update: its Map-Register burst has left); negative: traffic came back before that",
  window: 'from 50 ms before the move to the next move (the last move: to the end of probing)',
} as const;

const BEFORE_MS = 50;

function stats(values: readonly number[]): { median: number; p95: number; max: number; min: number } {
  const s = summarize(values);
  return { median: round(s.median), p95: round(s.p95), max: round(s.max), min: round(s.min) };
}

export function directionOf(m: Pick<MoveRecord, 'from' | 'to'>): string {
  return `${m.from}-to-${m.to}`;
}

function withoutNulls(m: MoveRecord): MoveRecord {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null)) as unknown as MoveRecord;
}

/** The outage of every move and a summary per direction (pure). */
export function analyzeSeries(input: SeriesInput): { moves: Omit<MoveResult, 'timelineSvg'>[]; summary: Record<string, DirectionSummary> } {
  const probes: Probe[] = input.probe.sendWall.map((sentAt, i) => {
    const rtt = input.probe.rttMs[i];
    return rtt === null || rtt === undefined ? { sentAt } : { sentAt, answeredAt: sentAt + rtt };
  });
  const lastProbe = probes.length ? probes[probes.length - 1]!.sentAt : 0;
  // A runner may write null for a step that did not happen (e.g. a failed update): same as absent.
  const sorted = [...input.moves].map(withoutNulls).sort((a, b) => a.moveAt - b.moveAt);
  const moves = sorted.map((m, i) => {
    const end = i + 1 < sorted.length ? sorted[i + 1]!.moveAt - BEFORE_MS : (input.probeEndAt ?? lastProbe);
    const inWindow = probes.filter((p) => p.sentAt < end);
    const outage = measureOutage(inWindow, m.moveAt, BEFORE_MS);
    const windowProbes = inWindow.filter((p) => p.sentAt >= m.moveAt - BEFORE_MS);
    const answeredAfter = windowProbes.some((p) => p.answeredAt !== undefined && p.sentAt >= m.moveAt);
    const recovered = !outage.censored && answeredAfter;
    const afterMove = windowProbes.filter((p) => p.sentAt >= m.moveAt);
    const firstLoss = afterMove.findIndex((p) => p.answeredAt === undefined);
    const back = firstLoss < 0 ? -1 : afterMove.findIndex((p, k) => k > firstLoss && p.answeredAt !== undefined);
    const lostAfterRecovery = back < 0 ? null : afterMove.slice(back).filter((p) => p.answeredAt === undefined).length;
    const rel = (t: number | undefined): number | undefined => (t === undefined ? undefined : round(t - m.moveAt));
    const steps: Record<string, number> = {};
    for (const [k, v] of Object.entries({ linkMoved: rel(m.linkMovedAt), apiMove: rel(m.apiMoveAt), newXtrUpdated: rel(m.newXtrUpdatedAt), oldXtrUpdated: rel(m.oldXtrUpdatedAt) })) {
      if (v !== undefined) steps[k] = v;
    }
    const backAfterUpdate = recovered && m.newXtrUpdatedAt !== undefined ? round(m.moveAt + outage.gapToMs - m.newXtrUpdatedAt) : null;
    return {
      index: m.index,
      direction: directionOf(m),
      from: m.from,
      to: m.to,
      gapS: m.gapS,
      sincePreviousMoveS: i > 0 ? round((m.moveAt - sorted[i - 1]!.moveAt) / 1000) : null,
      switchover: input.switchover,
      outageMs: round(outage.downtimeMs),
      lostProbes: windowProbes.filter((p) => p.answeredAt === undefined).length,
      recovered,
      lostAfterRecovery,
      backAfterUpdateMs: backAfterUpdate,
      gapFromMs: round(outage.gapFromMs),
      gapToMs: round(outage.gapToMs),
      windowMs: round(end - m.moveAt),
      probesSent: windowProbes.length,
      probesAnswered: windowProbes.filter((p) => p.answeredAt !== undefined).length,
      steps,
      notes: [...(m.notes ?? [])],
    };
  });
  const summary: Record<string, DirectionSummary> = {};
  for (const direction of [...new Set(moves.map((m) => m.direction))]) {
    const these = moves.filter((m) => m.direction === direction);
    const backs = these.flatMap((m) => (m.backAfterUpdateMs === null ? [] : [m.backAfterUpdateMs]));
    summary[direction] = {
      moves: these.length,
      recovered: these.filter((m) => m.recovered).length,
      notRecovered: these.filter((m) => !m.recovered).map((m) => m.index),
      outageMs: stats(these.map((m) => m.outageMs)),
      backAfterUpdateMs: backs.length ? (({ median, p95, max }) => ({ median, p95, max }))(stats(backs)) : null,
    };
  }
  return { moves, summary };
}

/** The extrapolated figures of a series, per move and per direction (pure). */
export function extrapolatedOf(input: SeriesInput, moves: readonly Pick<MoveResult, 'index' | 'direction'>[]): ExtrapolatedResult | undefined {
  const x = input.extrapolated;
  if (!x) return undefined;
  const per = moves.flatMap((m) => {
    const v = x.outageMsByMove[m.index];
    return v === undefined ? [] : [{ index: m.index, direction: m.direction, outageMs: round(v) }];
  });
  const summary: Record<string, { moves: number; median: number; p95: number; max: number; min: number }> = {};
  for (const direction of [...new Set(per.map((m) => m.direction))]) {
    const these = per.filter((m) => m.direction === direction).map((m) => m.outageMs);
    summary[direction] = { moves: these.length, ...stats(these) };
  }
  return { kind: 'extrapolated', label: x.label, method: x.method, moves: per, summary };
}

/** Figures quoted from elsewhere for the comparison chart: never measured by this series. */
export const REFERENCE_BARS: readonly Bar[] = [
  { label: "OOR's own\nMap-Server", valueMs: 54_900, note: 'measured earlier\n(vectors README, 4 runs)', kind: 'measured-earlier' },
  { label: 'Paper Scenario 1\n(non-LISP)', valueMs: 700, range: [400, 1000], note: 'reported in the paper,\nnot measured', kind: 'reported' },
  { label: 'Paper Scenario 2\n(non-LISP)', valueMs: 700, range: [400, 1000], note: 'reported in the paper,\nnot measured', kind: 'reported' },
];

function timelineFor(input: SeriesInput, m: Omit<MoveResult, 'timelineSvg'>, record: MoveRecord): string {
  const from = record.moveAt - 300;
  const to = record.moveAt + Math.min(m.windowMs, Math.max(600, m.gapToMs + 400));
  const points = input.probe.sendWall.flatMap((t, i) => (t >= from && t <= to ? [{ t: t - record.moveAt, rttMs: input.probe.rttMs[i] ?? null }] : []));
  const markers: TimelineMarker[] = Object.entries(m.steps).map(([k, t]) => ({ t, label: `${k} (${t} ms)` }));
  for (const e of input.events ?? []) {
    const t = e.at - record.moveAt;
    if (t >= from - record.moveAt && t <= to - record.moveAt) markers.push({ t: round(t), label: `${e.type} (${round(t)} ms)` });
  }
  const verdict = m.recovered ? `outage ${m.outageMs} ms, ${m.lostProbes} probes lost` : `NOT RECOVERED within ${m.windowMs} ms (${m.lostProbes} probes lost)`;
  return timelineSvg({
    title: `move ${m.index}: ${m.direction} (${input.emulator}, ${input.xtr} xTRs, switchover ${input.switchover}), measured: ${verdict}`,
    points,
    gap: { from: m.gapFromMs, to: m.gapToMs },
    markers,
  });
}

export interface WrittenResults {
  readonly results: Record<string, unknown>;
  readonly files: readonly string[];
  readonly table: string;
}

/** Writes DIR/results.json, DIR/timelines/move-N.svg and DIR/comparison.svg. */
export async function writeSeriesResults(input: SeriesInput, outDir: string): Promise<WrittenResults> {
  const { moves, summary } = analyzeSeries(input);
  await mkdir(join(outDir, 'timelines'), { recursive: true });
  const files: string[] = [];
  const withSvg: MoveResult[] = [];
  const sortedRecords = [...input.moves].map(withoutNulls).sort((a, b) => a.moveAt - b.moveAt);
  for (const [i, m] of moves.entries()) {
    const name = `timelines/move-${m.index}.svg`;
    await writeFile(join(outDir, name), timelineFor(input, m, sortedRecords[i]!));
    files.push(join(outDir, name));
    withSvg.push({ ...m, timelineSvg: name });
  }
  // A series' own label goes on lines of its own under the direction (bars are ~110 px wide).
  const barLabel = (direction: string, label: string | undefined): string =>
    label === undefined ? `livmap ${direction}\n(${input.xtr} xTRs, ${input.switchover})` : `${direction}\n${label.split(', ').join('\n')}`;
  const bars: Bar[] = Object.entries(summary).map(([direction, s]) => ({
    label: barLabel(direction, input.label),
    valueMs: Math.max(0.01, s.outageMs.median),
    range: [Math.max(0.01, s.outageMs.min), Math.max(0.01, s.outageMs.max)] as const,
    note: `measured: median of ${s.moves}\n${s.recovered}/${s.moves} recovered`,
    kind: 'measured' as const,
  }));
  const extrapolated = extrapolatedOf(input, moves);
  for (const [direction, s] of Object.entries(extrapolated?.summary ?? {})) {
    bars.push({
      label: barLabel(direction, input.extrapolated?.barLabel ?? 'extrapolated'),
      valueMs: Math.max(0.01, s.median),
      range: [Math.max(0.01, s.min), Math.max(0.01, s.max)],
      note: `extrapolated,\nnot measured,\nmedian of ${s.moves}`,
      kind: 'extrapolated',
    });
  }
  const chart = join(outDir, 'comparison.svg');
  await writeFile(chart, barChartSvg(`Lost traffic per VM move, ${input.emulator} (measured: median, whisker min..max)`, [...bars, ...REFERENCE_BARS]));
  files.push(chart);
  const results = {
    format: 'livmap-migration-results/1',
    emulator: input.emulator,
    xtr: input.xtr,
    switchover: input.switchover,
    variants: input.variants,
    probeIntervalMs: input.probe.intervalMs,
    definitions: DEFINITIONS,
    ...(input.label ? { label: input.label } : {}),
    summary,
    ...(extrapolated ? { extrapolated } : {}),
    moves: withSvg,
    events: input.events ?? [],
    reference: REFERENCE_BARS.map((b) => ({ label: b.label.replace('\n', ' '), valueMs: b.valueMs, range: b.range, kind: b.kind, note: b.note.replace('\n', ' ') })),
    comparisonSvg: 'comparison.svg',
  };
  const file = join(outDir, 'results.json');
  await writeFile(file, `${JSON.stringify(results, null, 1)}\n`);
  files.unshift(file);
  const extrapolatedLines = Object.entries(extrapolated?.summary ?? {}).map(
    ([direction, s]) => `${direction}: ${extrapolated!.label}: median ${s.median} ms, p95 ${s.p95}, max ${s.max} (${s.moves} moves)\n`,
  );
  return { results, files, table: formatTable(withSvg, summary) + extrapolatedLines.join('') };
}

export function formatTable(moves: readonly Omit<MoveResult, 'timelineSvg'>[], summary: Record<string, DirectionSummary>): string {
  const lines = ['move direction           gap(s) since-prev(s) outage(ms) lost  back-after-update(ms) recovered'];
  for (const m of moves) {
    lines.push(
      `${String(m.index).padStart(4)} ${m.direction.padEnd(20)} ${String(m.gapS).padStart(6)} ${String(m.sincePreviousMoveS ?? '-').padStart(13)} ${String(m.outageMs).padStart(10)} ${String(m.lostProbes).padStart(5)}  ${String(m.backAfterUpdateMs ?? '-').padStart(21)} ${m.recovered ? 'yes' : `NO (nothing answered in ${m.windowMs} ms)`}`,
    );
  }
  for (const [direction, s] of Object.entries(summary)) {
    const back = s.backAfterUpdateMs ? `; back after update median ${s.backAfterUpdateMs.median} ms, p95 ${s.backAfterUpdateMs.p95}, max ${s.backAfterUpdateMs.max}` : '';
    lines.push(`${direction}: ${s.recovered}/${s.moves} recovered; outage median ${s.outageMs.median} ms, p95 ${s.outageMs.p95}, max ${s.outageMs.max}${back}`);
  }
  return `${lines.join('\n')}\n`;
}

// Summary statistics and the downtime measure shared by the loopback and netns scenarios.

export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile (p in 0..100) of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0 ? Number.NaN : n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return {
    count: n,
    mean: n === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / n,
    median,
    p95: percentile(sorted, 95),
    min: n === 0 ? Number.NaN : sorted[0]!,
    max: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface Probe {
  /** Send time, ms (any monotonic origin shared with `moveAt`). */
  readonly sentAt: number;
  /** Receive time of the answer, or undefined when it never came. */
  answeredAt?: number;
}

export interface Outage {
  /**
   * Lost traffic: the longest interval between the send times of two consecutive answered
   * probes with at least one lost probe between them, minus the median probe spacing (so one
   * lost probe counts ~one spacing). An interval in which the sender simply sent nothing (the
   * process was descheduled) is no loss and does not count.
   */
  readonly downtimeMs: number;
  /** That interval relative to the move: last answered probe before it, first after it. */
  readonly gapFromMs: number;
  readonly gapToMs: number;
  readonly lostProbes: number;
  readonly probesInWindow: number;
  /** No probe was answered after the last loss: the downtime is a lower bound. */
  readonly censored: boolean;
  readonly medianSpacingMs: number;
}

/** The outage in probes sent from `moveAt - beforeMs` on. */
export function measureOutage(probes: readonly Probe[], moveAt: number, beforeMs: number): Outage {
  const window = probes.filter((p) => p.sentAt >= moveAt - beforeMs);
  const spacings: number[] = [];
  for (let i = 1; i < window.length; i++) spacings.push(window[i]!.sentAt - window[i - 1]!.sentAt);
  const medianSpacingMs = spacings.length ? summarize(spacings).median : 0;
  let best = { from: moveAt, to: moveAt, gap: 0 };
  let lastAnswered: number | undefined;
  let lostSince = 0;
  let censored = false;
  for (const p of window) {
    if (p.answeredAt === undefined) {
      lostSince++;
      continue;
    }
    if (lostSince > 0) {
      const from = lastAnswered ?? window[0]!.sentAt;
      if (p.sentAt - from > best.gap) best = { from, to: p.sentAt, gap: p.sentAt - from };
    }
    lastAnswered = p.sentAt;
    lostSince = 0;
  }
  const last = window[window.length - 1];
  if (lostSince > 0 && last) {
    // Nothing answered after the last loss: count up to the last probe sent.
    const from = lastAnswered ?? window[0]!.sentAt;
    if (last.sentAt - from + medianSpacingMs >= best.gap) {
      best = { from, to: last.sentAt, gap: last.sentAt - from + medianSpacingMs };
      censored = true;
    }
  }
  return {
    downtimeMs: best.gap === 0 ? 0 : Math.max(0, best.gap - medianSpacingMs),
    gapFromMs: best.from - moveAt,
    gapToMs: best.to - moveAt,
    lostProbes: window.filter((p) => p.answeredAt === undefined).length,
    probesInWindow: window.length,
    censored,
    medianSpacingMs,
  };
}

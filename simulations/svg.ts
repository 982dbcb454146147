// Hand-written SVG plots (no plotting library): a per-run probe timeline and a log-scale bar chart.

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0';
}

function svg(width: number, height: number, body: string[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** "Nice" tick step for a linear axis spanning `span`. */
function tickStep(span: number, target = 8): number {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

export interface TimelinePoint {
  /** Send time relative to the move, ms. */
  readonly t: number;
  /** Round-trip time in ms, or null for a lost probe. */
  readonly rttMs: number | null;
}

export interface TimelineMarker {
  readonly t: number;
  readonly label: string;
}

/**
 * Probes around the move: answered ones as dots at their RTT, lost ones as red ticks under the
 * axis, the move at t = 0 and the measured gap shaded.
 */
export function timelineSvg(options: {
  readonly title: string;
  readonly points: readonly TimelinePoint[];
  readonly gap?: { readonly from: number; readonly to: number };
  readonly markers?: readonly TimelineMarker[];
}): string {
  const W = 900, H = 360, L = 60, R = 20, T = 40, B = 70;
  const pw = W - L - R, ph = H - T - B;
  const ts = options.points.map((p) => p.t);
  const t0 = Math.min(0, ...ts), t1 = Math.max(1, ...ts);
  const rtts = options.points.flatMap((p) => (p.rttMs === null ? [] : [p.rttMs]));
  const rMax = Math.max(0.1, ...rtts) * 1.1;
  const x = (t: number): number => L + ((t - t0) / (t1 - t0)) * pw;
  const y = (r: number): number => T + ph - (r / rMax) * ph;
  const body: string[] = [`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(options.title)}</text>`];
  if (options.gap && options.gap.to > options.gap.from) {
    body.push(`<rect x="${num(x(options.gap.from))}" y="${T}" width="${num(Math.max(1, x(options.gap.to) - x(options.gap.from)))}" height="${ph}" fill="#fde0dc"/>`);
  }
  body.push(`<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}" stroke="black"/>`);
  body.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${T + ph}" stroke="black"/>`);
  const xs = tickStep(t1 - t0);
  for (let v = Math.ceil(t0 / xs) * xs; v <= t1; v += xs) {
    body.push(`<line x1="${num(x(v))}" y1="${T + ph}" x2="${num(x(v))}" y2="${T + ph + 5}" stroke="black"/>`);
    body.push(`<text x="${num(x(v))}" y="${T + ph + 18}" text-anchor="middle">${num(v)}</text>`);
  }
  const ys = tickStep(rMax, 5);
  for (let v = 0; v <= rMax; v += ys) {
    body.push(`<line x1="${L - 5}" y1="${num(y(v))}" x2="${L}" y2="${num(y(v))}" stroke="black"/>`);
    body.push(`<text x="${L - 8}" y="${num(y(v) + 4)}" text-anchor="end">${num(v)}</text>`);
  }
  body.push(`<text x="${L + pw / 2}" y="${H - 30}" text-anchor="middle">probe send time relative to the move (ms)</text>`);
  body.push(`<text x="15" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 15 ${T + ph / 2})">RTT (ms)</text>`);
  const answered: string[] = [];
  const lost: string[] = [];
  for (const p of options.points) {
    if (p.rttMs === null) lost.push(`M${num(x(p.t))} ${T + ph + 22}v8`);
    else answered.push(`M${num(x(p.t))} ${num(y(p.rttMs))}h0.01`);
  }
  if (answered.length) body.push(`<path d="${answered.join('')}" stroke="#1a7f37" stroke-width="2.5" stroke-linecap="round" fill="none"/>`);
  if (lost.length) body.push(`<path d="${lost.join('')}" stroke="#cf222e" stroke-width="1" fill="none"/>`);
  body.push(`<line x1="${num(x(0))}" y1="${T}" x2="${num(x(0))}" y2="${T + ph}" stroke="#0969da" stroke-dasharray="4 3"/>`);
  body.push(`<text x="${num(x(0) + 4)}" y="${T + 12}" fill="#0969da">move</text>`);
  (options.markers ?? []).forEach((m, i) => {
    body.push(`<line x1="${num(x(m.t))}" y1="${T}" x2="${num(x(m.t))}" y2="${T + ph}" stroke="#8250df" stroke-width="0.7"/>`);
    body.push(`<text x="${num(x(m.t) + 3)}" y="${T + 26 + 13 * (i % 6)}" fill="#8250df" font-size="10">${esc(m.label)}</text>`);
  });
  body.push(`<text x="${L}" y="${H - 8}" font-size="10">green: answered probe at its RTT; red ticks: lost probes; shaded: longest gap in answered probes</text>`);
  return svg(W, H, body);
}

export interface Bar {
  readonly label: string;
  /** The bar height (e.g. the median), ms. */
  readonly valueMs: number;
  /** Whisker (e.g. min..p95, or a reported range), ms. */
  readonly range?: readonly [number, number];
  readonly note: string;
  /**
   * measured: by this run; measured-earlier: in an earlier lab run of this project (not this
   * run); extrapolated: computed from measured runs; reported: quoted from the paper.
   */
  readonly kind: 'measured' | 'measured-earlier' | 'extrapolated' | 'reported';
}

/** Bars on a log10 axis (values from ~0.1 ms to minutes side by side). */
export function barChartSvg(title: string, bars: readonly Bar[]): string {
  const W = Math.max(900, 110 * bars.length + 100), H = 500, L = 80, R = 20, T = 40, B = 190;
  const pw = W - L - R, ph = H - T - B;
  const values = bars.flatMap((b) => [b.valueMs, ...(b.range ?? [])]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(1, ...values))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...values)));
  const y = (v: number): number => T + ph - ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const fill = { measured: '#0969da', 'measured-earlier': '#6e7781', extrapolated: '#9ecbff', reported: '#dddddd' } as const;
  const body: string[] = [`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`];
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const label = v >= 1000 ? `${num(v / 1000)} s` : `${num(v)} ms`;
    body.push(`<line x1="${L}" y1="${num(y(v))}" x2="${L + pw}" y2="${num(y(v))}" stroke="#dddddd"/>`);
    body.push(`<text x="${L - 6}" y="${num(y(v) + 4)}" text-anchor="end">${label}</text>`);
  }
  body.push(`<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}" stroke="black"/>`);
  body.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${T + ph}" stroke="black"/>`);
  body.push(`<text x="18" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${T + ph / 2})">lost traffic per move (log scale)</text>`);
  const slot = pw / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const cx = L + slot * (i + 0.5);
    const bw = Math.min(80, slot * 0.6);
    const top = y(b.valueMs);
    body.push(`<rect x="${num(cx - bw / 2)}" y="${num(top)}" width="${num(bw)}" height="${num(T + ph - top)}" fill="${fill[b.kind]}" stroke="black" stroke-width="0.5"/>`);
    if (b.range) {
      const [a, c] = b.range;
      body.push(`<path d="M${num(cx)} ${num(y(a))}V${num(y(c))}M${num(cx - 8)} ${num(y(a))}h16M${num(cx - 8)} ${num(y(c))}h16" stroke="black" fill="none"/>`);
    }
    const value = b.valueMs >= 1000 ? `${num(b.valueMs / 1000)} s` : `${num(b.valueMs)} ms`;
    body.push(`<text x="${num(cx)}" y="${num(top - 4)}" text-anchor="middle" font-size="11">${esc(value)}</text>`);
    const labelLines = b.label.split('\n');
    [...labelLines, ...b.note.split('\n')].forEach((line, j) => {
      const small = j >= labelLines.length;
      body.push(`<text x="${num(cx)}" y="${T + ph + 16 + j * 13}" text-anchor="middle" font-size="${small ? 9 : 11}"${small ? ' fill="#555555"' : ''}>${esc(line)}</text>`);
    });
  });
  // The legend: one swatch and line per kind present, inside the picture (it used to run off it).
  const legend: Record<Bar['kind'], string> = {
    measured: 'measured in this run (bar: median; whisker as in the title)',
    'measured-earlier': 'measured in an earlier lab run of this project, not in this run',
    extrapolated: 'extrapolated from measured scaled-TTL runs, not measured',
    reported: 'reported in the paper, not measured here (whisker: reported range)',
  };
  const kinds = (Object.keys(legend) as Array<Bar['kind']>).filter((k) => bars.some((b) => b.kind === k));
  kinds.forEach((k, i) => {
    const ly = H - 14 - (kinds.length - 1 - i) * 15;
    body.push(`<rect x="${L}" y="${ly - 9}" width="14" height="10" fill="${fill[k]}" stroke="black" stroke-width="0.5"/>`);
    body.push(`<text x="${L + 20}" y="${ly}" font-size="11">${esc(`${k}: ${legend[k]}`)}</text>`);
  });
  return svg(W, H, body);
}

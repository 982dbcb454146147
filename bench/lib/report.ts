// The results table: one row per figure, with its same-run baseline, ratio, goal and verdict.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export interface Row {
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly ratio: string;
  /** livmap / OOR's Map-Server, measured in the same run (lab rows only). */
  readonly ratioOor?: string;
  readonly goal: string;
  /** undefined: informational, no goal. */
  readonly pass?: boolean;
}

export interface Machine {
  readonly nproc: number;
  readonly cpu: string;
  readonly node: string;
  readonly os: string;
  readonly memoryGiB: number;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // no nproc: keep os.cpus()
  }
  return { nproc, cpu, node: process.version, os: `${process.platform} ${process.arch}`, memoryGiB: Math.round(totalmem() / 2 ** 30) };
}

export function load(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

export function us(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`;
}

export function times(r: number): string {
  return `${r.toFixed(2)}×`;
}

export function count(n: number): string {
  return n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);
}

function verdict(row: Row): string {
  return row.pass === undefined ? '' : row.pass ? 'pass' : 'FAIL';
}

export function textTable(rows: readonly Row[]): string {
  const header = ['figure', 'value', 'baseline (same run)', 'ratio', 'livmap/OOR', 'goal', ''];
  const cells = [header, ...rows.map((r) => [r.figure, r.value, r.baseline, r.ratio, r.ratioOor ?? '', r.goal, verdict(r)])];
  const widths = header.map((_, i) => Math.max(...cells.map((c) => [...c[i]!].length)));
  const line = (c: readonly string[]): string => c.map((x, i) => x + ' '.repeat(widths[i]! - [...x].length)).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    '| figure | value | baseline (same run) | ratio | livmap/OOR | goal | result |',
    '|---|---:|---:|---:|---:|---|---|',
    ...rows.map((r) => `| ${esc(r.figure)} | ${esc(r.value)} | ${esc(r.baseline)} | ${esc(r.ratio)} | ${esc(r.ratioOor ?? '')} | ${esc(r.goal)} | ${verdict(r)} |`),
  ].join('\n');
}

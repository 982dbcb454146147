// Builds and runs the load generator (bench/loadgen.c), with a Node fallback when there is no C
// compiler. Both take the same options and return the same result.
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runNodeLoadgen } from './loadgen-node.js';

export interface LoadOptions {
  /** Loopback (127.0.0.0/8, ::1), or 198.18.0.0/15 inside the bench's lab namespaces (C generator only). */
  readonly target: { readonly host: string; readonly port: number };
  /** File written by writePayloadFile; every payload has a distinct nonce. */
  readonly payloadFile: string;
  /** Requests in flight at most. */
  readonly window: number;
  readonly durationMs: number;
  /** Sent and answered but not counted, so both ends run JIT-compiled code when measuring. */
  readonly warmupMs?: number;
  /** Stop after this many measured requests (0: only the duration bounds the run). */
  readonly count?: number;
  /** Requests per second (0: closed loop, a new request for each reply). */
  readonly rate?: number;
  /** A request unanswered this long is lost and its window slot reused. */
  readonly timeoutMs?: number;
  /** Where the 8-byte nonce sits in a request and in its reply. */
  readonly requestNonceOffset: number;
  readonly replyNonceOffset: number;
  /** Write the generator's own UDP port here in every payload (ECM inner UDP source port). */
  readonly portOffset?: number;
  /** The inner UDP checksum to fix after writing the port. */
  readonly checksumOffset?: number;
  /** Closed loop: busy-poll for replies instead of sleeping while the window is full (C generator only). */
  readonly spin?: boolean;
  /** Send from this many sockets (source ports, as that many ITRs), so SO_REUSEPORT workers each get flows (C generator only; default 1). */
  readonly sockets?: number;
}

export interface LoadResult {
  readonly generator: 'c' | 'node';
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly late: number;
  readonly unmatched: number;
  readonly send_errors: number;
  readonly in_flight_end: number;
  readonly duration_s: number;
  readonly rps: number;
  readonly window: number;
  readonly rate: number;
  readonly payloads: number;
  readonly local_port: number;
  readonly latency_us: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
}

/** The checkout's root (works from bench/lib/*.ts and from dist/bench/lib/*.js). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'loadgen.c'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the livmap checkout (bench/loadgen.c) above ' + fileURLToPath(import.meta.url));
}

/** Payload file: "LVMLOAD1", u32 LE count, then (u16 LE length, bytes) per payload. */
export function writePayloadFile(path: string, payloads: readonly Uint8Array[]): void {
  let size = 12;
  for (const p of payloads) {
    if (p.length > 2048) throw new Error(`payload of ${p.length} bytes exceeds the generator's 2048`);
    size += 2 + p.length;
  }
  const out = Buffer.alloc(size);
  out.write('LVMLOAD1', 0, 'latin1');
  out.writeUInt32LE(payloads.length, 8);
  let o = 12;
  for (const p of payloads) {
    out.writeUInt16LE(p.length, o);
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  writeFileSync(path, out);
}

export type Compiled = { readonly binary: string } | { readonly binary: undefined; readonly reason: string };

/** Compiles bench/loadgen.c with `cc -O2` into `buildDir`; never throws. */
export function compileLoadgen(buildDir: string): Compiled {
  const source = join(repoRoot(), 'bench', 'loadgen.c');
  const binary = join(buildDir, 'loadgen');
  const cc = process.env['CC'] ?? 'cc';
  const result = spawnSync(cc, ['-O2', '-Wall', '-o', binary, source], { encoding: 'utf8' });
  if (result.error) return { binary: undefined, reason: `${cc} not available (${result.error.message})` };
  if (result.status !== 0 || !existsSync(binary)) return { binary: undefined, reason: `${cc} failed:\n${result.stderr}` };
  return { binary };
}

function loadgenArgs(o: LoadOptions): string[] {
  const args = [
    '--target', o.target.host.includes(':') ? `[${o.target.host}]:${o.target.port}` : `${o.target.host}:${o.target.port}`,
    '--payloads', o.payloadFile,
    '--window', String(o.window),
    '--duration-ms', String(o.durationMs),
    '--warmup-ms', String(o.warmupMs ?? 0),
    '--count', String(o.count ?? 0),
    '--rate', String(Math.round(o.rate ?? 0)),
    '--timeout-ms', String(o.timeoutMs ?? 500),
    '--req-nonce-offset', String(o.requestNonceOffset),
    '--reply-nonce-offset', String(o.replyNonceOffset),
  ];
  if (o.portOffset !== undefined) args.push('--port-offset', String(o.portOffset));
  if (o.checksumOffset !== undefined) args.push('--csum-offset', String(o.checksumOffset));
  if (o.spin) args.push('--spin');
  if (o.sockets !== undefined && o.sockets !== 1) args.push('--sockets', String(o.sockets));
  return args;
}

/**
 * Runs one load: the C generator when `binary` is set, else the Node one in this process.
 * `netns`: run the C generator inside that network namespace (the lab, bench/lib/lab.ts).
 */
export async function runLoad(binary: string | undefined, options: LoadOptions, netns?: string): Promise<LoadResult> {
  if (binary === undefined) {
    if (netns !== undefined) throw new Error('the lab needs the C load generator');
    return runNodeLoadgen(options);
  }
  const command = netns === undefined ? [binary] : ['ip', 'netns', 'exec', netns, binary];
  const child = spawn(command[0]!, [...command.slice(1), ...loadgenArgs(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stdout, stderr } = await outputOf(child);
  if (code !== 0) throw new Error(`loadgen exited with ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as LoadResult;
}

/** Waits for `child` (stdout and stderr piped) to end: its exit code and what it printed. */
export async function outputOf(child: ChildProcessByStdio<null, Readable, Readable>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

/** Requests/s of `run` as a multiple of `baseline`'s (0 when the baseline got no replies). */
export function ratio(run: LoadResult, baseline: LoadResult): number {
  return baseline.rps > 0 ? run.rps / baseline.rps : 0;
}

/** Writes `payloads` to `dir`/`name`.payloads and returns the path. */
export function payloadFile(dir: string, name: string, payloads: readonly Uint8Array[]): string {
  const path = join(dir, `${name}.payloads`);
  writePayloadFile(path, payloads);
  return path;
}

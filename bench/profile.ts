// Where does the server spend its time under load? Runs `node --cpu-prof bin/livmap serve` with
// the bench's mappings, drives it with the load generator (closed loop), stops it cleanly so V8
// writes the profile, and prints the top frames by self and inclusive time, counting only the
// samples taken while the load ran (not start-up).
//   npm run bench:profile -- [--scenario map-request|map-register] [--mappings N] [--seconds S]
//                            [--log-level LEVEL] [--top N] [--keep-profile FILE] [--phase load|startup]
// --phase startup profiles spawn → first Map-Reply instead (the cold start with N mappings).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliOptions, intOption, usageError } from './lib/cli.js';
import { compileLoadgen, payloadFile, runLoad } from './lib/loadgen.js';
import { BENCH_HOSTS_PER_ETR, ECM_CHECKSUM_OFFSET, ECM_NONCE_OFFSET, ECM_PORT_OFFSET, NONCE_OFFSET, SITE_V4, SITE_V6, hostV4, mapRegisterPayloads, mapRequestPayloads } from './lib/payloads.js';
import { fillStore, freeUdpPort, startLivmap, stop } from './lib/server.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FrameTime {
  readonly frame: string;
  readonly self: number;
  readonly total: number;
}

function frameName(f: CallFrame): string {
  const file = f.url ? basename(f.url.replace(/^file:\/\//, '')) : '';
  return file ? `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}` : f.functionName || '(anonymous)';
}

/** Self and inclusive share (0..1) of each frame over the samples taken in [fromUs, toUs]. */
export function analyze(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): { frames: FrameTime[]; samples: number } {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let t = profile.startTime;
  let n = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    n++;
    let id: number | undefined = profile.samples[i]!;
    const leaf = frameName(byId.get(id)!.callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + 1);
    const seen = new Set<string>();
    while (id !== undefined) {
      const name = frameName(byId.get(id)!.callFrame);
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + 1);
      }
      id = parent.get(id);
    }
  }
  const frames = [...total.keys()].map((frame) => ({ frame, self: (self.get(frame) ?? 0) / n, total: (total.get(frame) ?? 0) / n }));
  return { frames, samples: n };
}

const USAGE = `usage: npm run bench:profile -- [--scenario map-request|map-register] [--mappings N] [--seconds S]
                              [--log-level LEVEL] [--top N] [--keep-profile FILE] [--phase load|startup]`;

async function main(): Promise<void> {
  const values = cliOptions(
    {
      scenario: { type: 'string', default: 'map-request' },
      mappings: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '5' },
      'log-level': { type: 'string', default: 'info' },
      top: { type: 'string', default: '30' },
      'keep-profile': { type: 'string' },
      phase: { type: 'string', default: 'load' },
    },
    USAGE,
  );
  const scenario = values.scenario;
  if (scenario !== 'map-request' && scenario !== 'map-register') usageError(`--scenario is map-request or map-register, got '${scenario}'`, USAGE);
  if (values.phase !== 'load' && values.phase !== 'startup') usageError(`--phase is load or startup, got '${values.phase}'`, USAGE);
  const mappings = intOption('mappings', values.mappings ?? '', 1, 2_000_000, USAGE);
  const seconds = intOption('seconds', values.seconds ?? '', 1, 60, USAGE);
  const top = intOption('top', values.top ?? '', 1, 1000, USAGE);
  const work = mkdtempSync(join(tmpdir(), 'livmap-profile-'));
  try {
    const compiled = compileLoadgen(work);
    if (compiled.binary === undefined) process.stderr.write('WARNING: no C compiler; using the Node load generator\n');
    const dataDir = join(work, 'data');
    const profDir = join(work, 'prof');
    mkdirSync(profDir);
    const secret = 'livmap-bench-sha256-key';
    let file: string;
    let warmupFile: string;
    if (scenario === 'map-request') {
      await fillStore(dataDir, mappings);
      file = warmupFile = payloadFile(work, 'p', mapRequestPayloads({ payloads: 50_000, registered: mappings }).payloads);
    } else {
      // livmap refuses a nonce it accepted before (replay protection): never-sent registrations
      // for the warm-up and for the load, enough for either at up to 100k/s.
      warmupFile = payloadFile(work, 'w', mapRegisterPayloads(100_000, 10_000, secret, 2, 0x57000000, 0, BENCH_HOSTS_PER_ETR));
      file = payloadFile(work, 'p', mapRegisterPayloads(100_000 * seconds, 10_000, secret, 2, 0x50000000, 0, BENCH_HOSTS_PER_ETR));
    }
    const server = await startLivmap({
      dataDir,
      port: await freeUdpPort(),
      sites: [{ name: 'bench', keys: [{ alg: 'hmac-sha256', secret }], prefixes: [{ eid: SITE_V4, acceptMoreSpecifics: true }, { eid: SITE_V6, acceptMoreSpecifics: true }] }],
      probeEid: hostV4(0),
      logLevel: values['log-level'],
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '200'],
      readyTimeoutMs: 300_000,
    });
    const shape = scenario === 'map-request'
      ? { requestNonceOffset: ECM_NONCE_OFFSET, replyNonceOffset: NONCE_OFFSET, portOffset: ECM_PORT_OFFSET, checksumOffset: ECM_CHECKSUM_OFFSET }
      : { requestNonceOffset: NONCE_OFFSET, replyNonceOffset: NONCE_OFFSET };
    const startup = values.phase === 'startup';
    let from: number;
    let to: number;
    let summary: string;
    if (startup) {
      // V8 profile timestamps and hrtime are both CLOCK_MONOTONIC (µs vs ns) on Linux.
      from = Number(server.spawnedAt / 1000n);
      to = from + server.readyMs * 1000;
      summary = `start-up with ${mappings} persisted registrations: first Map-Reply after ${server.readyMs.toFixed(0)} ms`;
    } else {
      // Warm up first (its samples fall outside the window analysed below).
      await runLoad(compiled.binary, { target: { host: '127.0.0.1', port: server.port }, payloadFile: warmupFile, window: 64, durationMs: 1000, ...shape });
      from = Number(process.hrtime.bigint() / 1000n);
      const result = await runLoad(compiled.binary, { target: { host: '127.0.0.1', port: server.port }, payloadFile: file, window: 64, durationMs: seconds * 1000, ...shape });
      to = Number(process.hrtime.bigint() / 1000n);
      summary = `${scenario}, ${mappings} mappings, log level ${values['log-level']}: ${result.rps.toFixed(0)} req/s (${result.lost} lost), p50 ${result.latency_us.p50} µs, p99 ${result.latency_us.p99} µs`;
    }
    await stop(server);
    const profFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!profFile) throw new Error('livmap wrote no .cpuprofile (did it exit cleanly?)');
    if (values['keep-profile']) copyFileSync(join(profDir, profFile), values['keep-profile']);
    const profile = JSON.parse(readFileSync(join(profDir, profFile), 'utf8')) as CpuProfile;
    let { frames, samples } = analyze(profile, from, to);
    let window = startup ? 'start-up' : 'the load window';
    if (samples < 100) {
      // Clocks did not line up (not Linux?): fall back to the whole run.
      ({ frames, samples } = analyze(profile));
      window = 'the whole run (start-up included)';
    }
    const pct = (x: number): string => `${(100 * x).toFixed(1).padStart(5)}%`;
    process.stdout.write(`${summary}\n`);
    process.stdout.write(`${samples} samples over ${window}\n\nself   total  frame (by self time)\n`);
    for (const f of [...frames].sort((a, b) => b.self - a.self).slice(0, top)) process.stdout.write(`${pct(f.self)} ${pct(f.total)}  ${f.frame}\n`);
    process.stdout.write(`\nself   total  frame (by inclusive time)\n`);
    for (const f of [...frames].sort((a, b) => b.total - a.total).slice(0, top)) process.stdout.write(`${pct(f.self)} ${pct(f.total)}  ${f.frame}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}

// Runs the servers under test in their own processes: `bin/livmap serve` (exactly what an
// operator runs) and the echo baseline; fills a livmap data directory through the store.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '../../mapserver/codec/index.js';
import type { ConfigJson } from '../../mapserver/json/schema.js';
import { Store } from '../../mapserver/store/store.js';
import { ECM_CHECKSUM_OFFSET, ECM_PORT_OFFSET, ecmMapRequest, registrationV4 } from './payloads.js';
import { repoRoot } from './loadgen.js';

/** Children still running; killed if the bench dies, so nothing outlives it. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A port the kernel had free a moment ago (the server binds it right after; loopback only). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A TCP port that was free a moment ago on `host`. */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function childEnv(): NodeJS.ProcessEnv {
  // tap puts a loader into NODE_OPTIONS that cannot load the extensionless bin/livmap.
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return env;
}

export interface Spawned {
  readonly child: ChildProcess;
  /** hrtime (ns) just before spawn. */
  readonly spawnedAt: bigint;
  stderr(): string;
}

/** `netns`: run it inside that network namespace (the lab, bench/lib/lab.ts). */
function spawnTracked(args: readonly string[], stdout: 'ignore' | 'pipe', netns?: string): Spawned {
  const spawnedAt = process.hrtime.bigint();
  const command = netns === undefined ? [process.execPath, ...args] : ['ip', 'netns', 'exec', netns, process.execPath, ...args];
  const child = spawn(command[0]!, command.slice(1), { cwd: repoRoot(), env: childEnv(), stdio: ['ignore', stdout, 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
  return { child, spawnedAt, stderr: () => err };
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
export async function stop(spawned: Spawned, graceMs = 20_000): Promise<void> {
  const { child } = spawned;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** The echo baseline on loopback, or on `at.host:at.port` inside network namespace `at.netns`. */
export async function startEchoProcess(at?: { readonly netns: string; readonly host: string; readonly port: number }): Promise<Spawned & { readonly port: number }> {
  const where = at === undefined ? [] : ['--host', at.host, '--port', String(at.port)];
  const spawned = spawnTracked([join(repoRoot(), 'dist/bench/echo.js'), '--max-seconds', '1200', ...where], 'pipe', at?.netns);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    spawned.child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    spawned.child.once('exit', (code) => reject(new Error(`echo server exited (${code}): ${spawned.stderr()}`)));
  });
  return { ...spawned, port };
}

export interface LivmapOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly sites: NonNullable<ConfigJson['sites']>;
  readonly logLevel?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  /** The EID the readiness probe asks for (any answer, positive or negative, means ready). */
  readonly probeEid: string;
  readonly readyTimeoutMs?: number;
  /** Keep the server's log lines (else its stdout goes to /dev/null). */
  readonly captureLog?: boolean;
  /** Where the REST API (and /metrics) listens; a port the kernel picks unless given. */
  readonly apiPort?: number;
  /** The per-ITR reply limit; unless given, one so high it never refuses (see startLivmap). */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number; readonly maxAddresses?: number };
  /** `serve --workers N` (default 1); passed only when the server has the option (serveAcceptsWorkers), else only 1 is possible. */
  readonly workers?: number;
  /** Run inside a lab namespace, listening on `host`; `ready` then replaces the loopback probe. */
  readonly lab?: { readonly netns: string; readonly host: string; ready(timeoutMs: number): Promise<void> };
}

/**
 * Whether `livmap serve` takes --workers (the workers change may not be merged yet): strict
 * option parsing refuses an unknown option before it looks at --help.
 */
export function serveAcceptsWorkers(): boolean {
  if (acceptsWorkers === undefined) {
    const result = spawnSync(process.execPath, [join(repoRoot(), 'bin/livmap'), 'serve', '--workers', '2', '--help'], { env: childEnv(), encoding: 'utf8', timeout: 30_000 });
    acceptsWorkers = result.status === 0 && result.stdout.includes('--workers');
  }
  return acceptsWorkers;
}
let acceptsWorkers: boolean | undefined;

export interface Livmap extends Spawned {
  readonly port: number;
  /** Spawn to first Map-Reply, ms. */
  readonly readyMs: number;
  /** The last 2000 log lines when captureLog was set. */
  logLines(): string[];
}

/** Spawns `node bin/livmap serve --config …` and waits for its first Map-Reply. */
export async function startLivmap(o: LivmapOptions): Promise<Livmap> {
  const lisp = {
    listen: [`${o.lab?.host ?? '127.0.0.1'}:${o.port}`],
    // The generator is ONE ITR-RLOC asking tens of thousands of times a second, which the
    // per-ITR reply limit (default 1000/s) rightly drops; in production that load comes from
    // many ITRs. Limits this high keep the limiter's per-packet work without ever refusing.
    rateLimit: o.rateLimit ?? { perSecond: 1e9, burst: 1e9 },
  };
  const config: ConfigJson = { dataDir: o.dataDir, lisp, api: { listen: `127.0.0.1:${o.apiPort ?? 0}` }, sites: o.sites };
  const configFile = join(o.dataDir, '..', `livmap-${o.port}.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  // One worker unless asked: a server whose default is one per core must not turn every
  // single-core figure into a multi-core one.
  if ((o.workers ?? 1) > 1 && !serveAcceptsWorkers()) throw new Error(`livmap serve has no --workers option: cannot run ${o.workers} workers`);
  const workers = serveAcceptsWorkers() ? ['--workers', String(o.workers ?? 1)] : [];
  const spawned = spawnTracked(
    [...(o.nodeArgs ?? []), join(repoRoot(), 'bin/livmap'), 'serve', '--config', configFile, '--log-level', o.logLevel ?? 'info', ...workers],
    o.captureLog ? 'pipe' : 'ignore',
    o.lab?.netns,
  );
  const lines: string[] = [];
  let partial = '';
  spawned.child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    const parts = (partial + c).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 2000) lines.splice(0, lines.length - 2000);
  });
  const answeredAt = o.lab === undefined ? await firstReply(o.port, o.probeEid, o.readyTimeoutMs ?? 120_000, spawned) : await labReady(o.lab, o.readyTimeoutMs ?? 120_000, spawned);
  // serve answers UDP before its API listens: a part that drives the API waits for it too
  // (readyMs stays the first Map-Reply, the cold-start figure).
  if (o.apiPort !== undefined && o.lab === undefined) await apiReady(o.apiPort, o.readyTimeoutMs ?? 120_000, spawned);
  return { ...spawned, port: o.port, readyMs: Number(answeredAt - spawned.spawnedAt) / 1e6, logLines: () => [...lines] };
}

/** Polls GET /healthz until the API answers. */
async function apiReady(port: number, timeoutMs: number, spawned: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawned.child.exitCode !== null || spawned.child.signalCode !== null) throw new Error(`livmap exited before its API listened: ${spawned.stderr()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`livmap's API did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function labReady(lab: NonNullable<LivmapOptions['lab']>, timeoutMs: number, spawned: Spawned): Promise<bigint> {
  const exited = new Promise<never>((_, reject) => spawned.child.once('exit', () => reject(new Error(`livmap exited before answering: ${spawned.stderr()}`))));
  await Promise.race([lab.ready(timeoutMs), exited]);
  return process.hrtime.bigint();
}

/** Sends an ECM Map-Request every 10 ms until a Map-Reply arrives; returns its hrtime. */
export async function firstReply(port: number, eid: string, timeoutMs: number, spawned?: Spawned): Promise<bigint> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const myPort = socket.address().port;
  try {
    return await new Promise<bigint>((resolve, reject) => {
      let n = 0;
      const deadline = Date.now() + timeoutMs;
      socket.on('message', (msg) => {
        const at = process.hrtime.bigint();
        try {
          if (decode(msg).type === 'map-reply') { clearInterval(timer); resolve(at); }
        } catch {
          // not a LISP message: keep waiting
        }
      });
      const timer = setInterval(() => {
        if (spawned && (spawned.child.exitCode !== null || spawned.child.signalCode !== null)) {
          clearInterval(timer);
          reject(new Error(`livmap exited before answering: ${spawned.stderr()}`));
          return;
        }
        if (Date.now() > deadline) {
          clearInterval(timer);
          reject(new Error(`no Map-Reply from 127.0.0.1:${port} within ${timeoutMs} ms`));
          return;
        }
        // A fresh payload with our port written in (the encoder computes the checksum for it).
        const bytes = ecmMapRequest(eid, BigInt(++n));
        bytes.writeUInt16BE(0, ECM_CHECKSUM_OFFSET);
        bytes.writeUInt16BE(myPort, ECM_PORT_OFFSET);
        socket.send(bytes, port, '127.0.0.1');
      }, 10);
    });
  } finally {
    socket.close();
  }
}

/**
 * Writes `count` live registrations of hostV4(0..count-1) into a fresh data directory, in big
 * unsynced batches (the store is closed cleanly, so nothing is lost), with a lifetime that
 * outlasts the whole bench.
 */
export async function fillStore(dataDir: string, count: number, lifetimeMs = 6 * 3600_000): Promise<void> {
  const store = await Store.open(dataDir, { sync: false });
  try {
    const now = Date.now();
    const batch = 20_000;
    for (let start = 0; start < count; start += batch) {
      const changes = [];
      for (let i = start; i < Math.min(count, start + batch); i++) changes.push({ kind: 'put-registration' as const, registration: registrationV4(i, now, lifetimeMs) });
      await store.apply(changes);
    }
  } finally {
    await store.close();
  }
}

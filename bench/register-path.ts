// The Map-Register path in one process: a real LispServer (real LevelDB store) fed datagrams
// without sockets, its sends stubbed, so the main thread's CPU per Map-Register (decode,
// authenticate, registrar, database, sign the Map-Notify) is measured without the kernel.
//   npm run build && node dist/bench/register-path.js [--hosts N] [--rounds R] [--baseline DIR]
// Every host is registered once first (written to the store); the rounds then measure what most
// Map-Registers are, refreshes, each with a never-sent nonce (replay protection). --baseline DIR
// runs another build (DIR: that build's checkout, built) in the same process, alternating
// rounds, so before/after comes out of one run as a ratio.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { baselineBuild, cliOptions, intOption } from './lib/cli.js';
import type { Endpoint } from '../mapserver/db/model.js';

type Server = typeof import('../mapserver/compose/server.js');
type Payloads = typeof import('./lib/payloads.js');
type RateLimits = typeof import('../mapserver/control/rate-limit.js');

/** What this script reaches inside a LispServer: its datagram entry and its transport's send. */
interface Internals {
  onDatagram(bytes: Buffer, from: Endpoint): void;
  readonly transport: { send(to: Endpoint, bytes: Uint8Array): void };
}

const USAGE = 'usage: node dist/bench/register-path.js [--hosts N] [--rounds R] [--baseline DIR]';
const SECRET = 'livmap-bench-sha256-key';
/** The generator's address: the ETR, as every bench Map-Register comes from it. */
const FROM: Endpoint = { address: '127.0.0.1', port: 4342 };

interface Path {
  /** CPU µs per Map-Register over one round's payloads. */
  round(payloads: readonly Buffer[]): Promise<number>;
  close(): Promise<void>;
}

async function pathOf(dist: string, hosts: number, first: readonly Buffer[]): Promise<Path> {
  const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(dist, file)).href)) as T;
  // The server is in compose/ since the composition layer (#19); a baseline built before it has it at the top.
  const { LispServer } = await load<Server>(existsSync(join(dist, 'mapserver/compose/server.js')) ? 'mapserver/compose/server.js' : 'mapserver/server.js');
  const { benchSite } = await load<Payloads>('bench/lib/payloads.js');
  const { DEFAULT_RATE_LIMIT } = await load<RateLimits>('mapserver/control/rate-limit.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'livmap-register-path-'));
  const server = await LispServer.start({
    dataDir,
    lisp: {
      listen: [{ host: '127.0.0.1', port: 0, family: 4 }],
      registrationTtlSeconds: 180, negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1, rateLimit: DEFAULT_RATE_LIMIT, workers: 1,
    },
    api: { listen: { host: '127.0.0.1', port: 0, family: 4 } },
    mobility: { enabled: true, requesterCapacity: 100_000 },
    sites: [benchSite('hmac-sha256', SECRET)],
    mappings: [],
  });
  const internals = server as unknown as Internals;
  let notifies = 0;
  internals.transport.send = () => void notifies++;
  // First registrations are written before their Map-Notify: done once, outside the rounds.
  for (const bytes of first) internals.onDatagram(bytes, FROM);
  await server.settled();
  if (notifies !== hosts) throw new Error(`${dist}: ${notifies} Map-Notifies for ${hosts} first registrations`);
  return {
    async round(payloads) {
      notifies = 0;
      const start = process.cpuUsage();
      for (const bytes of payloads) internals.onDatagram(bytes, FROM);
      const used = process.cpuUsage(start);
      await server.settled();
      if (notifies !== payloads.length) throw new Error(`${dist}: ${notifies} Map-Notifies for ${payloads.length} refreshes`);
      // Let the sweep run (it stores the replay window's closed buckets), as it would between bursts.
      await new Promise((done) => setTimeout(done, 20));
      return (used.user + used.system) / payloads.length;
    },
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const values = cliOptions({ hosts: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '15' }, baseline: { type: 'string' } }, USAGE);
  const hosts = intOption('hosts', values.hosts ?? '', 1, 1_000_000, USAGE);
  const rounds = intOption('rounds', values.rounds ?? '', 1, 1000, USAGE);
  const here = resolve(import.meta.dirname, '..');
  const { BENCH_HOSTS_PER_ETR, mapRegisterPayloads } = (await import(pathToFileURL(join(here, 'bench/lib/payloads.js')).href)) as Payloads;
  // Two passes over the hosts a round; every round's nonces never sent before (to either server:
  // each has its own replay window, so both get the same payloads).
  const perRound = 2 * hosts;
  const warmups = 3;
  const first = mapRegisterPayloads(hosts, hosts, SECRET, 2, 0x46000000, 0, BENCH_HOSTS_PER_ETR);
  const roundPayloads = Array.from({ length: warmups + rounds }, (_, r) => mapRegisterPayloads(perRound, hosts, SECRET, 2, 0x52000000 + r, 0, BENCH_HOSTS_PER_ETR));
  const current = await pathOf(here, hosts, first);
  // A checkout (its built dist/ is used) or a dist/ directory itself.
  const baselineDist = values.baseline && baselineBuild(values.baseline);
  let baseline: Path | undefined;
  try {
    if (baselineDist) baseline = await pathOf(baselineDist, hosts, first);
    const now: number[] = [];
    const before: number[] = [];
    for (let r = 0; r < warmups + rounds; r++) {
      const a = await current.round(roundPayloads[r]!);
      const b = await baseline?.round(roundPayloads[r]!);
      if (r < warmups) continue;
      now.push(a);
      if (b !== undefined) before.push(b);
    }
    const median = (xs: readonly number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const us = (x: number): string => `${x.toFixed(2)} µs`;
    process.stdout.write(`Map-Register path (refresh in, signed Map-Notify out, no sockets), ${hosts} hosts, ${perRound} refreshes a round, ${rounds} rounds\n`);
    process.stdout.write(`  this build (${here}): ${us(median(now))} CPU per Map-Register (rounds ${us(Math.min(...now))} – ${us(Math.max(...now))})\n`);
    if (baseline) {
      process.stdout.write(`  baseline (${values.baseline}): ${us(median(before))} CPU per Map-Register (rounds ${us(Math.min(...before))} – ${us(Math.max(...before))})\n`);
      process.stdout.write(`  this / baseline: ${(median(now) / median(before)).toFixed(3)} (median of the per-round ratios ${median(now.map((x, i) => x / before[i]!)).toFixed(3)})\n`);
    }
  } finally {
    await current.close();
    await baseline?.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`register-path failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});

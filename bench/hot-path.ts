// The Map-Request hot path in one process, without sockets: what the server does per datagram
// (decode, resolve and answer, record the requester, encode the reply), so a change to the
// JavaScript is measured without the kernel's sendmsg (half the cost on loopback).
//   npm run build && node dist/bench/hot-path.js [--mappings N] [--rounds R] [--baseline DIR]
// prints CPU µs per request (median of the rounds). --baseline DIR loads a second build of
// livmap (DIR = another checkout, or its dist/) into the same process and alternates rounds between
// the two: before/after as a ratio from one run, which a shared machine's load cannot skew the
// way it skews two separate runs.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { baselineBuild, cliOptions, intOption } from './lib/cli.js';

type Codec = typeof import('../mapserver/codec/index.js');
type Resolver = typeof import('../mapserver/control/map-resolver.js');
type Requesters = typeof import('../mapserver/control/requesters.js');
type Database = typeof import('../mapserver/db/database.js');
type Payloads = typeof import('./lib/payloads.js');

const USAGE = 'usage: node dist/bench/hot-path.js [--mappings N] [--rounds R] [--baseline DIR]';
const PASSES = 4;

/** A build's Map-Request path over its own database and requester table; returns the round timer. */
async function pathOf(dist: string, mappings: number): Promise<{ round: () => number; decodeRound: () => number }> {
  const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(dist, file)).href)) as T;
  const { decode, encode } = await load<Codec>('mapserver/codec/index.js');
  const { handleMapRequest } = await load<Resolver>('mapserver/control/map-resolver.js');
  const { RequesterTable } = await load<Requesters>('mapserver/control/requesters.js');
  const { MappingDatabase } = await load<Database>('mapserver/db/database.js');
  const { benchSite, mapRequestPayloads, registrationV4 } = await load<Payloads>('bench/lib/payloads.js');

  const now = Date.now();
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site: benchSite('hmac-sha256', 'livmap-bench-sha256-key') }]);
  for (let i = 0; i < mappings; i++) db.apply([{ kind: 'put-registration', registration: registrationV4(i, now, 6 * 3600_000) }]);
  const requesters = new RequesterTable(100_000, (itr) => db.isRegisteredXtr(itr));
  const options = { families: new Set<'ipv4' | 'ipv6'>(['ipv4', 'ipv6']) };
  const from = { address: '127.0.0.1', port: 40000 };
  const payloads = mapRequestPayloads({ payloads: 50_000, registered: mappings }).payloads;

  let sink = 0;
  /** One datagram the way LispServer.onDatagram → handle → process → send treats a Map-Request. */
  const serve = (bytes: Buffer, t: number): void => {
    const message = decode(bytes);
    if (message.type !== 'ecm' || message.message.type !== 'map-request') throw new Error('expected an ECM Map-Request');
    const result = handleMapRequest(db, options, message.message, { ecm: message, bytes }, from, t);
    for (const requester of result.answered ?? []) requesters.record(requester);
    for (const out of result.outbound) sink += out.kind === 'raw' ? out.bytes.length : encode(out.message).length;
  };
  const decodeOnly = (bytes: Buffer): void => {
    sink += decode(bytes).type.length;
  };
  /**
   * CPU µs (user + system) per request over PASSES passes through the payloads: CPU time, not
   * wall time, because the machine is shared and a descheduled process would otherwise count
   * other processes' time as its own.
   */
  const timed = (fn: (bytes: Buffer, t: number) => void) => (): number => {
    const start = process.cpuUsage();
    for (let k = 0; k < PASSES; k++) {
      const t = Date.now();
      for (const bytes of payloads) fn(bytes, t);
    }
    const used = process.cpuUsage(start);
    if (sink === -1) process.stdout.write(''); // keeps `sink` (and the work feeding it) alive
    return (used.user + used.system) / (PASSES * payloads.length);
  };
  return { round: timed(serve), decodeRound: timed(decodeOnly) };
}

async function main(): Promise<void> {
  const values = cliOptions({ mappings: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '15' }, baseline: { type: 'string' } }, USAGE);
  const mappings = intOption('mappings', values.mappings ?? '', 1, 2_000_000, USAGE);
  const rounds = intOption('rounds', values.rounds ?? '', 1, 1000, USAGE);
  const here = resolve(import.meta.dirname, '..');
  const current = await pathOf(here, mappings);
  const baseline = values.baseline ? await pathOf(baselineBuild(values.baseline), mappings) : undefined;

  // Warm-up: JIT, and the requester tables filled as under steady load.
  for (let w = 0; w < 2; w++) {
    current.round();
    baseline?.round();
  }
  const now: number[] = [];
  const before: number[] = [];
  const decoding: number[] = [];
  for (let r = 0; r < rounds; r++) {
    now.push(current.round());
    if (baseline) before.push(baseline.round());
    decoding.push(current.decodeRound());
  }
  const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const us = (x: number): string => `${x.toFixed(3)} µs`;
  process.stdout.write(`Map-Request hot path (ECM in, Map-Reply out, no sockets), ${mappings} mappings, 50k payloads (90% registered hosts), ${rounds} rounds\n`);
  process.stdout.write(`  this build (${here}): ${us(median(now))} CPU per request; decode alone ${us(median(decoding))}\n`);
  if (baseline) {
    const pairwise = median(now.map((x, i) => x / before[i]!));
    process.stdout.write(`  baseline (${values.baseline}): ${us(median(before))} CPU per request\n`);
    process.stdout.write(`  this / baseline: ${(median(now) / median(before)).toFixed(3)} (median of the per-round ratios ${pairwise.toFixed(3)})\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`hot-path failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});

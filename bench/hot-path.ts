// The Map-Request hot path in one process, without sockets: what the server does per datagram
// (decode, resolve and answer, record the requester, encode the reply), timed per stage, so a
// change to the JavaScript is measured without the kernel's sendmsg (half the cost on loopback)
// and without the noise of a shared machine's scheduler.
//   npm run build && node dist/bench/hot-path.js [--mappings N] [--rounds R] [--seconds S]
// prints CPU µs per request for each stage and for the whole path (median of the rounds).
import { decode, encode } from '../mapserver/codec/index.js';
import type { LispMessage } from '../mapserver/codec/types.js';
import { handleMapRequest, type ResolverOptions } from '../mapserver/control/map-resolver.js';
import { RequesterTable } from '../mapserver/control/requesters.js';
import { MappingDatabase } from '../mapserver/db/database.js';
import type { Endpoint } from '../mapserver/db/model.js';
import { cliOptions, intOption } from './lib/cli.js';
import { benchSite, mapRequestPayloads, registrationV4 } from './lib/payloads.js';

const USAGE = 'usage: node dist/bench/hot-path.js [--mappings N] [--rounds R] [--seconds S]';

function main(): void {
  const values = cliOptions({ mappings: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '1' } }, USAGE);
  const mappings = intOption('mappings', values.mappings ?? '', 1, 2_000_000, USAGE);
  const rounds = intOption('rounds', values.rounds ?? '', 1, 100, USAGE);
  const seconds = intOption('seconds', values.seconds ?? '', 1, 60, USAGE);

  const now = Date.now();
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply([{ kind: 'put-site', site: benchSite('hmac-sha256', 'livmap-bench-sha256-key') }]);
  for (let i = 0; i < mappings; i++) db.apply([{ kind: 'put-registration', registration: registrationV4(i, now, 6 * 3600_000) }]);
  const requesters = new RequesterTable(100_000, (itr) => db.isRegisteredXtr(itr));
  const options: ResolverOptions = { families: new Set(['ipv4', 'ipv6']) };
  const from: Endpoint = { address: '127.0.0.1', port: 40000 };
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
    const message: LispMessage = decode(bytes);
    sink += message.type.length;
  };

  /**
   * CPU µs (user + system) per call of `fn` over the payloads, run for about `seconds` of wall
   * time: CPU time, not wall time, because the machine is shared and a descheduled process
   * would otherwise count other processes' time as its own.
   */
  const time = (fn: (bytes: Buffer, t: number) => void): number => {
    let calls = 0;
    const stopAt = performance.now() + seconds * 1000;
    const start = process.cpuUsage();
    do {
      const t = Date.now();
      for (const bytes of payloads) fn(bytes, t);
      calls += payloads.length;
    } while (performance.now() < stopAt);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / calls;
  };

  // Stage by stage, over inputs the previous stage produced once (same payload order).
  const decoded = payloads.map((bytes) => decode(bytes));
  const requests = decoded.map((m) => {
    if (m.type !== 'ecm' || m.message.type !== 'map-request') throw new Error('expected an ECM Map-Request');
    return { ecm: m, request: m.message };
  });
  const t0 = Date.now();
  const results = requests.map(({ ecm, request }, i) => handleMapRequest(db, options, request, { ecm, bytes: payloads[i]! }, from, t0));
  let i = 0;
  const next = (): number => (i = i + 1 === payloads.length ? 0 : i + 1);
  const resolveOnly = (_: Buffer, t: number): void => {
    const { ecm, request } = requests[next()]!;
    sink += handleMapRequest(db, options, request, { ecm, bytes: payloads[i]! }, from, t).outbound.length;
  };
  const recordOnly = (): void => {
    for (const requester of results[next()]!.answered ?? []) requesters.record(requester);
  };
  const encodeOnly = (): void => {
    for (const out of results[next()]!.outbound) sink += out.kind === 'raw' ? out.bytes.length : encode(out.message).length;
  };

  time(serve); // warm-up: JIT, and the requester table filled as under steady load
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const whole: number[] = [];
  const decoding: number[] = [];
  const resolving: number[] = [];
  const recording: number[] = [];
  const encoding: number[] = [];
  for (let r = 0; r < rounds; r++) {
    whole.push(time(serve));
    decoding.push(time(decodeOnly));
    resolving.push(time(resolveOnly));
    recording.push(time(recordOnly));
    encoding.push(time(encodeOnly));
  }
  const fmt = (xs: number[]): string => `${median(xs).toFixed(3)} µs (rounds: ${xs.map((x) => x.toFixed(3)).join(' ')})`;
  process.stdout.write(`Map-Request hot path, ${mappings} mappings, ${payloads.length} ECM payloads (90% registered hosts), ${rounds} rounds of ${seconds} s\n`);
  process.stdout.write(`  whole path (decode, resolve, record, encode): ${fmt(whole)}\n`);
  process.stdout.write(`  decode alone:                                 ${fmt(decoding)}\n`);
  process.stdout.write(`  handleMapRequest alone:                       ${fmt(resolving)}\n`);
  process.stdout.write(`  RequesterTable.record alone:                  ${fmt(recording)}\n`);
  process.stdout.write(`  encode alone:                                 ${fmt(encoding)}\n`);
  process.stdout.write(`  requesters: ${requesters.size}; checksum ${sink % 997}\n`);
}

main();

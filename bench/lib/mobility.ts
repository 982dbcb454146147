// Mobility fan-out: N ITRs (UDP sockets on distinct loopback addresses 127.1.x.y, port 4342,
// where livmap sends SMRs) each resolve the VM's EID, so livmap remembers them as requesters.
// Then a new ETR registers the VM's EID with another RLOC (the VM moved), and we time from
// sending that Map-Register to the arrival of the last ITR's first SMR; three moves, each to a
// new ETR, the first on cold code. Once per worker count asked (`serve --workers N`: with
// workers a big fan-out leaves from every thread's socket), each on a fresh server with the same
// receivers. Baselines: a bare Node sender's fan-out to the same receivers (the floor, measured
// once for all), and a Map-Register→Map-Notify round trip for an EID nobody asked about.
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ecmAround, mapRequest } from '../../mapserver/codec/build.js';
import { decode, encode, signMessage } from '../../mapserver/codec/index.js';
import { LISP_CONTROL_PORT } from '../../mapserver/codec/ports.js';
import type { MapRegister } from '../../mapserver/codec/types.js';
import type { ConfigJson } from '../../mapserver/json/schema.js';
import { Store } from '../../mapserver/store/store.js';
import type { BareSenderReady, BareSenderSetup } from './bare-sender.js';
import { summarize } from '../../simulations/stats.js';
import { hostRecord } from './payloads.js';
import { freeUdpPort, startLivmap, stop } from './server.js';

/** One move: the VM's EID registered by a new ETR, its SMRs to every ITR that asked. */
export interface MoveTiming {
  readonly smrsReceived: number;
  /** Move Map-Register sent → last ITR's first SMR received. */
  readonly lastSmrMs: number;
  readonly firstSmrMs: number;
  /** Move Map-Register sent → its Map-Notify received (sent after the fan-out). */
  readonly moveNotifyMs: number;
  /** What the server reports (livmap_move_fanout_seconds / the 'binding moved' log line). */
  readonly serverFanoutMs: number;
}

/** One server (`workers` threads): the median move's figures at the top level. */
export interface MobilityRun extends MoveTiming {
  readonly workers: number;
  readonly requestersAnswered: number;
  /** Every move in order (the first runs on cold code). */
  readonly moves: readonly MoveTiming[];
  /** Map-Register→Map-Notify of a registration without fan-out. */
  readonly baselineMs: number;
}

export type MobilityResult =
  | { readonly skipped: string }
  | {
      readonly itrs: number;
      /** The floor: trigger datagram → last of as many SMR-sized datagrams from a bare Node sender, per run. */
      readonly bareFanoutMs: readonly number[];
      /** Median of bareFanoutMs. */
      readonly floorMs: number;
      /** One per worker count, in the order asked. */
      readonly runs: readonly MobilityRun[];
    };

const VM = '10.200.0.1';
const OLD_ETR = '127.0.0.2';
/** The VM moves MOVES times, each time to a new ETR (the newest registration owns the EID). */
const MOVES = 3;
const newEtr = (k: number): string => `127.0.0.${3 + k}`;
/** Less than the 1 s SMR retransmission interval: a move's retransmissions are replaced by the next move's SMRs. */
const MOVE_SPACING_MS = 300;

function itrAddress(i: number): string {
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

function bind(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve();
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function register(eid: string, nonce: bigint, secret: string, rloc: string): Buffer {
  const record = { ...hostRecord(eid), locators: [{ ...hostRecord(eid).locators[0]!, rloc: { afi: 'ipv4' as const, ip: rloc } }] };
  const msg: MapRegister = {
    type: 'map-register', proxyReply: true, security: false, xtrIdPresent: false, rtr: false, wantMapNotify: true, merge: false,
    nonce, auth: { keyId: 0, algId: 2, authData: new Uint8Array(32) }, records: [record],
  };
  return signMessage(msg, secret);
}

/** Type 1 (Map-Request) with the S bit and no other flag. */
const SMR_FIRST_BYTE = 0x11;

/** A datagram the size and first byte of livmap's SMRs for this bench (IPv4 ITR, IPv4 EIDs). */
function smrShaped(): Buffer {
  const bytes = encode(mapRequest({
    smr: true, nonce: 1n,
    sourceEid: { afi: 'ipv4', ip: VM },
    itrRlocs: [{ afi: 'ipv4', ip: '127.0.0.1' }],
    records: [{ iid: 0, address: { afi: 'ipv4', ip: '10.201.0.1' }, length: 32 }],
  }));
  if (bytes[0] !== SMR_FIRST_BYTE) throw new Error(`an SMR starts with 0x${bytes[0]?.toString(16)}, the receivers expect 0x${SMR_FIRST_BYTE.toString(16)}`);
  return bytes;
}

/** Waits (up to 5 s) until every receiver has recorded an arrival; returns the arrival times there are. */
async function arrived(arrivals: ReadonlyArray<bigint | undefined>): Promise<bigint[]> {
  const deadline = Date.now() + 5000;
  while (arrivals.some((t) => t === undefined) && Date.now() < deadline) await sleep(5);
  return arrivals.filter((t): t is bigint => t !== undefined);
}

/** The latest of some hrtimes (0n for none). */
function latest(times: readonly bigint[]): bigint {
  return times.reduce((a, b) => (b > a ? b : a), 0n);
}

/**
 * The fan-out floor: a bare Node sender (bare-sender.ts, its own process like livmap) sends one
 * SMR-sized datagram to every ITR on a trigger datagram; timed from the trigger to the last
 * arrival, with the same receivers as livmap's SMRs.
 */
async function bareFanout(targets: readonly string[], arrivals: Array<bigint | undefined>, runs: number): Promise<number[]> {
  const child = fork(fileURLToPath(new URL('./bare-sender.js', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const trigger = dgram.createSocket('udp4');
  try {
    const ready = new Promise<BareSenderReady>((resolve, reject) => {
      child.once('message', (m) => resolve(m as BareSenderReady));
      child.once('exit', (code) => reject(new Error(`bare sender exited with ${code}`)));
    });
    const setup: BareSenderSetup = { targets, port: 4342, datagram: smrShaped().toString('base64') };
    child.send(setup);
    const { triggerPort } = await ready;
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      arrivals.fill(undefined);
      const sent = process.hrtime.bigint();
      trigger.send(Buffer.from([0]), triggerPort, '127.0.0.1');
      const got = await arrived(arrivals);
      times.push(got.length === targets.length ? Number(latest(got) - sent) / 1e6 : NaN);
      await sleep(200);
    }
    arrivals.fill(undefined);
    return times;
  } finally {
    trigger.close();
    child.kill();
  }
}

/** The VM's current binding, registered by the old ETR (loopback, so Map-Notifies to it stay here), in a fresh store. */
async function seedStore(dataDir: string): Promise<void> {
  const store = await Store.open(dataDir, { sync: false });
  const now = Date.now();
  await store.apply([{
    kind: 'put-registration',
    registration: {
      site: 'bench', etrId: `rloc:${OLD_ETR}`, source: { address: OLD_ETR, port: 4342 }, proxyReply: true, merge: false,
      record: { ...hostRecord(VM), locators: [{ ...hostRecord(VM).locators[0]!, rloc: { afi: 'ipv4', ip: OLD_ETR } }] },
      claimedAt: now, lastRefreshed: now, expiresAt: now + 3600_000,
    },
  }]);
  await store.close();
}

/** An ECM Map-Request from ITR `i` for the VM's EID (ITR-RLOC = its own address, replies to its port 4342). */
function request(i: number): Buffer {
  const sourceEid = `10.201.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  const message = mapRequest({
    nonce: BigInt(i + 1),
    sourceEid: { afi: 'ipv4', ip: sourceEid },
    itrRlocs: [{ afi: 'ipv4', ip: itrAddress(i) }],
    records: [{ iid: 0, address: { afi: 'ipv4', ip: VM }, length: 32 }],
  });
  return encode(ecmAround(message, { source: sourceEid, destination: VM, sourcePort: LISP_CONTROL_PORT }));
}

/** The receivers, shared by the floor and every server. */
interface Receivers {
  readonly sockets: readonly dgram.Socket[];
  /** First SMR arrival per ITR (reset before each fan-out). */
  readonly smrAt: Array<bigint | undefined>;
  /** Whether each ITR got its Map-Reply (reset before each server). */
  readonly answered: Uint8Array;
}

export async function measureMobility(o: { dir: string; itrs: number; secret: string; sites: NonNullable<ConfigJson['sites']>; workers: readonly number[] }): Promise<MobilityResult> {
  const sockets: dgram.Socket[] = [];
  const receivers: Receivers = { sockets, smrAt: new Array(o.itrs).fill(undefined), answered: new Uint8Array(o.itrs) };
  try {
    for (let i = 0; i < o.itrs; i++) {
      const s = dgram.createSocket('udp4');
      try {
        await bind(s, 4342, itrAddress(i));
      } catch (err) {
        s.close();
        return { skipped: `cannot bind ${itrAddress(i)}:4342 (${(err as Error).message}); is something bound to 0.0.0.0:4342?` };
      }
      // The receivers must not be what is measured: 10k of them share this process and one core,
      // so each classifies a datagram by its first byte (type 2 = Map-Reply; 0x11 = Map-Request
      // with only the S bit, exactly what livmap's SMRs carry) instead of decoding it.
      s.on('message', (msg) => {
        const first = msg[0];
        if (first === SMR_FIRST_BYTE) {
          if (receivers.smrAt[i] === undefined) receivers.smrAt[i] = process.hrtime.bigint();
        } else if (first !== undefined && first >> 4 === 2) {
          receivers.answered[i] = 1;
        }
      });
      sockets.push(s);
    }
    // The floor first, while no livmap runs.
    const bareFanoutMs = await bareFanout(Array.from({ length: o.itrs }, (_, i) => itrAddress(i)), receivers.smrAt, 3);
    const runs: MobilityRun[] = [];
    for (const workers of o.workers) runs.push(await measureServer({ ...o, workers, dataDir: join(o.dir, `data-${runs.length + 1}`) }, receivers));
    return { itrs: o.itrs, bareFanoutMs, floorMs: summarize(bareFanoutMs).median, runs };
  } finally {
    for (const s of sockets) s.close();
  }
}

/** One server with `workers` threads: every ITR asks, then the baselines and the moves. */
async function measureServer(o: { dataDir: string; itrs: number; secret: string; sites: NonNullable<ConfigJson['sites']>; workers: number }, receivers: Receivers): Promise<MobilityRun> {
  const { sockets, smrAt, answered } = receivers;
  const { dataDir } = o;
  await seedStore(dataDir);
  answered.fill(0);
  const etrs: dgram.Socket[] = [];
  const server = await startLivmap({ dataDir, port: await freeUdpPort(), sites: o.sites, probeEid: VM, captureLog: true, workers: o.workers });
  try {
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < o.itrs; i++) {
        if (answered[i]) continue;
        sockets[i]!.send(request(i), server.port, '127.0.0.1');
        if (i % 200 === 199) await sleep(5); // paced: the server's receive buffer holds a few thousand
      }
      const deadline = Date.now() + 2000;
      while (answered.reduce((a, b) => a + b, 0) < o.itrs && Date.now() < deadline) await sleep(20);
      if (answered.every((a) => a === 1)) break;
    }
    const requestersAnswered = answered.reduce((a, b) => a + b, 0);

    // The new ETRs: first registrations nobody asked about (baseline), then the moves.
    const notified = new Map<bigint, bigint>();
    for (let k = 0; k < MOVES; k++) {
      const etr = dgram.createSocket('udp4');
      await bind(etr, 0, newEtr(k));
      etrs.push(etr);
      etr.on('message', (msg) => {
        const at = process.hrtime.bigint();
        try {
          const m = decode(msg);
          if (m.type === 'map-notify') notified.set(m.nonce, at);
        } catch {
          // ignore
        }
      });
    }
    const roundTrip = async (etr: dgram.Socket, bytes: Buffer, nonce: bigint): Promise<{ sent: bigint; ms: number }> => {
      const sent = process.hrtime.bigint();
      etr.send(bytes, server.port, '127.0.0.1');
      const deadline = Date.now() + 5000;
      while (!notified.has(nonce) && Date.now() < deadline) await sleep(1);
      const at = notified.get(nonce);
      return { sent, ms: at === undefined ? NaN : Number(at - sent) / 1e6 };
    };
    const baselines: number[] = [];
    for (let k = 0; k < 5; k++) {
      baselines.push((await roundTrip(etrs[0]!, register(`10.202.0.${k + 1}`, 1000n + BigInt(k), o.secret, newEtr(0)), 1000n + BigInt(k))).ms);
    }
    baselines.sort((a, b) => a - b);

    const moves: MoveTiming[] = [];
    for (let k = 0; k < MOVES; k++) {
      smrAt.fill(undefined);
      const nonce = 2000n + BigInt(k);
      const move = await roundTrip(etrs[k]!, register(VM, nonce, o.secret, newEtr(k)), nonce);
      const got = await arrived(smrAt);
      const last = latest(got);
      const first = got.reduce((a, b) => (b < a ? b : a), last);
      moves.push({
        smrsReceived: got.length,
        lastSmrMs: got.length ? Number(last - move.sent) / 1e6 : NaN,
        firstSmrMs: got.length ? Number(first - move.sent) / 1e6 : NaN,
        moveNotifyMs: move.ms,
        serverFanoutMs: NaN,
      });
      await sleep(MOVE_SPACING_MS);
    }
    smrAt.fill(undefined);
    // What the server reports for each move, in order.
    const reported = server.logLines().filter((l) => l.includes('binding moved')).map((l) => Number((JSON.parse(l) as { fanoutMs?: number }).fanoutMs ?? NaN));
    const timed = moves.map((m, k) => ({ ...m, serverFanoutMs: reported[k] ?? NaN }));
    const typical = [...timed].sort((a, b) => a.lastSmrMs - b.lastSmrMs)[Math.floor(timed.length / 2)]!;
    return { workers: o.workers, requestersAnswered, ...typical, moves: timed, baselineMs: baselines[2]! };
  } finally {
    await stop(server);
    for (const etr of etrs) etr.close();
  }
}

// A big fan-out leaves from every thread's socket (workers/pool.ts rule 8): with 2 workers a
// move's SMRs to 2000 ITRs (real UDP sockets on 127.6.x.y:4342, where SMRs go) are split between
// the main thread's socket and the worker's, both bound to the server's address and port. Every
// ITR gets its SMR exactly once per round, from the server's port, counted as with one thread;
// the share of a worker that dies is sent by the main thread. Time is faked for the
// retransmission rounds only (ServerOptions.timers); sockets and threads are real.
import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import type { ServerConfig } from '../../mapserver/config/load.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { BULK_THRESHOLD } from '../../mapserver/transport/outbox.js';
import type { WorkerPool } from '../../mapserver/workers/pool.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { labConfig } from '../helpers/server.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { UdpPeer } from '../helpers/udp.js';

const SERVER = '127.6.200.1';
const VM = '10.16.50.77';
const ITRS = 2000;
/** Type 1 (Map-Request) with the S bit and no other flag: an SMR. */
const SMR_FIRST_BYTE = 0x11;
/** Type 2: a Map-Reply. */
const MAP_REPLY = 2;

const itrAddress = (i: number): string => `127.6.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** 2000 ITRs on port 4342, each counting the SMRs it gets and where they came from. */
class Itrs {
  readonly smrs = new Uint16Array(ITRS);
  readonly answered = new Uint8Array(ITRS);
  /** Sources of SMRs other than the server's address and port. */
  readonly strangers: Endpoint[] = [];

  private constructor(readonly sockets: readonly dgram.Socket[], private readonly server: Endpoint) {
    sockets.forEach((socket, i) => socket.on('message', (bytes, from) => {
      if (bytes[0] === SMR_FIRST_BYTE) {
        this.smrs[i]!++;
        if (from.address !== server.address || from.port !== server.port) this.strangers.push({ address: from.address, port: from.port });
      } else if (bytes[0]! >> 4 === MAP_REPLY) this.answered[i] = 1;
    }));
  }

  static async bind(t: Test, server: Endpoint): Promise<Itrs> {
    const sockets: dgram.Socket[] = [];
    t.teardown(() => Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))));
    for (let i = 0; i < ITRS; i++) {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(4342, itrAddress(i), () => resolve());
      });
      sockets.push(socket);
    }
    return new Itrs(sockets, server);
  }

  /** Every ITR asks for the VM (replies and SMRs to its port 4342), until each is answered. */
  async ask(): Promise<void> {
    for (let attempt = 0; attempt < 5 && this.answered.includes(0); attempt++) {
      for (let i = 0; i < ITRS; i++) {
        if (this.answered[i]) continue;
        this.sockets[i]!.send(ecmRequestBytes({ eid: VM, sourceEid: '10.16.10.9', itr: itrAddress(i), port: 4342 }), this.server.port, this.server.address);
        if (i % 200 === 199) await sleep(5); // paced: the server's receive buffer is not what is tested
      }
      await until(() => !this.answered.includes(0), 2000);
    }
    if (this.answered.includes(0)) throw new Error(`${this.answered.filter((a) => a === 0).length} ITRs were not answered`);
  }

  /** How many ITRs got exactly `n` SMRs, once every ITR has at least `n` (or the wait ran out) and nothing more came for a while. */
  async settledAt(n: number): Promise<number> {
    await until(() => this.smrs.every((c) => c >= n), 5000);
    await sleep(300);
    return this.smrs.filter((c) => c === n).length;
  }
}

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(10);
}

function config(dir: string, workers: number): ServerConfig {
  const base = labConfig(dir, { host: SERVER });
  return { ...base, lisp: { ...base.lisp, workers } };
}

async function start(t: Test, workers: number): Promise<{ server: LispServer; timers: FakeTimers; at: Endpoint; pool: WorkerPool | undefined }> {
  const timers = new FakeTimers();
  const server = await LispServer.start(config(t.testdir(), workers), { timers });
  t.teardown(() => server.close());
  const pool = (server as unknown as { pool: WorkerPool | undefined }).pool;
  return { server, timers, at: server.addresses()[0]!, pool };
}

/** An ETR on `address`:4342 registers the VM at its own address; resolves on its Map-Notify. */
async function register(etr: UdpPeer, at: Endpoint): Promise<void> {
  await etr.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: [etr.local.address] }), at);
  for (;;) {
    const d = await etr.receive(3000);
    if (d.bytes[0]! >> 4 === 4) return; // Map-Notify
  }
}

async function etrs(t: Test, count: number): Promise<UdpPeer[]> {
  const list = await Promise.all(Array.from({ length: count }, (_, i) => UdpPeer.bind(`127.6.201.${i + 1}`, 4342)));
  t.teardown(() => Promise.all(list.map((p) => p.close())));
  return list;
}

/** Bulk datagrams worker 1 sent for the main thread. */
async function bulkSent(pool: WorkerPool): Promise<number> {
  return (await pool.counts()).find((w) => w.index === 1)?.counts?.bulkSent ?? 0;
}

t.ok(ITRS >= 2 * BULK_THRESHOLD, 'the move is big enough to be spread in more than one chunk');

/** A move to 2000 ITRs and its first retransmission round: what arrived and what was counted. */
async function fanOut(t: Test, workers: number): Promise<{ rounds: number[]; counted: number[]; strangers: number; bulk: number[] }> {
  const { server, timers, at, pool } = await start(t, workers);
  const [oldEtr, newEtr] = await etrs(t, 2);
  await register(oldEtr!, at);
  const itrs = await Itrs.bind(t, at);
  await itrs.ask();
  await register(newEtr!, at);
  const rounds = [await itrs.settledAt(1)];
  const counted = [await server.metrics.value('livmap_smrs_sent_total')];
  const bulk = pool ? [await bulkSent(pool)] : [];
  // Nobody answers the SMRs: a second later the whole group is sent again, spread the same way.
  timers.advance(1000);
  rounds.push(await itrs.settledAt(2));
  counted.push(await server.metrics.value('livmap_smrs_sent_total'));
  if (pool) bulk.push(await bulkSent(pool));
  return { rounds, counted, strangers: itrs.strangers.length, bulk };
}

t.test('2 workers: every ITR gets its SMR exactly once per round, from the server port, counted as with 1', async (t) => {
  const two = await fanOut(t, 2);
  t.same(two.rounds, [ITRS, ITRS], 'first send and first retransmission: every ITR got exactly one SMR in each');
  t.equal(two.strangers, 0, 'every SMR came from the server address and port, whichever thread sent it');
  t.same(two.counted, [ITRS, 2 * ITRS], 'livmap_smrs_sent_total counts each SMR once per round');
  t.ok(two.bulk[0]! > 0 && two.bulk[0]! < ITRS, `the worker sent part of the first round (${two.bulk[0]} of ${ITRS})`);
  t.ok(two.bulk[1]! > two.bulk[0]!, `and part of the retransmission round (${two.bulk[1]! - two.bulk[0]!})`);
});

t.test('1 worker: the same move arrives and is counted the same', async (t) => {
  const one = await fanOut(t, 1);
  t.same(one.rounds, [ITRS, ITRS]);
  t.equal(one.strangers, 0);
  t.same(one.counted, [ITRS, 2 * ITRS]);
});

t.test("a worker that dies before sending its share: the main thread sends it, each SMR once", async (t) => {
  const { server, at, pool } = await start(t, 2);
  if (!pool) throw new Error('no worker pool');
  const [oldEtr, ...candidates] = await etrs(t, 9);
  await register(oldEtr!, at);
  const itrs = await Itrs.bind(t, at);
  await itrs.ask();
  // The move's Map-Register must be read by the main socket: the stalled worker would sit on it.
  // Which socket reads a source is the kernel's hash; a register read by the worker is handed
  // to the main thread at once, so the count of Map-Registers the worker passed on tells.
  let etr: UdpPeer | undefined;
  for (const candidate of candidates) {
    const before = await server.metrics.value('livmap_worker_map_requests_total', { worker: '1' });
    await candidate.send(ecmRequestBytes({ eid: '172.31.250.1', sourceEid: '10.16.10.9', itr: candidate.local.address, port: 4342 }), at);
    await candidate.receive(2000);
    if ((await server.metrics.value('livmap_worker_map_requests_total', { worker: '1' })) === before) {
      etr = candidate;
      break;
    }
  }
  if (!etr) throw new Error('none of 8 ETR addresses hashed to the main socket');
  // The worker acks the move, then blocks (the stall is queued right behind the move's
  // changes), so it holds the share it is given next; it dies with the share unsent.
  const publish = pool.publish.bind(pool);
  let armed = true;
  pool.publish = (changes, ack) => {
    const replicated = publish(changes, ack);
    if (ack && armed) {
      armed = false;
      pool.stall(1, 5000);
    }
    return replicated;
  };
  const moved = etr.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: [etr.local.address] }), at);
  await moved;
  await until(() => itrs.smrs.some((c) => c > 0), 3000);
  await sleep(200);
  const beforeDeath = itrs.smrs.filter((c) => c === 1).length;
  t.ok(beforeDeath > 0 && beforeDeath < ITRS, `the main thread sent its own share (${beforeDeath}); the worker's waits`);
  const members = (pool as unknown as { members: Array<{ thread: { terminate(): Promise<number> } }> }).members;
  await members[0]!.thread.terminate();
  t.equal(await itrs.settledAt(1), ITRS, 'once the worker is gone, every ITR has exactly one SMR');
  t.equal(itrs.strangers.length, 0, 'all from the server address and port');
  t.equal(await server.metrics.value('livmap_smrs_sent_total'), ITRS, 'counted once each');
});

// Workers (mapserver/workers/): a server with lisp.workers = 2 answers on two sockets bound to one
// port (the main thread's and a worker thread's, SO_REUSEPORT), with real UDP on loopback
// (127.0.77.x). Which socket a source lands on is the kernel's hash: tests find out by probing.
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import type { MapNotify, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import type { ServerConfig } from '../../mapserver/config/load.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { ACK_TIMEOUT_MS, type WorkerPool } from '../../mapserver/workers/pool.js';
import { labConfig } from '../helpers/server.js';
import { ecmRequestBytes, mapRegisterBytes, notifyAckBytes } from '../helpers/lisp.js';
import { UdpPeer, type Datagram } from '../helpers/udp.js';

const BLOCK = '127.0.77';
const SERVER = `${BLOCK}.1`;
const VM = '10.16.50.77';

function config(dir: string, workers: number, extra: Parameters<typeof labConfig>[1] = {}): ServerConfig {
  const base = labConfig(dir, { host: SERVER, ...extra });
  return { ...base, lisp: { ...base.lisp, workers } };
}

async function start(tap: Tap, workers = 2, extra: Parameters<typeof labConfig>[1] = {}): Promise<{ server: LispServer; at: Endpoint }> {
  const server = await LispServer.start(config(tap.testdir(), workers, extra));
  tap.teardown(() => server.close());
  return { server, at: server.addresses()[0]! };
}

type Tap = Test;

/** Map-Requests each worker has received (worker 0 is the main thread). */
async function perWorker(server: LispServer): Promise<number[]> {
  return [await server.metrics.value('livmap_worker_map_requests_total', { worker: '0' }), await server.metrics.value('livmap_worker_map_requests_total', { worker: '1' })];
}

async function peers(tap: Tap, addresses: readonly string[], port = 0): Promise<UdpPeer[]> {
  const list = await Promise.all(addresses.map((a) => UdpPeer.bind(a, port)));
  tap.teardown(() => Promise.all(list.map((p) => p.close())));
  return list;
}

const range = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `${BLOCK}.${from + i}`);

/** Receives until `accept` takes a datagram (others, e.g. retransmissions, are skipped). */
async function receiveWhere<T>(peer: UdpPeer, accept: (d: Datagram) => T | undefined, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await peer.receive(Math.max(1, deadline - Date.now()));
    const taken = accept(d);
    if (taken !== undefined) return taken;
  }
}

const isReply = (d: Datagram): MapReply | undefined => {
  const m = decode(d.bytes);
  return m.type === 'map-reply' ? m : undefined;
};
const isNotify = (d: Datagram): MapNotify | undefined => {
  const m = decode(d.bytes);
  return m.type === 'map-notify' ? m : undefined;
};
const isSmr = (d: Datagram): MapRequest | undefined => {
  const m = decode(d.bytes);
  return m.type === 'map-request' && m.smr ? m : undefined;
};
const rlocOf = (reply: MapReply): string | undefined => {
  const rloc = reply.records[0]?.locators[0]?.rloc;
  return rloc && rloc.afi === 'ipv4' ? rloc.ip : undefined;
};

/** Asks for VM from `itr` (bound on `itr.local`, answered at its port) and returns the RLOC answered. */
async function ask(itr: UdpPeer, at: Endpoint, eid = VM): Promise<string | undefined> {
  await itr.send(ecmRequestBytes({ eid, sourceEid: '10.16.10.9', itr: itr.local.address, port: itr.local.port }), at);
  return rlocOf(await receiveWhere(itr, isReply));
}

/** Which worker reads what `peer` sends to `at`: one Map-Request, then the per-worker counters. */
async function workerOf(server: LispServer, peer: UdpPeer, at: Endpoint): Promise<number> {
  const before = await perWorker(server);
  await ask(peer, at, '172.31.250.1');
  const after = await perWorker(server);
  return after.findIndex((n, i) => n > before[i]!);
}

/** Registers VM at `rloc` from `etr` (bound on port 4342, as xTRs are) and waits for its Map-Notify. */
async function register(etr: UdpPeer, at: Endpoint, rloc = etr.local.address): Promise<MapNotify> {
  await etr.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: [rloc] }), at);
  return receiveWhere(etr, (d) => {
    const notify = isNotify(d);
    return notify && rlocOf({ type: 'map-reply', records: notify.records } as unknown as MapReply) === rloc ? notify : undefined;
  });
}

t.test('Map-Requests from many sources spread over both sockets; every source sees a registration at once; metrics add up', async (t) => {
  const { server, at } = await start(t);
  t.equal(server.workerThreads, 1, 'one worker thread besides the main one');
  const [etr] = await peers(t, [`${BLOCK}.10`], 4342);
  const notify = await register(etr!, at);
  t.ok(notify, 'the registration is acknowledged');
  // 40 ITR sockets on one address, each its own source port: the kernel hashes them over both sockets.
  const itrs = await peers(t, Array.from({ length: 40 }, () => `${BLOCK}.20`));
  const answers = await Promise.all(itrs.map((itr) => ask(itr, at)));
  t.same(answers, itrs.map(() => `${BLOCK}.10`), 'every source is answered with the registered RLOC, whichever socket read it');
  const spread = await perWorker(server);
  t.ok(spread[0]! > 0 && spread[1]! > 0, `both threads answered (main ${spread[0]}, worker ${spread[1]})`);
  t.equal(spread[0]! + spread[1]!, 40, 'every Map-Request counted once');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-request' }), 40, 'messages_received sums both threads');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'ecm' }), 40);
  t.equal(await server.metrics.value('livmap_map_replies_total', { kind: 'positive' }), 40, 'replies sum both threads');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-register' }), 1, 'the Map-Register counted once, by the main thread');
  t.equal(await server.metrics.value('livmap_datagrams_received_total'), 41, 'datagrams: 40 requests and the register, each once');
  const text = await server.metrics.registry.metrics();
  t.match(text, /livmap_worker_map_requests_total\{worker="1"\} [1-9]/, '/metrics shows the spread');
});

t.test('Map-Register and Map-Notify-Ack read by the worker socket are handled by the main thread; replies leave from the server port', async (t) => {
  const { server, at } = await start(t);
  // ETRs send from port 4342: find two addresses the kernel hashes to the worker's socket.
  const candidates = await peers(t, range(100, 24), 4342);
  const viaWorker: UdpPeer[] = [];
  for (const peer of candidates) if ((await workerOf(server, peer, at)) === 1) viaWorker.push(peer);
  t.ok(viaWorker.length >= 2, `some of 24 sources hash to the worker (${viaWorker.length})`);
  const [etrA, etrB] = viaWorker as [UdpPeer, UdpPeer];
  await register(etrA, at);
  const reply = (await etrA.receive(200).catch(() => undefined));
  t.equal(reply, undefined, 'one Map-Notify');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-register' }), 1);
  // The Map-Notify came from the server's address and port although the worker read the register.
  const [itr] = await peers(t, [`${BLOCK}.30`]);
  t.equal(await ask(itr!, at), etrA.local.address);
  // B takes the VM: A gets a Map-Notify it acknowledges, through the worker socket.
  const notified = receiveWhere(etrA, (d) => {
    const n = isNotify(d);
    return n ? { notify: n, from: d.from } : undefined;
  });
  await register(etrB, at);
  const { notify, from } = await notified;
  t.same(from, at, 'the Map-Notify to the old ETR leaves from the server address and port');
  await etrA.send(notifyAckBytes(notify), at);
  // Unacknowledged, it would be sent again after 1 s.
  const again = await etrA.receive(1500).catch(() => undefined);
  t.equal(again, undefined, 'the ack read by the worker stopped the retransmissions');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-notify-ack' }), 1);
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'unexpected' }), 0, 'the ack matched its Map-Notify');
});

t.test('a move: every ITR, answered by either thread, gets its SMR, and asking right after it gets the new binding', async (t) => {
  const { server, at } = await start(t);
  // A newer claim takes the VM (an ETR that re-registers without having left it does not): one ETR per move.
  const etrs = await peers(t, range(40, 5), 4342);
  // ITRs listen on 4342 (where SMRs go), one address each: the hash spreads them by address.
  const itrs = await peers(t, range(50, 30), 4342);
  const owners: number[] = [];
  for (const itr of itrs) owners.push(await workerOf(server, itr, at));
  t.ok(owners.includes(0) && owners.includes(1), `the ITRs are read by both threads (${owners.filter((o) => o === 1).length} of ${itrs.length} by the worker)`);
  await register(etrs[0]!, at);
  for (const itr of itrs) t.equal(await ask(itr, at), etrs[0]!.local.address);
  // Each move SMRs every ITR, and each asks again at once.
  for (let move = 1; move < etrs.length; move++) {
    const holder = etrs[move]!;
    const smrs = itrs.map((itr) => receiveWhere(itr, isSmr));
    await register(holder, at);
    const after = await Promise.all(itrs.map(async (itr, i) => {
      await smrs[i];
      return ask(itr, at);
    }));
    t.same(after, itrs.map(() => holder.local.address), `move ${move + 1}: every ITR got an SMR and then the new RLOC`);
  }
  t.equal(await server.metrics.value('livmap_moves_total'), 4);
});

t.test('the rate limiter is per socket: one source meets one limiter; one ITR-RLOC from many ports at most N times the rate', async (t) => {
  const burst = 5;
  const { server, at } = await start(t, 2, { rateLimit: { perSecond: 0.001, burst, maxAddresses: 1000 } });
  const [one] = await peers(t, [`${BLOCK}.60`]);
  for (let i = 0; i < 3 * burst; i++) await one!.send(ecmRequestBytes({ eid: '172.31.250.1', sourceEid: '10.16.10.9', itr: one!.local.address, port: one!.local.port }), at);
  let answered = 0;
  while (await one!.receive(300).then(() => true, () => false)) answered++;
  t.equal(answered, burst, 'one ITR sending from one port gets exactly the burst, as with one thread');
  // One ITR-RLOC named from 20 source ports: each socket's limiter allows the burst.
  const senders = await peers(t, Array.from({ length: 20 }, () => `${BLOCK}.61`));
  const [listener] = await peers(t, [`${BLOCK}.62`]);
  for (const s of senders) for (let i = 0; i < burst; i++) await s.send(ecmRequestBytes({ eid: '172.31.250.1', sourceEid: '10.16.10.9', itr: listener!.local.address, port: listener!.local.port }), at);
  let many = 0;
  while (await listener!.receive(300).then(() => true, () => false)) many++;
  const spread = await perWorker(server);
  t.ok(spread[0]! > 3 * burst && spread[1]! > burst, `the requests reached both sockets (${spread.join(', ')})`);
  t.equal(many, 2 * burst, 'the ITR-RLOC got the burst from each of the two limiters, no more');
});

t.test('a worker that dies is restarted and answers again; metrics keep its counts', async (t) => {
  const { server, at } = await start(t);
  const [etr] = await peers(t, [`${BLOCK}.70`], 4342);
  await register(etr!, at);
  const itrs = await peers(t, Array.from({ length: 20 }, () => `${BLOCK}.71`));
  for (const itr of itrs) t.equal(await ask(itr, at), etr!.local.address);
  const before = await perWorker(server);
  t.ok(before[1]! > 0, 'the worker answered');
  const pool = (server as unknown as { pool: { members: Array<{ thread: { terminate(): Promise<number> } }> } }).pool;
  await pool.members[0]!.thread.terminate();
  // While it is down, the kernel gives its share to the main socket: nobody goes unanswered.
  for (const itr of itrs) t.equal(await ask(itr, at), etr!.local.address, 'answered while the worker is down or restarting');
  const deadline = Date.now() + 5000;
  let restarted = false;
  while (!restarted && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const counts = await perWorker(server);
    for (const itr of itrs) await ask(itr, at);
    restarted = (await perWorker(server))[1]! > counts[1]!;
  }
  t.ok(restarted, 'the restarted worker answers again');
  t.ok((await perWorker(server))[1]! >= before[1]!, 'its counts before the restart are kept');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-request' }), (await perWorker(server)).reduce((a, b) => a + b, 0));
});

t.test('a registration the main thread takes while the workers are still starting reaches them', async (t) => {
  // The main socket answers as soon as it is bound, before the worker threads are up: every
  // change from then on must reach the workers, whose snapshot was taken when they were spawned.
  const probe = await UdpPeer.bind(SERVER, 0);
  const port = probe.local.port;
  await probe.close();
  const starting = LispServer.start(config(t.testdir(), 2, { port }));
  t.teardown(async () => (await starting).close());
  const at = { address: SERVER, port };
  const [etr] = await peers(t, [`${BLOCK}.140`], 4342);
  const notified = receiveWhere(etr!, isNotify, 10_000);
  // Registers every 5 ms until the first Map-Notify: the first ones land before the main socket is bound and are lost.
  const sender = setInterval(() => void etr!.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: [etr!.local.address] }), at).catch(() => undefined), 5);
  await notified.finally(() => clearInterval(sender));
  const server = await starting;
  t.equal(server.workerThreads, 1);
  // ITRs on 16 addresses: some hash to the worker's socket; every one must be answered with the registration.
  const itrs = await peers(t, range(141, 16));
  let viaWorker = 0;
  for (const itr of itrs) if ((await workerOf(server, itr, at)) === 1) viaWorker++;
  t.ok(viaWorker > 0, `some ITRs are read by the worker (${viaWorker} of 16)`);
  t.same(await Promise.all(itrs.map((itr) => ask(itr, at))), itrs.map(() => etr!.local.address), 'every ITR, whichever socket reads it, gets the registered RLOC');
});

t.test('workers = 1 starts no thread and no reusePort group; close frees the port', async (t) => {
  const { server, at } = await start(t, 1);
  t.equal(server.workerThreads, 0);
  t.equal((await server.metrics.registry.metrics()).includes('livmap_worker_map_requests_total'), false, 'no per-worker series');
  // Without reusePort, a second socket cannot bind the port.
  await t.rejects(UdpPeer.bind(at.address, at.port), 'the port is not shared');
  const two = await LispServer.start(config(t.testdir() + '-2', 2));
  const port = two.addresses()[0]!;
  await two.close();
  const peer = await UdpPeer.bind(port.address, port.port);
  await peer.close();
  t.pass('after close, the port is free (every thread closed its socket)');
});

t.test("a move's SMRs and Map-Notify wait for every worker's ack; a worker that misses ACK_TIMEOUT_MS is fenced", async (t) => {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const server = await LispServer.start(config(t.testdir(), 2), { logger });
  t.teardown(() => server.close());
  const at = server.addresses()[0]!;
  const pool = (server as unknown as { pool: WorkerPool }).pool;
  // ETRs whose registers the main socket reads (a register read by the stalled worker would
  // wait for the stall itself), and an ITR read by the worker, listening where SMRs go.
  const candidates = await peers(t, range(80, 16), 4342);
  const etrs: UdpPeer[] = [];
  let itr: UdpPeer | undefined;
  for (const peer of candidates) {
    if ((await workerOf(server, peer, at)) === 1) itr ??= peer;
    else if (etrs.length < 3) etrs.push(peer);
  }
  if (!itr || etrs.length < 3) throw new Error('16 addresses did not hash to both sockets');
  await register(etrs[0]!, at);
  t.equal(await ask(itr, at), etrs[0]!.local.address);

  // The worker is busy for 200 ms: the SMR and the new ETR's Map-Notify wait for its ack.
  pool.stall(1, 200);
  let started = Date.now();
  let previous: bigint | undefined;
  const smr = receiveWhere(itr, isSmr).then((m) => {
    previous = m.nonce;
    return Date.now() - started;
  });
  const notified = register(etrs[1]!, at).then(() => Date.now() - started);
  t.ok((await smr) >= 190, `the SMR left once the worker had the new binding (${await smr} ms)`);
  t.ok((await notified) >= 190, `so did the Map-Notify (${await notified} ms)`);
  t.equal(await ask(itr, at), etrs[1]!.local.address, 'the ITR asking after its SMR gets the new binding from the worker');

  // A worker stuck far longer than the bound is fenced: stopped, so its socket cannot answer
  // with the old binding, and started again from a snapshot that holds the new one.
  const restartsBefore = pool.restarts;
  pool.stall(1, 10_000);
  started = Date.now();
  // (The previous move's SMR is retransmitted every second: skip it.)
  const late = receiveWhere(itr, (d) => (isSmr(d)?.nonce !== previous ? isSmr(d) : undefined), 5000).then(() => Date.now() - started);
  await register(etrs[2]!, at);
  const waited = await late;
  t.ok(waited >= ACK_TIMEOUT_MS - 10 && waited < ACK_TIMEOUT_MS + 2000, `the SMR waited the bound, not the worker's 10 s (${waited} ms)`);
  t.match(warnings.join(''), /did not ack a change in time: stopping them/, 'the late worker is logged');
  t.equal(pool.restarts, restartsBefore + 1, 'the late worker was stopped and started again');
  t.equal(await ask(itr, at, VM), etrs[2]!.local.address, 'the ITR asking right after its SMR gets the new binding');
  let reader = await workerOf(server, itr, at);
  for (const until = Date.now() + 5000; reader !== 1 && Date.now() < until; reader = await workerOf(server, itr, at)) await new Promise((r) => setTimeout(r, 50));
  t.equal(reader, 1, 'the restarted worker answers its share again');
  t.equal(await ask(itr, at, VM), etrs[2]!.local.address, 'with the new binding');
});

t.test('an RFC 9437 subscribe read by the worker socket is stored by the main thread and answered', async (t) => {
  const { server, at } = await start(t);
  const [etr] = await peers(t, [`${BLOCK}.120`], 4342);
  await register(etr!, at);
  const candidates = await peers(t, range(121, 12), 4342);
  let subscriber: UdpPeer | undefined;
  for (const peer of candidates) if ((await workerOf(server, peer, at)) === 1) subscriber ??= peer;
  if (!subscriber) throw new Error('none of 12 addresses hashed to the worker');
  const before = await server.metrics.value('livmap_messages_received_total', { type: 'map-request' });
  await subscriber.send(ecmRequestBytes({ eid: VM, sourceEid: '10.16.10.9', itr: subscriber.local.address, port: 4342, subscribe: { xtrId: new Uint8Array(16).fill(7) } }), at);
  const answer = await receiveWhere(subscriber, (d) => {
    const m = decode(d.bytes);
    return m.type === 'map-notify' || m.type === 'map-reply' ? m.type : undefined;
  });
  t.equal(answer, 'map-notify', 'the subscriber gets the Map-Notify the main thread sends for a stored subscription');
  t.equal(server.subscriptions.size, 1, 'the subscription is in the main thread’s table');
  t.equal(await server.metrics.value('livmap_messages_received_total', { type: 'map-request' }) - before, 1, 'counted once');
});

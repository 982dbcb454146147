// A VM moving back and forth between two sites whose ETRs register as OOR does (bursts of every
// mapping, never a withdrawal), over real UDP on loopback, against the real server and store.
// Time is the only thing mocked: the server's clock, so a 170 s gap takes no real time.
import t, { type Test } from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import type { MapReply, MapRequest } from '../../mapserver/codec/types.js';
import type { ServerEvent } from '../../mapserver/control/types.js';
import type { Endpoint, Site } from '../../mapserver/db/model.js';
import { formatEidPrefix, parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { BURST_SETTLE_MS } from '../../mapserver/authority/bursts.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { ecmRequestBytes } from '../helpers/lisp.js';
import { OorLikeEtr } from '../helpers/oor-like.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';

const key = [{ alg: 'hmac-sha1' as const, secret: INTEROP_KEY }];
const SITES: Site[] = [
  { name: 'local', keys: key, prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] },
  { name: 'cloud', keys: key, prefixes: [{ eid: parseEidPrefix('192.168.20.0/24'), acceptMoreSpecifics: true }] },
  { name: 'corr', keys: key, prefixes: [{ eid: parseEidPrefix('172.16.30.0/24'), acceptMoreSpecifics: true }] },
];
const VM = { eid: '10.16.10.50/32', ttl: 1 };
const T0 = 1_700_000_000_000;

class Lab {
  clock = T0;
  readonly timers = new FakeTimers();
  readonly events: ServerEvent[] = [];
  server!: LispServer;

  private constructor(readonly t: Test, readonly dir: string, readonly local: OorLikeEtr, readonly cloud: OorLikeEtr, readonly itr: UdpPeer) {}

  static async start(t: Test, base: string): Promise<Lab> {
    const placeholder: Endpoint = { address: '127.0.0.1', port: 0 };
    const local = await OorLikeEtr.start(`${base}.1`, placeholder, [{ eid: '10.16.10.0/24', ttl: 10 }, VM]);
    const cloud = await OorLikeEtr.start(`${base}.2`, placeholder, [{ eid: '192.168.20.0/24', ttl: 10 }]);
    const itr = await UdpPeer.bind(`${base}.3`, 4342);
    t.teardown(async () => { await local.close(); await cloud.close(); await itr.close(); });
    const lab = new Lab(t, t.testdir(), local, cloud, itr);
    await lab.restart();
    t.teardown(() => lab.server.close());
    return lab;
  }

  get ms(): Endpoint {
    return this.server.addresses()[0]!;
  }

  /** Starts (or restarts) the server on the same data directory. */
  async restart(): Promise<void> {
    if (this.server) await this.server.close();
    this.server = await LispServer.start(labConfig(this.dir, { sites: SITES, host: '127.0.0.1' }), {
      now: () => this.clock, timers: this.timers, sweepIntervalMs: 3_600_000,
    });
    this.server.events.on('event', (e) => this.events.push(e));
    this.local.ms = this.ms;
    this.cloud.ms = this.ms;
  }

  /** One burst of `etr` now (on the lab's clock); resolves once the server has handled it. */
  async burst(etr: OorLikeEtr): Promise<string[]> {
    const read = (): Promise<number> => this.server.metrics.value('livmap_datagrams_received_total');
    const target = (await read()) + etr.mappings.length;
    return etr.burst(30, async () => {
      while ((await read()) < target) await new Promise((r) => setTimeout(r, 2));
      await this.server.settled();
    }, this.clock);
  }

  /** The sweep, after the quiet gap that completes the bursts just sent. */
  settle(): void {
    this.clock += 300;
    this.server.sweep();
  }

  /** The sweep once a quiet burst has settled: what its ETR held against another ETR is left only then. */
  settleHeld(): void {
    this.clock += BURST_SETTLE_MS;
    this.server.sweep();
  }
  /** Lets `ms` pass, with OOR's periodic burst from each ETR 60 s after its last burst. */
  async elapse(ms: number): Promise<void> {
    const end = this.clock + ms;
    for (;;) {
      const due = Math.min(...[this.local, this.cloud].map((etr) => etr.lastBurstAt + 60_000));
      if (due > end) break;
      this.clock = due;
      for (const etr of [this.local, this.cloud]) if (etr.lastBurstAt + 60_000 <= this.clock) await this.burst(etr);
      this.settle();
    }
    this.clock = end;
    this.server.sweep();
  }

  holder(): string | undefined {
    const r = this.server.db.resolve(parseEidPrefix(VM.eid), this.clock);
    const rloc = r.kind === 'registered' ? r.binding.record.locators[0]?.rloc : undefined;
    return rloc?.afi === 'ipv4' ? rloc.ip : undefined;
  }

  /** The correspondent's ITR resolves the VM (as it does when its map-cache entry is missing or SMR'd). */
  async resolve(smrInvoked = false): Promise<string | undefined> {
    await this.itr.send(ecmRequestBytes({ eid: '10.16.10.50', sourceEid: '172.16.30.10', itr: this.itr.local.address, smrInvoked }), this.ms);
    for (;;) {
      const message = decode((await this.itr.receive()).bytes);
      if (message.type !== 'map-reply') continue;
      const rloc = (message as MapReply).records[0]?.locators[0]?.rloc;
      return rloc?.afi === 'ipv4' ? rloc.ip : undefined;
    }
  }

  /** Waits for an SMR at the correspondent's ITR; answers it as OOR does; returns where it now points. */
  async followSmr(): Promise<string | undefined> {
    for (;;) {
      const message = decode((await this.itr.receive()).bytes);
      if (message.type === 'map-request' && (message as MapRequest).smr) return this.resolve(true);
    }
  }

  /**
   * The hypervisor hook moves the VM: both site xTRs get their new database (OOR's local API),
   * and each sends a burst at once; `order` says which xTR hears first.
   */
  async move(to: OorLikeEtr, from: OorLikeEtr, order: 'new-first' | 'old-first' = 'new-first'): Promise<{ confirmed: string[] }> {
    this.clock += 1;
    to.mappings = [...to.mappings, VM];
    from.mappings = from.mappings.filter((m) => m.eid !== VM.eid);
    let confirmed: string[];
    if (order === 'new-first') {
      confirmed = await this.burst(to);
      await this.burst(from);
    } else {
      await this.burst(from);
      confirmed = await this.burst(to);
    }
    this.settle();
    return { confirmed };
  }
}

t.test('register-only moves A→B→A→B→A→B converge at once for every gap, in either update order', async (t) => {
  const lab = await Lab.start(t, '127.0.43');
  await lab.burst(lab.local);
  await lab.burst(lab.cloud);
  lab.settle();
  t.equal(await lab.resolve(), '127.0.43.1', 'the ITR caches the VM at the local site');

  // 2.5 s: a change burst where OOR's retry of an unanswered register would come.
  const gaps = [1_000, 2_500, 30_000, 170_000, 2_000];
  let at = lab.local;
  let other = lab.cloud;
  for (let i = 0; i < 6; i++) {
    const order = i % 2 === 0 ? 'new-first' : 'old-first';
    const { confirmed } = await lab.move(other, at, order);
    [at, other] = [other, at];
    const label = `move ${i + 1} to ${at.rloc} (${order})`;
    t.ok(confirmed.includes(VM.eid), `${label}: the new xTR's Map-Notify confirms the VM`);
    t.equal(lab.holder(), at.rloc, `${label}: answered with the new site at once`);
    t.equal(await lab.followSmr(), at.rloc, `${label}: the ITR that cached the VM is SMR'd and re-resolves to it`);
    const moved = lab.events.filter((e) => e.type === 'moved');
    t.match(moved[moved.length - 1], { type: 'moved', to: [at.rloc], site: at === lab.local ? 'local' : 'cloud' }, `${label}: the event names the site`);
    if (i < gaps.length) {
      await lab.elapse(gaps[i]!);
      t.equal(lab.holder(), at.rloc, `${label}: held through ${gaps[i]! / 1000} s of periodic bursts`);
      await lab.resolve();
    }
  }
  t.equal(await lab.server.metrics.value('livmap_moves_total'), 6, 'six moves, no flip in between');
});

t.test('a stale ETR that keeps listing the VM never flips it; the VM going back to it converges', async (t) => {
  const lab = await Lab.start(t, '127.0.44');
  await lab.burst(lab.local);
  await lab.burst(lab.cloud);
  lab.settle();
  await lab.resolve();
  // The VM moves to the cloud, but the local xTR's config is never updated.
  lab.clock += 1;
  lab.cloud.mappings = [...lab.cloud.mappings, VM];
  t.ok((await lab.burst(lab.cloud)).includes(VM.eid));
  lab.settle();
  t.equal(lab.holder(), '127.0.44.2');
  t.equal(await lab.followSmr(), '127.0.44.2');
  const movesBefore = await lab.server.metrics.value('livmap_moves_total');
  for (let i = 0; i < 4; i++) {
    lab.clock += 60_000;
    const confirmed = await lab.burst(lab.local);
    t.notOk(confirmed.includes(VM.eid), `burst ${i + 1}: the stale xTR gets no Map-Notify for the VM`);
    t.ok(confirmed.includes('10.16.10.0/24'), 'but its own site prefix is confirmed');
    await lab.burst(lab.cloud);
    lab.settle();
    t.equal(lab.holder(), '127.0.44.2', `burst ${i + 1}: the binding stays with the cloud`);
  }
  t.equal(await lab.server.metrics.value('livmap_moves_total'), movesBefore, 'no flip');
  t.ok(await lab.itr.silentFor(100), 'no SMR to the correspondent');
  t.match(lab.events.filter((e) => e.type === 'contested').at(-1), { claimant: 'rloc:127.0.44.1', holders: ['rloc:127.0.44.2'] }, 'the event names both ETRs');
  t.ok(await lab.server.metrics.value('livmap_stale_claims_total', { eid: VM.eid, claimant: 'rloc:127.0.44.1', holder: 'rloc:127.0.44.2' }) >= 4);

  // The VM goes back to local (whose config listed it all along); only the cloud is updated.
  lab.clock += 5_000;
  t.equal(await lab.resolve(), '127.0.44.2', 'the correspondent, its entry expired, resolves it again');
  lab.cloud.mappings = lab.cloud.mappings.filter((m) => m.eid !== VM.eid);
  await lab.burst(lab.cloud);
  lab.settle();
  t.equal(lab.holder(), '127.0.44.2', 'the cloud held it against the local xTR: its quiet burst leaves it only once settled');
  lab.settleHeld();
  t.equal(lab.holder(), '127.0.44.1', 'the cloud stopped listing it: the local xTR that still lists it holds it');
  t.equal(await lab.followSmr(), '127.0.44.1');
});

t.test('a replayed Map-Register cannot move the VM, from any address, before or after a restart', async (t) => {
  const lab = await Lab.start(t, '127.0.45');
  await lab.burst(lab.local);
  await lab.burst(lab.cloud);
  lab.settle();
  const captured = lab.local.sent.find((bytes) => bytes.includes(Buffer.from([10, 16, 10, 50])))!;
  await lab.move(lab.cloud, lab.local);
  t.equal(lab.holder(), '127.0.45.2');

  const attacker = await UdpPeer.bind('127.0.45.9', 4342);
  t.teardown(() => attacker.close());
  lab.clock += 10_000;
  await attacker.send(captured, lab.ms);
  await lab.local.peer.send(captured, lab.ms);
  t.ok(await attacker.silentFor(150), 'no Map-Notify for the replay');
  t.equal(lab.holder(), '127.0.45.2', 'the binding did not move');
  t.equal(await lab.server.metrics.value('livmap_messages_dropped_total', { reason: 'replay' }), 2, 'both copies refused as replays');

  lab.clock += 5_000;
  await lab.restart();
  await attacker.send(captured, lab.ms);
  t.ok(await attacker.silentFor(150));
  t.equal(lab.holder(), '127.0.45.2', 'still not after a restart');
  t.equal(await lab.server.metrics.value('livmap_messages_dropped_total', { reason: 'replay' }), 1, 'the restarted server refused it as a replay');
});

t.test('a restart between moves: the claims come back from the store, whatever order the ETRs register in', async (t) => {
  for (const order of ['local-first', 'cloud-first'] as const) {
    await t.test(order, async (t) => {
      const lab = await Lab.start(t, order === 'local-first' ? '127.0.46' : '127.0.47');
      await lab.burst(lab.local);
      await lab.burst(lab.cloud);
      lab.settle();
      t.equal(await lab.resolve(), lab.local.rloc, 'the ITR caches the VM');
      await lab.move(lab.cloud, lab.local);
      t.equal(lab.holder(), lab.cloud.rloc);
      t.equal(await lab.followSmr(), lab.cloud.rloc, 'and follows the first move');
      lab.clock += 2_000;
      await lab.restart();
      t.equal(lab.holder(), lab.cloud.rloc, 'held by the cloud right after the restart');
      // Periodic bursts after the restart, in either order.
      lab.clock += 30_000;
      for (const etr of order === 'local-first' ? [lab.local, lab.cloud] : [lab.cloud, lab.local]) await lab.burst(etr);
      lab.settle();
      t.equal(lab.holder(), lab.cloud.rloc, 'still the cloud');
      // And the move back, register-only, converges as the first move did: the ITR that cached
      // the VM before the restart (and has not asked since) gets its SMR.
      await lab.move(lab.local, lab.cloud);
      t.equal(lab.holder(), lab.local.rloc, 'the move back after a restart');
      t.equal(await lab.followSmr(), lab.local.rloc, 'SMR to the ITR the restarted server remembers');
      await lab.move(lab.cloud, lab.local);
      t.equal(await lab.followSmr(), lab.cloud.rloc, 'and the next move too');
    });
  }
});

t.test('a clean stop right after a burst keeps what the burst left', async (t) => {
  const lab = await Lab.start(t, '127.0.49');
  await lab.burst(lab.local);
  await lab.burst(lab.cloud);
  lab.settle();
  t.equal(await lab.resolve(), lab.local.rloc);
  // The VM moves to the cloud; livmap is restarted 50 ms after the bursts, before the quiet gap.
  lab.clock += 1;
  lab.cloud.mappings = [...lab.cloud.mappings, VM];
  lab.local.mappings = lab.local.mappings.filter((m) => m.eid !== VM.eid);
  await lab.burst(lab.cloud);
  await lab.burst(lab.local);
  lab.clock += 50;
  await lab.restart();
  t.equal(lab.server.db.registered(parseEidPrefix(VM.eid))?.byEtr.get(`rloc:${lab.local.rloc}`)?.left, true, 'the local xTR had left the VM');
  // The VM comes back: the local xTR's listing is a fresh claim, even on a restarted server.
  lab.clock += 2_000;
  lab.local.mappings = [...lab.local.mappings, VM];
  lab.cloud.mappings = lab.cloud.mappings.filter((m) => m.eid !== VM.eid);
  const confirmed = await lab.burst(lab.local);
  t.ok(confirmed.includes(VM.eid), 'the returning xTR is confirmed at once');
  t.equal(lab.holder(), lab.local.rloc, 'and holds the VM before the cloud says anything');
});

t.test("two database changes of one xTR 100 ms apart: the second burst's omission is seen", async (t) => {
  const lab = await Lab.start(t, '127.0.51');
  await lab.burst(lab.local);
  await lab.burst(lab.cloud);
  lab.settle();
  // The VM arrives at the cloud and leaves it again 100 ms later (within the 250 ms quiet gap):
  // the cloud xTR's second burst lists its site prefix again, so it is a burst of its own.
  lab.clock += 1_000;
  lab.cloud.mappings = [...lab.cloud.mappings, VM];
  await lab.burst(lab.cloud);
  t.equal(lab.holder(), lab.cloud.rloc, 'the cloud claimed the VM');
  lab.clock += 100;
  lab.cloud.mappings = lab.cloud.mappings.filter((m) => m.eid !== VM.eid);
  await lab.burst(lab.cloud);
  lab.settle();
  lab.settleHeld();
  t.equal(lab.server.db.registered(parseEidPrefix(VM.eid))?.byEtr.get(`rloc:${lab.cloud.rloc}`)?.left, true, 'the cloud xTR left the VM');
  t.equal(lab.holder(), lab.local.rloc, 'and the VM is answered at the local site again');
});

t.test("the holder's periodic burst split by a stall: the half that arrives late is no move, and the stale ETR never holds", async (t) => {
  const lab = await Lab.start(t, '127.0.52');
  await lab.burst(lab.local);
  await lab.burst(lab.cloud);
  lab.settle();
  // The VM moved to the cloud; the local xTR is stale (its config still lists the VM).
  lab.clock += 1;
  lab.cloud.mappings = [...lab.cloud.mappings, VM];
  await lab.burst(lab.cloud);
  lab.settle();
  t.equal(lab.holder(), lab.cloud.rloc);
  const movesBefore = await lab.server.metrics.value('livmap_moves_total');
  // 60 s later the cloud's periodic burst is split: its site prefix, then the VM 400 ms later
  // (OOR or livmap descheduled on a loaded machine); the sweep runs in between.
  lab.clock += 60_000;
  const full = lab.cloud.mappings;
  lab.cloud.mappings = full.filter((m) => m.eid !== VM.eid);
  await lab.burst(lab.cloud);
  lab.settle();
  t.equal(lab.holder(), lab.cloud.rloc, 'the first half went quiet: the VM stays with the cloud');
  lab.clock += 100;
  lab.server.sweep();
  lab.cloud.mappings = full.filter((m) => m.eid === VM.eid);
  await lab.burst(lab.cloud);
  lab.settle();
  lab.cloud.mappings = full;
  t.equal(lab.holder(), lab.cloud.rloc, 'the second half is a refresh');
  t.equal(await lab.server.metrics.value('livmap_moves_total'), movesBefore, 'no move, not even for a moment');
  t.notOk(lab.events.some((e) => e.type === 'left' && e.etrId === `rloc:${lab.cloud.rloc}` && formatEidPrefix(e.eid) === VM.eid), 'the cloud never left the VM');
  // The stale local xTR's burst and the cloud's next one change nothing either.
  await lab.elapse(130_000);
  t.equal(lab.holder(), lab.cloud.rloc);
  t.equal(await lab.server.metrics.value('livmap_moves_total'), movesBefore);
});

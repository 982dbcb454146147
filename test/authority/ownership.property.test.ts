// The registration authority against a reference model: random sequences of register bursts
// (moves, stale refreshes, periodic bursts), silences long enough to expire registrations,
// operator moves and restarts, driven over real UDP into the real server and store. After every
// step the server must answer with the holder the model names, and a Map-Notify must confirm an
// ETR's registration of the VM exactly when the model says that ETR holds it.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { BURST_SETTLE_MS } from '../../mapserver/authority/bursts.js';
import { OPERATOR_MOVE_ETR_ID } from '../../mapserver/authority/ownership.js';
import type { Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { INTEROP_KEY, record, registration } from '../helpers/fixtures.js';
import { OorLikeEtr } from '../helpers/oor-like.js';
import { labConfig } from '../helpers/server.js';

const key = [{ alg: 'hmac-sha1' as const, secret: INTEROP_KEY }];
const SITES: Site[] = [
  { name: 'local', keys: key, prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] },
  { name: 'cloud', keys: key, prefixes: [{ eid: parseEidPrefix('192.168.20.0/24'), acceptMoreSpecifics: true }] },
];
const VM = { eid: '10.16.10.50/32', ttl: 1 };
const LIFETIME = 180_000;
const ETRS = ['127.0.48.1', '127.0.48.2'] as const;
type Etr = 0 | 1;

type Step =
  | { kind: 'burst'; etr: Etr; listsVm: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'hint'; to: Etr }
  | { kind: 'restart' };

interface Reg { claimedAt: number; lastRefreshed: number; expiresAt: number; left: boolean; stored: { lastRefreshed: number; expiresAt: number } }
/** A quiet refresh is written once the stored expiry is closer than this (compose/commit.ts REFRESH_WRITE_MARGIN_MS). */
const REFRESH_WRITE_MARGIN = 120_000;

/** The rule, written plainly (README "Who holds an EID"). */
class Model {
  /**
   * `stored`: the copy in the store, what a restart brings back. A refresh that changes nothing
   * but the lifetime is not written while the stored expiry is 2 minutes ahead or more
   * (compose/commit.ts), so a restart may bring a registration back with an earlier expiry.
   */
  private readonly regs = new Map<Etr, Reg>();
  private readonly lastBurst = new Map<Etr, number>();
  /** An omission by the VM's holder against another ETR: it leaves at this time unless the ETR bursts again first. */
  private readonly pendingLeft = new Map<Etr, number>();
  private hint: { claimedAt: number; expiresAt: number; to: Etr } | undefined;

  burst(etr: Etr, listsVm: boolean, now: number): void {
    this.settle(now);
    // The ETR's new burst decides what its previous one left pending.
    this.pendingLeft.delete(etr);
    const previous = this.lastBurst.get(etr);
    // A burst when OOR's retry of an unanswered register would come does not hand the VM over.
    const maybeRetry = previous !== undefined && now - previous >= 1800 && now - previous <= 3300;
    this.lastBurst.set(etr, now);
    const existing = this.regs.get(etr);
    if (!listsVm) {
      if (!existing || existing.left || existing.expiresAt <= now) return;
      const contested = [...this.regs].some(([other, r]) => other !== etr && r.expiresAt > now) || (this.hint !== undefined && this.hint.expiresAt > now);
      const heldAgainstOthers = contested && this.holder(now) === etr && !this.hintHolds(now);
      if (!heldAgainstOthers) leave(existing);
      // Completed by the sweep 300 ms later, it leaves the VM once settled (bursts.ts BURST_SETTLE_MS).
      else if (!maybeRetry) this.pendingLeft.set(etr, now + 300 + BURST_SETTLE_MS);
      return;
    }
    const fresh = !existing || existing.left || existing.expiresAt <= now;
    let claimedAt = fresh ? now : existing.claimedAt;
    if (this.hint && this.hint.expiresAt > now && (fresh || this.hint.to === etr)) {
      if (!fresh) claimedAt = Math.max(claimedAt, this.hint.claimedAt);
      this.hint = undefined;
    }
    const quiet = existing !== undefined && !fresh && claimedAt === existing.claimedAt && existing.stored.expiresAt - now >= REFRESH_WRITE_MARGIN;
    const stored = quiet ? existing.stored : { lastRefreshed: now, expiresAt: now + LIFETIME };
    this.regs.set(etr, { claimedAt, lastRefreshed: now, expiresAt: now + LIFETIME, left: false, stored });
  }

  /** A restart: every registration as the store holds it. */
  restart(now: number): void {
    this.settle(now, true);
    for (const reg of this.regs.values()) {
      reg.lastRefreshed = reg.stored.lastRefreshed;
      reg.expiresAt = reg.stored.expiresAt;
    }
  }

  /** What settled by `now` (the server's sweep runs at every step's time); `all`: a clean stop settles everything. */
  settle(now: number, all = false): void {
    for (const [etr, at] of this.pendingLeft) {
      if (!all && now < at) continue;
      this.pendingLeft.delete(etr);
      const reg = this.regs.get(etr);
      if (reg && reg.expiresAt > now) leave(reg);
    }
  }

  move(to: Etr, now: number): void {
    this.hint = { claimedAt: now, expiresAt: now + LIFETIME, to };
  }

  private hintHolds(now: number): boolean {
    const hint = this.hint && this.hint.expiresAt > now ? this.hint : undefined;
    if (!hint) return false;
    const live = [...this.regs].filter(([, r]) => r.expiresAt > now);
    const listing = live.filter(([, r]) => !r.left);
    const newestClaim = Math.max(-Infinity, ...(listing.length ? listing : live).map(([, r]) => r.claimedAt));
    return hint.claimedAt >= newestClaim;
  }

  holder(now: number): Etr | undefined {
    this.settle(now);
    const live = [...this.regs].filter(([, r]) => r.expiresAt > now);
    const listing = live.filter(([, r]) => !r.left);
    const candidates = listing.length ? listing : live;
    candidates.sort(([ea, a], [eb, b]) => a.claimedAt - b.claimedAt || a.lastRefreshed - b.lastRefreshed || ETRS[ea].localeCompare(ETRS[eb]));
    const winner = candidates.at(-1);
    const hint = this.hint && this.hint.expiresAt > now ? this.hint : undefined;
    if (hint && (!winner || hint.claimedAt >= winner[1].claimedAt)) return hint.to;
    return winner?.[0];
  }
}

/** A registration its ETR's burst left: the change is written, lifetime and all. */
function leave(reg: Reg): void {
  reg.left = true;
  reg.stored = { lastRefreshed: reg.lastRefreshed, expiresAt: reg.expiresAt };
}

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('burst' as const), etr: fc.constantFrom<Etr>(0, 1), listsVm: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 300, max: 5_000 }), fc.integer({ min: 5_000, max: 200_000 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hint' as const), to: fc.constantFrom<Etr>(0, 1) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

t.test('property: the server holds what the reference model says, after every step', async (t) => {
  const etrs = await Promise.all(ETRS.map((rloc, i) => OorLikeEtr.start(rloc, { address: '127.0.0.1', port: 0 }, [{ eid: i === 0 ? '10.16.10.0/24' : '192.168.20.0/24', ttl: 10 }])));
  t.teardown(async () => { for (const etr of etrs) await etr.close(); });
  let runs = 0;
  const root = t.testdir();
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 14 }), async (steps) => {
      const dir = mkdtempSync(join(root, `run-${runs++}-`));
      let clock = 1_700_000_000_000;
      const options = { now: () => clock, timers: new FakeTimers(), sweepIntervalMs: 3_600_000 };
      let server = await LispServer.start(labConfig(dir, { sites: SITES, host: '127.0.0.1' }), options);
      const model = new Model();
      try {
        for (const etr of etrs) etr.ms = server.addresses()[0]!;
        for (const s of steps) {
          switch (s.kind) {
            case 'burst': {
              const etr = etrs[s.etr]!;
              etr.mappings = [etr.mappings[0]!, ...(s.listsVm ? [VM] : [])];
              const target = (await server.metrics.value('livmap_datagrams_received_total')) + etr.mappings.length;
              // 150 ms without a datagram ends the wait for Map-Notifies: on a loaded CI machine one
              // came more than 30 ms after the server had handled the burst (seed 1976174808).
              const confirmed = await etr.burst(150, async () => {
                while ((await server.metrics.value('livmap_datagrams_received_total')) < target) await new Promise((r) => setTimeout(r, 2));
                await server.settled();
              });
              model.burst(s.etr, s.listsVm, clock);
              if (s.listsVm && confirmed.includes(VM.eid) !== (model.holder(clock) === s.etr)) {
                throw new Error(`Map-Notify for the VM to ${etr.rloc}: ${confirmed.includes(VM.eid)}, model holder ${model.holder(clock)}`);
              }
              clock += 300; // the quiet gap: the sweep completes the burst
              server.sweep();
              break;
            }
            case 'advance':
              clock += s.ms;
              server.sweep();
              break;
            case 'hint': {
              const reg = registration('local', ETRS[s.to], record(VM.eid, [ETRS[s.to]], 1), clock, { etrId: OPERATOR_MOVE_ETR_ID, expiresAt: clock + LIFETIME });
              await server.applyChanges([{ kind: 'delete-registration', eid: reg.record.eid, etrId: OPERATOR_MOVE_ETR_ID }, { kind: 'put-registration', registration: reg }]);
              model.move(s.to, clock);
              break;
            }
            case 'restart':
              await server.close();
              model.restart(clock);
              server = await LispServer.start(labConfig(dir, { sites: SITES, host: '127.0.0.1' }), options);
              for (const etr of etrs) etr.ms = server.addresses()[0]!;
              break;
          }
          // The holder of the VM's own /32 (the site prefix 10.16.10.0/24 answers when nobody holds it).
          const rloc = server.db.bindingAt(parseEidPrefix(VM.eid), clock)?.record.locators[0]?.rloc;
          const got = rloc?.afi === 'ipv4' ? rloc.ip : undefined;
          const expected = model.holder(clock);
          if (got !== (expected === undefined ? undefined : ETRS[expected])) {
            throw new Error(`after ${JSON.stringify(s)}: server answers ${got}, model holder ${expected === undefined ? 'none' : ETRS[expected]}`);
          }
        }
      } finally {
        await server.close();
      }
    }),
    {
      numRuns: 15,
      endOnFailure: true,
      // First, seed 1489375575, which the model failed when the holder's quiet burst started to
      // leave the VM only once settled (the server was right: the model still left it at once).
      // Then seed 653491627: the same hint twice at one instant made the second put look like a
      // quiet refresh; its batch's delete was stored and the put was not, so the restart lost it.
      // Then seed 1399819525: a restart between the stored expiry of a quietly refreshed VM and
      // its expiry in memory (the model did not know that quiet refreshes are not written).
      examples: [[[
        { kind: 'burst', etr: 0, listsVm: false }, { kind: 'burst', etr: 1, listsVm: false }, { kind: 'burst', etr: 0, listsVm: true },
        { kind: 'advance', ms: 313 }, { kind: 'burst', etr: 1, listsVm: true }, { kind: 'advance', ms: 30908 },
        { kind: 'burst', etr: 1, listsVm: false }, { kind: 'burst', etr: 0, listsVm: true }, { kind: 'advance', ms: 4877 },
        { kind: 'burst', etr: 1, listsVm: true }, { kind: 'advance', ms: 606 }, { kind: 'hint', to: 0 }, { kind: 'advance', ms: 1265 },
        { kind: 'burst', etr: 0, listsVm: true },
      ]], [[
        { kind: 'advance', ms: 2367 }, { kind: 'hint', to: 1 }, { kind: 'hint', to: 1 }, { kind: 'burst', etr: 0, listsVm: false },
        { kind: 'restart' }, { kind: 'advance', ms: 2561 }, { kind: 'hint', to: 1 }, { kind: 'burst', etr: 1, listsVm: false },
        { kind: 'burst', etr: 0, listsVm: true }, { kind: 'advance', ms: 495 },
      ]], [[
        { kind: 'burst', etr: 1, listsVm: true }, { kind: 'burst', etr: 0, listsVm: false }, { kind: 'burst', etr: 1, listsVm: true },
        { kind: 'advance', ms: 12898 }, { kind: 'advance', ms: 75460 }, { kind: 'advance', ms: 88803 }, { kind: 'advance', ms: 1958 },
        { kind: 'restart' },
      ]]],
    },
  );
  t.pass('15 random histories agree with the model');
});

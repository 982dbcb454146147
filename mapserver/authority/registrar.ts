// The registration authority at run time: it takes every Map-Register with what it remembers
// (each ETR's register bursts, the nonces already accepted) and says what changes, including
// the prefixes an ETR left by no longer listing them (bursts.ts). It decides; the server
// applies and sends. Its only clock is the one passed in, its only timer the one it is given.
import type { MapRegister } from '../codec/types.js';
import { etrIdOf, handleMapRegister, type MapServerOptions } from '../control/map-server.js';
import type { Timers } from '../control/types.js';
import { NOTHING, type HandlerResult, type ServerEvent } from '../control/types.js';
import type { MappingDatabase } from '../db/database.js';
import type { Endpoint, Registration, StateChange } from '../db/model.js';
import { eidFamily, prefixKey } from '../codec/prefix.js';
import { BURST_GAP_MS, BURST_QUIET_MS, BURST_SETTLE_MS, BurstTracker, type BurstArrival } from './bursts.js';
import { holds, isOperatorHint } from './ownership.js';
import { ReplayWindow } from './replay.js';

/** The handler's RegisterContext, with the time the replay check uses. */
interface RefilledContext {
  burst: BurstArrival;
  now: number;
  etrId: string;
  isReplay(nonce: bigint): boolean;
}

type NonceBuckets = ReadonlyArray<{ readonly at: number; readonly nonces: bigint[] }>;

export class Registrar {
  private readonly bursts = new BurstTracker();
  private readonly replay: ReplayWindow;
  private burstCheck: unknown;
  /**
   * Bursts that went quiet without leaving a prefix their ETR holds against another ETR: that
   * waits for BURST_SETTLE_MS more quiet (bursts.ts), unless the ETR's next burst comes first.
   */
  private readonly unsettled = new Map<string, { readonly seq: number; readonly since: number }>();
  /** What the handler is told of each Map-Register: one object, refilled per call (not a closure per packet). */
  private readonly context: RefilledContext;

  /**
   * `applyLater` takes what the registrar decides on its own timer (a burst that went quiet
   * left prefixes): the server applies it like any handler's result.
   */
  constructor(
    private readonly db: MappingDatabase,
    private readonly options: MapServerOptions,
    private readonly timers: Timers,
    private readonly clock: () => number,
    private readonly applyLater: (result: HandlerResult) => void,
  ) {
    this.replay = new ReplayWindow(options.registrationTtlMs);
    const replay = this.replay;
    const context: RefilledContext = { burst: { seq: 0 }, now: 0, etrId: '', isReplay: (nonce) => replay.isReplay(nonce, context.now) };
    this.context = context;
  }

  /**
   * A Map-Register, with what the authority knows: the ETR's register burst it belongs to and
   * the nonces already accepted. Once it is accepted, the burst it completed (if any) tells
   * which other prefixes its ETR stopped listing.
   */
  register(message: MapRegister, bytes: Uint8Array, from: Endpoint, now: number): HandlerResult {
    const etrId = etrIdOf(message, from);
    const open = this.bursts.openBurst(etrId, now);
    // (Checked before the handler has vetted the records: an EID of a family the database cannot hold is skipped.)
    const listedAgain = open !== undefined && message.records.some((r) => eidFamily(r.eid) !== undefined && this.db.registered(r.eid)?.byEtr.get(etrId)?.burst === open);
    const burst = this.bursts.peek(etrId, now, listedAgain);
    const context = this.context;
    context.burst = burst;
    context.now = now;
    context.etrId = etrId;
    const result = handleMapRegister(this.db, this.options, message, bytes, from, now, context);
    if (!result.accepted) return result;
    this.bursts.arrive(etrId, now, listedAgain);
    this.scheduleBurstCheck();
    if (message.nonce !== 0n) this.replay.remember(message.nonce, now);
    if (burst.completed === undefined) return result;
    const listed = new Set(message.records.map((r) => prefixKey(r.eid)));
    const left = this.omitted(etrId, burst.completed, burst.completedMaybeRetry === true, now, listed);
    return left.changes.length ? { ...result, changes: [...left.changes, ...result.changes], events: [...left.events, ...result.events] } : result;
  }

  /** Restores the replay window saved before a restart; returns the deletions of buckets now too old. */
  load(nonces: NonceBuckets, now: number): StateChange[] {
    return this.replay.load(nonces, now);
  }

  /** The replay window's changes to store (`all`: the open bucket too, at a clean stop). */
  flushNonces(now: number, all = false): StateChange[] {
    return this.replay.flush(now, all);
  }

  /**
   * The omissions of every burst quiet since `quietMs`, handed to `applyLater`. On the regular
   * check (no `quietMs`) a prefix the ETR holds against another ETR is left only once the burst
   * has been quiet BURST_SETTLE_MS longer; at a clean stop (`quietMs` given) everything now.
   */
  completeBursts(now: number, quietMs?: number): void {
    const settleHeld = quietMs !== undefined;
    for (const { etrId, seq, maybeRetry } of this.bursts.completeQuiet(now, quietMs)) {
      const left = this.omitted(etrId, seq, maybeRetry, now, undefined, settleHeld);
      if (left.held) this.unsettled.set(etrId, { seq, since: now });
      if (left.changes.length) this.applyLater({ ...NOTHING, changes: left.changes, events: left.events });
    }
    for (const [etrId, burst] of this.unsettled) {
      // The ETR's next burst came first: it decides (what it lists is refreshed, the rest it leaves).
      if (this.bursts.latest(etrId) !== burst.seq) this.unsettled.delete(etrId);
      else if (settleHeld || now - burst.since >= BURST_SETTLE_MS) {
        this.unsettled.delete(etrId);
        // Held only by a burst that was no possible retry (see omitted): maybeRetry is false.
        const left = this.omitted(etrId, burst.seq, false, now);
        if (left.changes.length) this.applyLater({ ...NOTHING, changes: left.changes, events: left.events });
      }
    }
  }

  /**
   * Stops the burst timer. A clean stop right after an ETR's burst (a restart between moves)
   * must not forget what that burst left: bursts quiet longer than their own gaps complete now.
   */
  close(): void {
    if (this.burstCheck !== undefined) this.timers.clearTimeout(this.burstCheck);
    this.burstCheck = undefined;
    this.completeBursts(this.clock(), BURST_GAP_MS);
  }

  /**
   * `etrId`'s live registrations that its complete burst `seq` did not refresh: it left them.
   * A burst that may be OOR's retry of one unanswered register (bursts.ts) leaves no prefix its
   * ETR holds against another ETR: its next burst decides.
   */
  private omitted(
    etrId: string, seq: number, maybeRetry: boolean, now: number, listedNow?: ReadonlySet<string>, settleHeld = true,
  ): { changes: StateChange[]; events: ServerEvent[]; held: boolean } {
    const changes: StateChange[] = [];
    const events: ServerEvent[] = [];
    let held = false;
    for (const reg of this.db.registrationsOf(etrId)) {
      if (reg.left || reg.burst === seq || reg.expiresAt <= now || isOperatorHint(reg)) continue;
      if (listedNow?.has(prefixKey(reg.record.eid))) continue;
      if ((maybeRetry || !settleHeld) && this.holdsAgainstOthers(reg, now)) {
        held = true;
        continue;
      }
      changes.push({ kind: 'put-registration', registration: { ...reg, left: true } });
      events.push({ type: 'left', site: reg.site, eid: reg.record.eid, etrId });
    }
    return { changes, events, held: held && !maybeRetry };
  }

  /** Completes bursts once they are quiet (the sweep's 1 s tick would add up to a second to a move). */
  private scheduleBurstCheck(): void {
    if (this.burstCheck !== undefined) return;
    this.burstCheck = this.timers.setTimeout(() => {
      this.burstCheck = undefined;
      this.completeBursts(this.clock());
      if (this.bursts.open || this.unsettled.size > 0) this.scheduleBurstCheck();
    }, BURST_QUIET_MS + 5);
  }

  /** Whether `reg` holds its prefix while another ETR has a live registration of it. */
  private holdsAgainstOthers(reg: Registration, now: number): boolean {
    const registered = this.db.registered(reg.record.eid);
    if (!registered || registered.byEtr.size < 2) return false;
    return holds(this.db.bindingAt(reg.record.eid, now), reg);
  }
}

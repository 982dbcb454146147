// Register bursts: how the Map-Server learns that an ETR stopped listing a prefix.
//
// OOR (and lispers.net, IOS-XE) re-register every mapping they hold together: every 60 s, and at
// once whenever their local database changes, one Map-Register per mapping, back to back (OOR:
// within ~3 ms). None of them withdraws a mapping it dropped: it simply stops appearing. So the
// Map-Registers of one ETR that arrive less than BURST_QUIET_MS apart form a burst, and when a
// burst is complete, every live registration of that ETR it did not refresh has been left.
// A burst completes when the ETR's next authenticated Map-Register arrives after the quiet gap,
// or lists again a prefix the burst already listed, or when the server's sweep finds it quiet
// (whichever comes first).
//
// Edge cases (README, "Who holds an EID"):
//  - one lost Map-Register marks its prefix left until the ETR's next burst (≤ 60 s, or the 3 s
//    retry OOR sends when no Map-Notify came): the prefix stays answered as long as no other ETR
//    claims it, and the ETR's next listing is a fresh claim;
//  - an ETR that refreshes its prefixes one at a time, out of step with each other, has each
//    refresh leave the others: harmless while one ETR registers a prefix, wrong if two contest it;
//  - OOR re-sends a Map-Register that got no Map-Notify 2–3 s later (a 3 s timer on a 1 s
//    wheel), alone (a stale claim, a lost Map-Notify): a burst of its own that lists one
//    mapping. A burst that starts in that window after the ETR's previous one may be such a
//    retry, or a real change (moves 2–3 s apart are common): it leaves what it omits, except
//    a prefix its ETR holds against another ETR's live registration, which it keeps until the
//    ETR's next burst says the same. So a lost Map-Notify cannot hand a VM to a stale site,
//    and a VM moving every few seconds is still followed;
//  - a burst split by a stall longer than BURST_QUIET_MS completes early: what its first half
//    omits but its ETR holds against another ETR is left only after BURST_SETTLE_MS more quiet,
//    and not if the ETR's next burst (the second half) comes first.
/** Longer than any gap inside a burst, shorter than the 1 s between two moves of a VM. */
export const BURST_QUIET_MS = 250;
/**
 * A burst that went quiet leaves at once what its ETR does not hold against another ETR, and the
 * rest only after this much more quiet: a burst split by a stall (OOR or livmap descheduled on a
 * loaded machine) must not hand the holder's prefix to a stale ETR for a moment.
 */
export const BURST_SETTLE_MS = 1000;
/** Longer than any gap inside one of OOR's bursts (~3 ms for all its mappings). */
export const BURST_GAP_MS = 20;
/** OOR retries an unanswered Map-Register this long after it (OOR_INITIAL_MREG_TIMEOUT, 1 s timer wheel). */
export const OOR_RETRY_WINDOW_MS = { from: 1800, to: 3300 } as const;

const FORGET_AFTER_MS = 3_600_000;

interface EtrBurst {
  /** The ETR's current (possibly complete) burst. */
  seq: number;
  startedAt: number;
  lastAt: number;
  complete: boolean;
  /** The burst started when an OOR retry would (see above). */
  retry: boolean;
}

export interface BurstArrival {
  /** The burst this Map-Register belongs to (unique across ETRs, never reused). */
  readonly seq: number;
  /** The ETR's previous burst, completed by this arrival (its omissions are now known). */
  readonly completed?: number;
  /** That burst started when an OOR retry would: it must not hand a prefix to another ETR. */
  readonly completedMaybeRetry?: boolean;
}

export interface CompletedBurst {
  readonly etrId: string;
  readonly seq: number;
  readonly maybeRetry: boolean;
}

export class BurstTracker {
  private readonly etrs = new Map<string, EtrBurst>();
  private lastSeq = 0;

  constructor(private readonly quietMs = BURST_QUIET_MS) {}

  /**
   * The burst a Map-Register from `etrId` at `now` would belong to, recording nothing: the
   * handler decides with it before the register is known to be authentic. `listedAgain`: the
   * register lists a prefix the ETR's open burst already listed. An ETR lists each mapping once
   * per burst (OOR: one Map-Register per mapping), so that register starts the next burst
   * however soon it follows (a second database change right after the first).
   */
  peek(etrId: string, now: number, listedAgain = false): BurstArrival {
    const etr = this.etrs.get(etrId);
    if (!etr) return { seq: this.lastSeq + 1 };
    if (now - etr.lastAt < this.quietMs && !listedAgain) return { seq: etr.seq };
    return etr.complete ? { seq: this.lastSeq + 1 } : { seq: this.lastSeq + 1, completed: etr.seq, completedMaybeRetry: etr.retry };
  }

  /** Records an authenticated Map-Register of `etrId` at `now`; returns what `peek` said. */
  arrive(etrId: string, now: number, listedAgain = false): BurstArrival {
    const arrival = this.peek(etrId, now, listedAgain);
    const etr = this.etrs.get(etrId);
    if (arrival.seq > this.lastSeq) this.lastSeq = arrival.seq;
    if (!etr) {
      this.etrs.set(etrId, { seq: arrival.seq, startedAt: now, lastAt: now, complete: false, retry: false });
    } else {
      if (arrival.seq !== etr.seq) {
        const since = now - etr.startedAt;
        etr.retry = since >= OOR_RETRY_WINDOW_MS.from && since <= OOR_RETRY_WINDOW_MS.to;
        etr.startedAt = now;
      }
      etr.seq = arrival.seq;
      etr.lastAt = now;
      etr.complete = false;
    }
    return arrival;
  }

  /** The sequence number of `etrId`'s latest burst (open or complete). */
  latest(etrId: string): number | undefined {
    return this.etrs.get(etrId)?.seq;
  }

  /** The sequence number of `etrId`'s burst that is still open at `now`, if any. */
  openBurst(etrId: string, now: number): number | undefined {
    const etr = this.etrs.get(etrId);
    return etr && !etr.complete && now - etr.lastAt < this.quietMs ? etr.seq : undefined;
  }

  /** Whether some burst is not complete yet (the server checks again after the quiet gap). */
  get open(): boolean {
    for (const etr of this.etrs.values()) if (!etr.complete) return true;
    return false;
  }

  /**
   * Bursts quiet since `quietMs` before `now` (or `quietMs` given: at a clean stop, any burst
   * quiet longer than a burst's own gaps): each completed once, with its ETR.
   */
  completeQuiet(now: number, quietMs = this.quietMs): CompletedBurst[] {
    const done: CompletedBurst[] = [];
    for (const [etrId, etr] of this.etrs) {
      if (etr.complete) {
        // An ETR silent for an hour has no live registration left to compare a burst with.
        if (now - etr.lastAt > FORGET_AFTER_MS) this.etrs.delete(etrId);
        continue;
      }
      if (now - etr.lastAt < quietMs) continue;
      etr.complete = true;
      done.push({ etrId, seq: etr.seq, maybeRetry: etr.retry });
    }
    return done;
  }

  get size(): number {
    return this.etrs.size;
  }
}

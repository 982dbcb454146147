// A worker's report of the ITRs it answered, for the main thread's RequesterTable (who to SMR).
// Most Map-Requests are the same ITR asking about the same prefix again: only what the main
// table would record differently is reported: a new (ITR, prefix), an expiry that moved to a
// later whole second (the table keeps whole seconds), another source EID, or a subscription.
import type { EidPrefix } from '../codec/types.js';
import { sameAddress } from '../codec/address.js';
import type { Requester } from '../control/requesters.js';

interface Reported {
  /** Whole seconds (rounded up) of the last reported expiry. */
  until: number;
  sourceEid: Requester['sourceEid'];
}

export class AnsweredReport {
  /** By answered prefix object (mostly the database's own, the same on every request), then ITR. */
  private reported = new Map<EidPrefix, Map<string, Reported>>();
  private size = 0;
  private pending: Requester[] = [];

  constructor(private readonly capacity: number) {}

  get waiting(): number {
    return this.pending.length;
  }

  note(requester: Requester): void {
    const until = Math.ceil(requester.expiresAt / 1000);
    const last = this.reported.get(requester.eid)?.get(requester.itr);
    if (last !== undefined) {
      if (last.until >= until && requester.subscription === undefined && sameAddress(last.sourceEid, requester.sourceEid)) return;
      last.until = Math.max(last.until, until);
      last.sourceEid = requester.sourceEid;
    } else {
      // Forgetting everything only costs one report per (ITR, prefix) again; the bound keeps a
      // flood of spoofed ITR-RLOCs from growing the worker without end.
      if (this.size >= this.capacity) this.forgetAll();
      let byItr = this.reported.get(requester.eid);
      if (byItr === undefined) {
        byItr = new Map();
        this.reported.set(requester.eid, byItr);
      }
      byItr.set(requester.itr, { until, sourceEid: requester.sourceEid });
      this.size++;
    }
    this.pending.push(requester);
  }

  /** The reports not yet sent, oldest first. */
  take(): Requester[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Drops what expired: an ITR answered again after that is reported again. */
  sweep(now: number): void {
    const second = Math.ceil(now / 1000);
    for (const [eid, byItr] of this.reported) {
      for (const [itr, last] of byItr) {
        if (last.until > second) continue;
        byItr.delete(itr);
        this.size--;
      }
      if (byItr.size === 0) this.reported.delete(eid);
    }
  }

  private forgetAll(): void {
    this.reported = new Map();
    this.size = 0;
  }
}

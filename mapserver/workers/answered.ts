// A worker's report of the ITRs it answered, for the main thread's RequesterTable (who to SMR).
// Most Map-Requests are the same ITR asking about the same prefix again: only what the main
// table needs is reported: a new (ITR, prefix), another source EID, a subscription, or an
// answer that outlives the expiry last reported. Reported expiries are rounded up to the next
// EXPIRY_GRAIN_MS, so an ITR asking again and again is reported once per grain, not once per
// second (reporting every second cost about 30 µs of CPU per Map-Request, half a request's
// worth); the main table may keep an ITR up to one grain after its answer expired, which costs
// at most an SMR to an ITR that no longer caches the prefix (it ignores it), never a missed one.
import type { EidPrefix } from '../codec/types.js';
import { sameAddress } from '../codec/address.js';
import { PrefixSlots, type PrefixSlot } from '../db/prefix-slots.js';
import type { Requester } from '../db/model.js';

/** Reported expiries are rounded up to a multiple of this. */
export const EXPIRY_GRAIN_MS = 30_000;

interface Reported {
  /** The last reported expiry, epoch ms (a multiple of EXPIRY_GRAIN_MS). */
  until: number;
  sourceEid: Requester['sourceEid'];
}

/** The reports of one answered prefix, by ITR. */
interface PrefixReports extends PrefixSlot {
  readonly byItr: Map<string, Reported>;
}

export class AnsweredReport {
  /**
   * By answered prefix: by object first, by value when the object is new (db/prefix-slots.ts).
   * A negative answer's prefix is a new object on every request: found by object only, each one
   * started a report, promoted to the old generation, and was reported again.
   */
  private reports = new PrefixSlots<PrefixReports>();
  private size = 0;
  private pending: Requester[] = [];

  constructor(private readonly capacity: number) {}

  get waiting(): number {
    return this.pending.length;
  }

  note(requester: Requester): void {
    let reports = this.reportsOf(requester.eid);
    const last = reports.byItr.get(requester.itr);
    if (last !== undefined && last.until >= requester.expiresAt && requester.subscription === undefined && sameAddress(last.sourceEid, requester.sourceEid)) return;
    const until = Math.max(last?.until ?? 0, Math.ceil(requester.expiresAt / EXPIRY_GRAIN_MS) * EXPIRY_GRAIN_MS);
    if (last !== undefined) {
      last.until = until;
      last.sourceEid = requester.sourceEid;
    } else {
      // Forgetting everything only costs one report per (ITR, prefix) again; the bound keeps a
      // flood of spoofed ITR-RLOCs from growing the worker without end.
      if (this.size >= this.capacity) {
        this.forgetAll();
        reports = this.reportsOf(requester.eid);
      }
      reports.byItr.set(requester.itr, { until, sourceEid: requester.sourceEid });
      this.size++;
    }
    this.pending.push(requester.expiresAt === until ? requester : { ...requester, expiresAt: until });
  }

  /** The reports not yet sent, oldest first. */
  take(): Requester[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Drops what expired: an ITR answered again after that is reported again. */
  sweep(now: number): void {
    for (const { prefix, value: reports } of [...this.reports.byValue]) {
      for (const [itr, last] of reports.byItr) {
        if (last.until > now) continue;
        reports.byItr.delete(itr);
        this.size--;
      }
      if (reports.byItr.size === 0) this.reports.drop(prefix, reports);
    }
  }

  private reportsOf(eid: EidPrefix): PrefixReports {
    return this.reports.slotFor(eid, () => ({ byItr: new Map(), misses: 0, live: true }));
  }

  private forgetAll(): void {
    this.reports = new PrefixSlots();
    this.size = 0;
  }
}

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
import { prefixKey } from '../codec/prefix.js';
import type { Requester } from '../db/model.js';

/** Reported expiries are rounded up to a multiple of this. */
export const EXPIRY_GRAIN_MS = 30_000;

interface Reported {
  /** The last reported expiry, epoch ms (a multiple of EXPIRY_GRAIN_MS). */
  until: number;
  sourceEid: Requester['sourceEid'];
}

/** The reports of one answered prefix, by ITR. */
interface PrefixReports {
  readonly byItr: Map<string, Reported>;
  /** Lookups by value, not by object (see reportsOf). */
  misses: number;
  /** False once swept empty: a lookup by object must not revive it. */
  live: boolean;
}

export class AnsweredReport {
  /** By answered prefix object: mostly the database's own, the same on every request. */
  private byObject = new WeakMap<EidPrefix, PrefixReports>();
  /** By prefix value (prefixKey): a negative answer's prefix is a new object on every request. */
  private byValue = new Map<string, PrefixReports>();
  private size = 0;
  private pending: Requester[] = [];

  constructor(private readonly capacity: number) {}

  get waiting(): number {
    return this.pending.length;
  }

  note(requester: Requester): void {
    const reports = this.reportsOf(requester.eid);
    const last = reports.byItr.get(requester.itr);
    if (last !== undefined && last.until >= requester.expiresAt && requester.subscription === undefined && sameAddress(last.sourceEid, requester.sourceEid)) return;
    const until = Math.max(last?.until ?? 0, Math.ceil(requester.expiresAt / EXPIRY_GRAIN_MS) * EXPIRY_GRAIN_MS);
    if (last !== undefined) {
      last.until = until;
      last.sourceEid = requester.sourceEid;
    } else {
      // Forgetting everything only costs one report per (ITR, prefix) again; the bound keeps a
      // flood of spoofed ITR-RLOCs from growing the worker without end.
      if (this.size >= this.capacity) this.forgetAll();
      this.reportsOf(requester.eid).byItr.set(requester.itr, { until, sourceEid: requester.sourceEid });
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
    for (const [key, reports] of this.byValue) {
      for (const [itr, last] of reports.byItr) {
        if (last.until > now) continue;
        reports.byItr.delete(itr);
        this.size--;
      }
      if (reports.byItr.size > 0) continue;
      reports.live = false;
      this.byValue.delete(key);
    }
  }

  /**
   * The reports of `eid`'s prefix, found by object, else by value. A prefix object met again and
   * again ends up found by object (remembered at the 1st, 2nd, 4th... miss, as the requester
   * table does), while one-shot objects (negative answers) add no entry per request: each of
   * those used to start a new report, promoted to the old generation, and was reported again.
   */
  private reportsOf(eid: EidPrefix): PrefixReports {
    let reports = this.byObject.get(eid);
    if (reports?.live) return reports;
    const key = prefixKey(eid);
    reports = this.byValue.get(key);
    if (!reports) {
      reports = { byItr: new Map(), misses: 0, live: true };
      this.byValue.set(key, reports);
      this.byObject.set(eid, reports);
      return reports;
    }
    const misses = reports.misses + 1;
    if (misses < 0x40000000) reports.misses = misses;
    if ((misses & (misses - 1)) === 0) this.byObject.set(eid, reports);
    return reports;
  }

  private forgetAll(): void {
    this.byObject = new WeakMap();
    this.byValue = new Map();
    this.size = 0;
  }
}

// Mobility: when the binding of an EID prefix changes, tell everyone who may hold the old one.
// - SMR every ITR we answered with an overlapping prefix (RFC 9301 §6.6.2), as OOR expects:
//   a plain Map-Request with S=1, source EID = the changed EID, record = the ITR's own EID,
//   to the ITR-RLOC on port 4342; retransmitted until the SMR-invoked Map-Request arrives.
// - Map-Notify the ETRs that lost the binding, with the new mapping (acked, retransmitted).
// - Map-Notify RFC 9437 subscribers (N bit + xTR-ID) with the new mapping.
import { randomBytes } from 'node:crypto';
import type { Address, EidPrefix, MapNotify, MapRequest, MappingRecord } from '../codec/types.js';
import { AUTH_ALG } from '../codec/types.js';
import type { Binding, MappingDatabase } from '../db/database.js';
import type { Endpoint, Site } from '../db/model.js';
import { FAMILY_BITS, containsPrefix, prefixKey, prefixesOverlap } from '../codec/prefix.js';
import { singleRecordVariants } from '../codec/map-request.js';
import { sameAddress } from '../codec/address.js';
import { answerRecord, LISP_CONTROL_PORT } from './map-resolver.js';
import type { Requester, RequesterTable } from './requesters.js';
import type { Timers } from './retransmit.js';

export interface BindingChange {
  readonly eid: EidPrefix;
  readonly before: Binding | undefined;
  readonly after: Binding | undefined;
}

/** Whether two bindings send traffic to different places. */
export function bindingMoved(before: Binding | undefined, after: Binding | undefined): boolean {
  if (before && after && sameLocatorsInOrder(before.record, after.record)) return false; // every refresh
  const rlocs = (b: Binding | undefined): string =>
    b ? b.record.locators.map((l) => JSON.stringify(l.rloc)).sort().join('|') + `|${b.record.action}` : '';
  return rlocs(before) !== rlocs(after);
}

function sameLocatorsInOrder(a: MappingRecord, b: MappingRecord): boolean {
  if (a.action !== b.action || a.locators.length !== b.locators.length) return false;
  for (let i = 0; i < a.locators.length; i++) if (!sameAddress(a.locators[i]!.rloc, b.locators[i]!.rloc)) return false;
  return true;
}

export function randomNonce(): bigint {
  return randomBytes(8).readBigUInt64BE();
}

/** The address part of an EID prefix as a Map-Request source EID (IID wrapped as OOR does). */
function eidAddress(eid: EidPrefix): Address {
  return eid.iid === 0 ? eid.address : { afi: 'lcaf-iid', iid: eid.iid, maskLen: 32, flags: 0, address: eid.address };
}

/** The requester's own EID as a host prefix: the SMR record an OOR ITR matches against its database. */
function ownEid(source: Address): EidPrefix | undefined {
  const iid = source.afi === 'lcaf-iid' ? source.iid : 0;
  const address = source.afi === 'lcaf-iid' ? source.address : source;
  if (address.afi !== 'ipv4' && address.afi !== 'ipv6') return undefined;
  return { iid, address, length: FAMILY_BITS[address.afi] };
}

/** Everything of an SMR but its record (the ITR's own EID). */
function smrBase(changed: EidPrefix, advertise: Address, nonce: bigint): Omit<MapRequest, 'records'> {
  return {
    type: 'map-request',
    authoritative: false, mapDataPresent: false, probe: false, smr: true, pitr: false, smrInvoked: false,
    notifyRequested: false, localXtr: false, dontMapReply: false,
    nonce,
    sourceEid: eidAddress(changed),
    itrRlocs: [advertise],
  };
}

export function notifyFor(record: MappingRecord, secretAlg: 'hmac-sha1' | 'hmac-sha256' | undefined, subscriber?: Requester['subscription']): MapNotify {
  const algId = secretAlg === 'hmac-sha256' ? AUTH_ALG.hmacSha256 : secretAlg === 'hmac-sha1' ? AUTH_ALG.hmacSha1 : AUTH_ALG.none;
  const length = algId === AUTH_ALG.hmacSha256 ? 32 : algId === AUTH_ALG.hmacSha1 ? 20 : 0;
  return {
    type: 'map-notify',
    xtrIdPresent: subscriber !== undefined,
    rtr: false,
    nonce: randomNonce(),
    auth: { keyId: 0, algId, authData: new Uint8Array(length) },
    records: [record],
    ...(subscriber ? { xtrId: subscriber.xtrId, siteId: subscriber.siteId ?? new Uint8Array(8) } : {}),
  };
}

export interface MobilityCallbacks {
  /** An encoded SMR. */
  sendSmr(to: Endpoint, bytes: Uint8Array): void;
  sendNotify(to: Endpoint, notify: MapNotify, secret: string | undefined): void;
  /** The address we put as ITR-RLOC in SMRs, per family. */
  advertise(family: 'ipv4' | 'ipv6'): Address;
}

export interface MoveReport {
  readonly eid: EidPrefix;
  readonly smrs: number;
  readonly notifies: number;
  /** Milliseconds from the change being applied to the last first transmission. */
  readonly fanoutMs: number;
}

interface PendingSmr {
  readonly itr: string;
  readonly eid: EidPrefix;
  readonly eidKey: string;
  readonly to: Endpoint;
  /** The encoded SMR, as sent and retransmitted. */
  readonly smr: Uint8Array;
  /** Answered by an SMR-invoked request, given up, or replaced by a newer move's SMR. */
  done: boolean;
}

/** RFC 9301 §6.6.2: an SMR is retransmitted every second, up to 3 times. */
const SMR_INTERVAL_MS = 1000;
const SMR_RETRIES = 3;

export class MobilityNotifier {
  /** SMRs not yet answered by an SMR-invoked Map-Request, by ITR (few per ITR: a list). */
  private readonly pendingByItr = new Map<string, PendingSmr[]>();
  private pendingCount = 0;
  private readonly rounds = new Set<unknown>();

  constructor(
    private readonly db: MappingDatabase,
    private readonly requesters: RequesterTable,
    private readonly callbacks: MobilityCallbacks,
    private readonly timers: Timers,
  ) {}

  get pendingSmrs(): number {
    return this.pendingCount;
  }

  /** Reacts to one changed binding; returns what it sent. */
  onChange(change: BindingChange, now: number): MoveReport {
    const started = process.hrtime.bigint();
    const resolution = this.db.resolve(change.eid, now);
    const record = { ...answerRecord(resolution), eid: change.eid };
    const eidKey = prefixKey(change.eid);
    const sent: PendingSmr[] = [];
    let notifies = 0;
    // One nonce for the move's SMRs: the SMR-invoked requests carry their own, OOR ignores this one.
    const nonce = randomNonce();
    // A move's SMRs differ only in the record (the ITR's own EID): encoded once per family
    // and shape, then copied with that address rewritten.
    const encoders: Partial<Record<'ipv4' | 'ipv6', (record: EidPrefix) => Uint8Array>> = {};
    const encoderFor = (family: 'ipv4' | 'ipv6'): ((record: EidPrefix) => Uint8Array) =>
      (encoders[family] ??= singleRecordVariants(smrBase(change.eid, this.callbacks.advertise(family), nonce)));
    const requesters = this.requesters.overlapping(change.eid, now);
    // SMRs first, bookkeeping after: until its SMR leaves, an ITR keeps sending to the old RLOC.
    for (const requester of requesters) {
      const itrEid = ownEid(requester.sourceEid);
      if (!itrEid) continue;
      const smr = encoderFor(requester.itr.includes(':') ? 'ipv6' : 'ipv4')(itrEid);
      const to = { address: requester.itr, port: LISP_CONTROL_PORT };
      this.callbacks.sendSmr(to, smr);
      sent.push({ itr: requester.itr, eid: change.eid, eidKey, to, smr, done: false });
    }
    for (const entry of sent) this.track(entry);
    for (const requester of requesters) {
      if (!requester.subscription) continue;
      const site = this.siteOf(requester.sourceEid);
      const key = site?.keys[0];
      this.callbacks.sendNotify({ address: requester.itr, port: LISP_CONTROL_PORT }, notifyFor(record, key?.alg, requester.subscription), key?.secret);
      notifies++;
    }
    // One retransmission timer per move, not one per SMR: a move may SMR ten thousand ITRs.
    if (sent.length) this.scheduleRound(sent, 1);
    // ETRs that held the binding and lost it learn the new mapping (RFC 9301 §5.7 Map-Notify).
    const kept = new Set(change.after?.registrations.map((r) => r.etrId));
    for (const old of change.before?.registrations ?? []) {
      if (kept.has(old.etrId)) continue;
      const key = this.db.sites.get(old.site)?.keys[0];
      if (!key) continue;
      this.callbacks.sendNotify({ address: old.source.address, port: LISP_CONTROL_PORT }, notifyFor(record, key.alg), key.secret);
      notifies++;
    }
    return { eid: change.eid, smrs: sent.length, notifies, fanoutMs: Number(process.hrtime.bigint() - started) / 1e6 };
  }

  /** Adds an SMR to its ITR's list, replacing one for the same prefix from an earlier move. */
  private track(entry: PendingSmr): void {
    let list = this.pendingByItr.get(entry.itr);
    if (!list) {
      list = [];
      this.pendingByItr.set(entry.itr, list);
    }
    const old = list.findIndex((p) => p.eidKey === entry.eidKey);
    if (old >= 0) {
      list[old]!.done = true;
      list[old] = entry;
    } else {
      list.push(entry);
      this.pendingCount++;
    }
  }

  private untrack(entry: PendingSmr): void {
    entry.done = true;
    const list = this.pendingByItr.get(entry.itr);
    const i = list ? list.indexOf(entry) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    this.pendingCount--;
    if (list.length === 0) this.pendingByItr.delete(entry.itr);
  }

  private scheduleRound(entries: readonly PendingSmr[], round: number): void {
    const handle = this.timers.setTimeout(() => {
      this.rounds.delete(handle);
      const open = entries.filter((entry) => !entry.done);
      if (round > SMR_RETRIES) {
        for (const entry of open) this.untrack(entry);
        return;
      }
      // Retransmissions repeat the same SMR (OOR does not look at an SMR's nonce).
      for (const entry of open) this.callbacks.sendSmr(entry.to, entry.smr);
      if (open.length) this.scheduleRound(open, round + 1);
    }, SMR_INTERVAL_MS);
    this.rounds.add(handle);
  }

  /** An SMR-invoked Map-Request arrived: stop retransmitting the SMRs it answers. */
  onSmrInvoked(request: MapRequest, from: Endpoint): number {
    if (this.pendingCount === 0) return 0;
    let stopped = 0;
    const itrs = [from.address, ...request.itrRlocs.flatMap((r) => (r.afi === 'ipv4' || r.afi === 'ipv6' ? [r.ip] : []))];
    for (const itr of new Set(itrs)) {
      for (const entry of [...(this.pendingByItr.get(itr) ?? [])]) {
        if (!request.records.some((eid) => prefixesOverlap(eid, entry.eid) || containsPrefix(eid, entry.eid))) continue;
        this.untrack(entry);
        stopped++;
      }
    }
    return stopped;
  }

  private siteOf(source: Address): Site | undefined {
    const eid = ownEid(source);
    return eid ? this.db.siteFor(eid)?.site : undefined;
  }

  close(): void {
    for (const handle of this.rounds) this.timers.clearTimeout(handle);
    this.rounds.clear();
    this.pendingByItr.clear();
    this.pendingCount = 0;
  }
}

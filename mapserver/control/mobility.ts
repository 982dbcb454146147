// Mobility: when the binding of an EID prefix changes, tell everyone who may hold the old one.
// - SMR every ITR we answered with an overlapping prefix (RFC 9301 §6.6.2), as OOR expects:
//   a plain Map-Request with S=1, source EID = the changed EID, record = the ITR's own EID,
//   to the ITR-RLOC on port 4342; retransmitted until the SMR-invoked Map-Request arrives.
// - Map-Notify the ETRs that lost the binding, with the new mapping (acked, retransmitted).
// - Map-Notify RFC 9437 subscribers (control/subscriptions.ts) with the new mapping: their own
//   nonce + 1, their key, the port they subscribed from; acked and retransmitted.
import { randomBytes } from 'node:crypto';
import type { Address, EidPrefix, MapNotify, MapRequest, MappingRecord } from '../codec/types.js';
import { AUTH_ALG } from '../codec/types.js';
import type { Binding, MappingDatabase } from '../db/database.js';
import type { Endpoint, Site } from '../db/model.js';
import { FAMILY_BITS, containsPrefix, prefixKey, prefixesOverlap } from '../codec/prefix.js';
import { singleRecordVariants } from '../codec/map-request.js';
import { sameAddress } from '../codec/address.js';
import { answerRecord } from './map-resolver.js';
import { LISP_CONTROL_PORT } from '../codec/ports.js';
import type { RequesterTable } from './requesters.js';
import { subscriberNotify, subscriberNotifyKey, type Subscription, type SubscriptionTable } from './subscriptions.js';
import { authDataLength } from '../codec/auth.js';
import type { Registration } from '../db/model.js';
import { Retransmitter, type Timers, type Transmission } from './retransmit.js';

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

/**
 * A Map-Notify to an ETR that lost a binding (RFC 9301 §5.7), signed as that ETR signed its
 * Map-Register (key ID, algorithm, digest length: Registration.auth); a registration without
 * that memory (stored before it was kept) is signed with the site's first key, key ID 0.
 */
export function etrNotify(record: MappingRecord, registration: Registration, site: Site | undefined): { notify: MapNotify; secret: string } | undefined {
  const remembered = registration.auth ? site?.keys[registration.auth.keyIndex] : undefined;
  const key = remembered ?? site?.keys[0];
  if (!key) return undefined;
  const algId = key.alg === 'hmac-sha256' ? AUTH_ALG.hmacSha256 : AUTH_ALG.hmacSha1;
  const auth = remembered && registration.auth!.algId === algId
    ? { keyId: registration.auth!.keyId, algId, authData: new Uint8Array(registration.auth!.length) }
    : { keyId: 0, algId, authData: new Uint8Array(authDataLength(algId)) };
  return {
    notify: { type: 'map-notify', xtrIdPresent: false, rtr: false, nonce: randomNonce(), auth, records: [record] },
    secret: key.secret,
  };
}

export interface MobilityCallbacks {
  /** An encoded SMR. */
  sendSmr(to: Endpoint, bytes: Uint8Array): void;
  sendNotify(to: Endpoint, notify: MapNotify, secret: string | undefined): void;
  /** A Map-Notify to a subscriber; `next` is its subscription with the nonce just used (to store). */
  notifySubscriber(next: Subscription, notify: MapNotify, secret: string | undefined): void;
  /** The address we put as ITR-RLOC in the SMRs to `itr` (one it can reach us on). */
  advertise(itr: string): Address;
}

export interface MoveReport {
  readonly eid: EidPrefix;
  readonly smrs: number;
  readonly notifies: number;
  /** Milliseconds from the change being applied to the last first transmission. */
  readonly fanoutMs: number;
}

export class MobilityNotifier {
  /**
   * SMRs not yet answered by an SMR-invoked Map-Request, keyed `itr|prefix key`, resent every
   * second up to 3 times (RFC 9301 §6.6.2): a move's SMRs share one timer per round.
   */
  private readonly smrs: Retransmitter<string>;
  /** The same SMRs by ITR, to find those an SMR-invoked request answers: ITR -> prefix key -> prefix. */
  private readonly pendingByItr = new Map<string, Map<string, EidPrefix>>();

  constructor(
    private readonly db: MappingDatabase,
    private readonly requesters: RequesterTable,
    private readonly subscriptions: SubscriptionTable,
    private readonly callbacks: MobilityCallbacks,
    timers: Timers,
  ) {
    this.smrs = new Retransmitter(timers);
  }

  get pendingSmrs(): number {
    return this.smrs.size;
  }

  /** Reacts to one changed binding; returns what it sent. */
  onChange(change: BindingChange, now: number): MoveReport {
    const started = process.hrtime.bigint();
    const resolution = this.db.resolve(change.eid, now);
    const record = { ...answerRecord(resolution), eid: change.eid };
    const eidKey = prefixKey(change.eid);
    let smrs = 0;
    let notifies = 0;
    // One nonce for the move's SMRs: the SMR-invoked requests carry their own, OOR ignores this one.
    const nonce = randomNonce();
    // A move's SMRs differ only in the record (the ITR's own EID): encoded once per family
    // and shape, then copied with that address rewritten.
    const encoders = new Map<string, (record: EidPrefix) => Uint8Array>();
    const encoderFor = (itr: string): ((record: EidPrefix) => Uint8Array) => {
      const advertised = this.callbacks.advertise(itr);
      const key = advertised.afi === 'ipv4' || advertised.afi === 'ipv6' ? advertised.ip : '';
      let encoder = encoders.get(key);
      if (!encoder) {
        encoder = singleRecordVariants(smrBase(change.eid, advertised, nonce));
        encoders.set(key, encoder);
      }
      return encoder;
    };
    const requesters = this.requesters.overlapping(change.eid, now);
    // SMRs first, bookkeeping after: until its SMR leaves, an ITR keeps sending to the old RLOC.
    // Retransmissions repeat the same SMR (OOR does not look at an SMR's nonce).
    const transmissions = function* (this: MobilityNotifier): Generator<Transmission<string>> {
      for (const requester of requesters) {
        const itrEid = ownEid(requester.sourceEid);
        if (!itrEid) continue;
        const smr = encoderFor(requester.itr)(itrEid);
        const to = { address: requester.itr, port: LISP_CONTROL_PORT };
        yield { key: `${requester.itr}|${eidKey}`, transmit: () => this.callbacks.sendSmr(to, smr), onGiveUp: () => this.forget(requester.itr, eidKey) };
        this.remember(requester.itr, eidKey, change.eid);
        smrs++;
      }
    };
    this.smrs.startAll(transmissions.call(this));
    // Every subscriber of an overlapping prefix: the changed prefix when it lies inside the
    // subscribed one, else the subscribed prefix with what it resolves to now.
    for (const subscription of this.subscriptions.overlapping(change.eid, now)) {
      const eid = containsPrefix(subscription.eid, change.eid) ? change.eid : subscription.eid;
      const subscribed = eid === change.eid ? record : { ...answerRecord(this.db.resolve(eid, now)), eid };
      // RFC 9437: a new nonce per Map-Notify, the subscription's incremented (lispers.net
      // repeats the request's; its xTR does not check it).
      const next: Subscription = { ...subscription, nonce: (subscription.nonce + 1n) & 0xffffffffffffffffn };
      const key = subscriberNotifyKey(this.db, subscription);
      this.callbacks.notifySubscriber(next, subscriberNotify(next, next.nonce, [subscribed], key), key?.secret);
      notifies++;
    }
    // ETRs that held the binding and lost it learn the new mapping (RFC 9301 §5.7 Map-Notify).
    const kept = new Set(change.after?.registrations.map((r) => r.etrId));
    for (const old of change.before?.registrations ?? []) {
      if (kept.has(old.etrId)) continue;
      const signed = etrNotify(record, old, this.db.sites.get(old.site));
      if (!signed) continue;
      this.callbacks.sendNotify({ address: old.source.address, port: LISP_CONTROL_PORT }, signed.notify, signed.secret);
      notifies++;
    }
    return { eid: change.eid, smrs, notifies, fanoutMs: Number(process.hrtime.bigint() - started) / 1e6 };
  }

  /** Indexes a pending SMR by its ITR (a newer move's SMR for the same prefix takes its place). */
  private remember(itr: string, eidKey: string, eid: EidPrefix): void {
    let byPrefix = this.pendingByItr.get(itr);
    if (!byPrefix) {
      byPrefix = new Map();
      this.pendingByItr.set(itr, byPrefix);
    }
    byPrefix.set(eidKey, eid);
  }

  private forget(itr: string, eidKey: string): void {
    const byPrefix = this.pendingByItr.get(itr);
    if (!byPrefix?.delete(eidKey)) return;
    if (byPrefix.size === 0) this.pendingByItr.delete(itr);
  }

  /** An SMR-invoked Map-Request arrived: stop retransmitting the SMRs it answers. */
  onSmrInvoked(request: MapRequest, from: Endpoint): number {
    if (this.smrs.size === 0) return 0;
    let stopped = 0;
    const itrs = [from.address, ...request.itrRlocs.flatMap((r) => (r.afi === 'ipv4' || r.afi === 'ipv6' ? [r.ip] : []))];
    for (const itr of new Set(itrs)) {
      for (const [eidKey, eid] of [...(this.pendingByItr.get(itr) ?? [])]) {
        if (!request.records.some((asked) => prefixesOverlap(asked, eid) || containsPrefix(asked, eid))) continue;
        this.smrs.cancel(`${itr}|${eidKey}`);
        this.forget(itr, eidKey);
        stopped++;
      }
    }
    return stopped;
  }

  close(): void {
    this.smrs.cancelAll();
    this.pendingByItr.clear();
  }
}

// Mobility: when the binding of an EID prefix changes, tell everyone who may hold the old one.
// Like the handlers it does no I/O: planMove returns what to send; the server's outbox sends it
// and resends it until acknowledged (transport/outbox.ts).
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
import type { Endpoint, Site, StateChange, Subscription } from '../db/model.js';
import { FAMILY_BITS, containsPrefix, prefixKey, prefixesOverlap } from '../codec/prefix.js';
import { singleRecordVariants } from '../codec/map-request.js';
import { mapRequest } from '../codec/build.js';
import { sameAddress } from '../codec/address.js';
import { answerRecord } from './map-resolver.js';
import { LISP_CONTROL_PORT } from '../codec/ports.js';
import type { RequesterTable } from './requesters.js';
import { subscriberNotify, subscriberNotifyKey, type SubscriptionTable } from './subscriptions.js';
import { authDataLength } from '../codec/auth.js';
import type { Registration } from '../db/model.js';
import { reliableNotify, type Reliable } from './types.js';
import { SmallMap } from '../db/small-map.js';

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

/** Everything of an SMR but its record (the ITR's own EID, set per ITR by singleRecordVariants). */
function smrBase(changed: EidPrefix, advertise: Address, nonce: bigint): Omit<MapRequest, 'records'> {
  return mapRequest({ smr: true, nonce, sourceEid: eidAddress(changed), itrRlocs: [advertise], records: [] });
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

/** An SMR to one ITR for one changed prefix. */
export interface PlannedSmr extends Reliable {
  readonly kind: 'smr';
  readonly itr: string;
  readonly eid: EidPrefix;
}

/**
 * What one changed binding calls for, like a handler's result: the server sends it (the SMRs
 * first: until its SMR leaves, an ITR keeps sending to the old RLOC) and stores `changes`.
 */
export interface MovePlan {
  /** SMRs in sending order, encoded as they are taken (lazily: the first leaves before the 10,000th is built). */
  readonly smrs: Iterable<PlannedSmr>;
  /** Map-Notifies to the subscribers and to the ETRs that lost the binding; not waiting for a write. */
  readonly notifies: readonly Reliable[];
  /** Each notified subscription with the nonce just used: stored, so a restart goes on from it. */
  readonly changes: readonly StateChange[];
}

/** What a move needs besides the database: who to tell, and how to sign the SMRs' ITR-RLOC. */
export interface MoveAudience {
  readonly requesters: RequesterTable;
  readonly subscriptions: SubscriptionTable;
  /** The address we put as ITR-RLOC in the SMRs to `itr` (one it can reach us on). */
  advertise(itr: string): Address;
}

/** The SMR key (`eidKey`: the prefix's prefixKey): a newer move's SMR to the same ITR for the same prefix replaces a pending one. */
function smrKey(itr: string, eidKey: string): string {
  return `${SMR_KEY_PREFIX}${itr}|${eidKey}`;
}

const SMR_KEY_PREFIX = 'smr|';

/** Plans what one changed binding calls for (RFC 9301 §6.6.2 SMRs, §5.7 and RFC 9437 Map-Notifies). */
export function planMove(db: MappingDatabase, audience: MoveAudience, change: BindingChange, now: number): MovePlan {
  const resolution = db.resolve(change.eid, now);
  const record = { ...answerRecord(resolution), eid: change.eid };
  // One nonce for the move's SMRs: the SMR-invoked requests carry their own, OOR ignores this one.
  // Retransmissions repeat the same SMR (OOR does not look at an SMR's nonce).
  const nonce = randomNonce();
  // A move's SMRs differ only in the record (the ITR's own EID): encoded once per advertised
  // address and shape, then copied with that address rewritten.
  const encoders = new Map<string, (record: EidPrefix) => Uint8Array>();
  const encoderFor = (itr: string): ((record: EidPrefix) => Uint8Array) => {
    const advertised = audience.advertise(itr);
    const key = advertised.afi === 'ipv4' || advertised.afi === 'ipv6' ? advertised.ip : '';
    let encoder = encoders.get(key);
    if (!encoder) {
      encoder = singleRecordVariants(smrBase(change.eid, advertised, nonce));
      encoders.set(key, encoder);
    }
    return encoder;
  };
  const requesters = audience.requesters.overlapping(change.eid, now);
  const eidKey = prefixKey(change.eid);
  const smrs = function* (): Generator<PlannedSmr> {
    for (const requester of requesters) {
      const itrEid = ownEid(requester.sourceEid);
      if (!itrEid) continue;
      const bytes = encoderFor(requester.itr)(itrEid);
      yield { kind: 'smr', key: smrKey(requester.itr, eidKey), itr: requester.itr, eid: change.eid, out: { kind: 'raw', to: { address: requester.itr, port: LISP_CONTROL_PORT }, bytes } };
    }
  };
  const notifies: Reliable[] = [];
  const changes: StateChange[] = [];
  // Every subscriber of an overlapping prefix: the changed prefix when it lies inside the
  // subscribed one, else the subscribed prefix with what it resolves to now.
  for (const subscription of audience.subscriptions.overlapping(change.eid, now)) {
    const eid = containsPrefix(subscription.eid, change.eid) ? change.eid : subscription.eid;
    const subscribed = eid === change.eid ? record : { ...answerRecord(db.resolve(eid, now)), eid };
    // RFC 9437: a new nonce per Map-Notify, the subscription's incremented (lispers.net
    // repeats the request's; its xTR does not check it).
    const next: Subscription = { ...subscription, nonce: (subscription.nonce + 1n) & 0xffffffffffffffffn };
    const key = subscriberNotifyKey(db, subscription);
    changes.push({ kind: 'put-subscription', subscription: next });
    notifies.push(reliableNotify({ address: next.itr, port: next.port }, subscriberNotify(next, next.nonce, [subscribed], key), key?.secret));
  }
  // ETRs that held the binding and lost it learn the new mapping (RFC 9301 §5.7 Map-Notify).
  const kept = new Set(change.after?.registrations.map((r) => r.etrId));
  for (const old of change.before?.registrations ?? []) {
    if (kept.has(old.etrId)) continue;
    const signed = etrNotify(record, old, db.sites.get(old.site));
    if (signed) notifies.push(reliableNotify({ address: old.source.address, port: LISP_CONTROL_PORT }, signed.notify, signed.secret));
  }
  return { smrs: smrs(), notifies, changes };
}

/**
 * SMRs sent and not yet answered by an SMR-invoked Map-Request, by ITR: what an SMR-invoked
 * request answers is found here (the outbox holds the messages and their timers).
 */
export class PendingSmrs {
  /** ITR -> its pending SMRs by key (nearly always one: the VM that moved). */
  private readonly byItr = new Map<string, SmallMap<string, PlannedSmr>>();

  add(smr: PlannedSmr): void {
    let byKey = this.byItr.get(smr.itr);
    if (!byKey) {
      byKey = new SmallMap();
      this.byItr.set(smr.itr, byKey);
    }
    byKey.set(smr.key, smr);
  }

  /** The SMR under `key` is no longer pending (answered, or its retries ran out). */
  forget(key: string): void {
    if (!key.startsWith(SMR_KEY_PREFIX)) return;
    const itr = key.slice(SMR_KEY_PREFIX.length, key.indexOf('|', SMR_KEY_PREFIX.length));
    const byKey = this.byItr.get(itr);
    if (!byKey?.delete(key)) return;
    if (byKey.size === 0) this.byItr.delete(itr);
  }

  /** The keys of the pending SMRs an SMR-invoked Map-Request answers (from that ITR, for an overlapping prefix); forgotten here. */
  answeredBy(request: MapRequest, from: Endpoint): string[] {
    if (this.byItr.size === 0) return [];
    const answered: string[] = [];
    const itrs = [from.address, ...request.itrRlocs.flatMap((r) => (r.afi === 'ipv4' || r.afi === 'ipv6' ? [r.ip] : []))];
    for (const itr of new Set(itrs)) {
      for (const smr of [...(this.byItr.get(itr)?.values() ?? [])]) {
        if (!request.records.some((asked) => prefixesOverlap(asked, smr.eid) || containsPrefix(asked, smr.eid))) continue;
        this.forget(smr.key);
        answered.push(smr.key);
      }
    }
    return answered;
  }

  clear(): void {
    this.byItr.clear();
  }
}

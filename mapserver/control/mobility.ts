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
import { FAMILY_BITS, containsPrefix, eidFamily, prefixKey, prefixesOverlap } from '../db/prefix.js';
import { answerRecord, LISP_CONTROL_PORT } from './map-resolver.js';
import type { Requester, RequesterTable } from './requesters.js';
import { Retransmitter, type Timers } from './retransmit.js';

export interface BindingChange {
  readonly eid: EidPrefix;
  readonly before: Binding | undefined;
  readonly after: Binding | undefined;
}

/** Whether two bindings send traffic to different places. */
export function bindingMoved(before: Binding | undefined, after: Binding | undefined): boolean {
  const rlocs = (b: Binding | undefined): string =>
    b ? b.record.locators.map((l) => JSON.stringify(l.rloc)).sort().join('|') + `|${b.record.action}` : '';
  return rlocs(before) !== rlocs(after);
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
  const eid: EidPrefix = { iid, address, length: 0 };
  const family = eidFamily(eid);
  return family ? { ...eid, length: FAMILY_BITS[family] } : undefined;
}

export function smrFor(changed: EidPrefix, requester: Requester, advertise: Address): MapRequest | undefined {
  const record = ownEid(requester.sourceEid);
  if (!record) return undefined;
  return {
    type: 'map-request',
    authoritative: false, mapDataPresent: false, probe: false, smr: true, pitr: false, smrInvoked: false,
    notifyRequested: false, localXtr: false, dontMapReply: false,
    nonce: randomNonce(),
    sourceEid: eidAddress(changed),
    itrRlocs: [advertise],
    records: [record],
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
  send(to: Endpoint, message: MapRequest): void;
  sendNotify(to: Endpoint, notify: MapNotify, secret: string | undefined): void;
  /** The address we put as ITR-RLOC in SMRs, per family. */
  advertise(family: 'ipv4' | 'ipv6'): Address;
}

export interface MoveReport {
  readonly eid: EidPrefix;
  readonly smrs: number;
  readonly notifies: number;
  /** Milliseconds from the change being durable to the last first transmission. */
  readonly fanoutMs: number;
}

export class MobilityNotifier {
  private readonly smrs: Retransmitter<string>;
  /** Pending SMR retransmissions, by key `itr|changed prefix`. */
  private readonly pending = new Map<string, { readonly itr: string; readonly eid: EidPrefix }>();

  constructor(
    private readonly db: MappingDatabase,
    private readonly requesters: RequesterTable,
    private readonly callbacks: MobilityCallbacks,
    timers: Timers,
  ) {
    this.smrs = new Retransmitter(timers);
  }

  get pendingSmrs(): number {
    return this.pending.size;
  }

  /** Reacts to one changed binding; returns what it sent. */
  onChange(change: BindingChange, now: number): MoveReport {
    const started = process.hrtime.bigint();
    const resolution = this.db.resolve(change.eid, now);
    const record = { ...answerRecord(resolution), eid: change.eid };
    let smrs = 0;
    let notifies = 0;
    for (const requester of this.requesters.overlapping(change.eid, now)) {
      const family = requester.itr.includes(':') ? 'ipv6' : 'ipv4';
      const smr = smrFor(change.eid, requester, this.callbacks.advertise(family));
      if (smr) {
        const key = `${requester.itr}|${prefixKey(change.eid)}`;
        const to = { address: requester.itr, port: LISP_CONTROL_PORT };
        this.pending.set(key, { itr: requester.itr, eid: change.eid });
        // Retransmissions repeat the same SMR (OOR does not look at an SMR's nonce).
        this.smrs.start(key, () => this.callbacks.send(to, smr), () => this.pending.delete(key));
        smrs++;
      }
      if (requester.subscription) {
        const site = this.siteOf(requester.sourceEid);
        const key = site?.keys[0];
        this.callbacks.sendNotify({ address: requester.itr, port: LISP_CONTROL_PORT }, notifyFor(record, key?.alg, requester.subscription), key?.secret);
        notifies++;
      }
    }
    // ETRs that held the binding and lost it learn the new mapping (RFC 9301 §5.7 Map-Notify).
    const kept = new Set(change.after?.registrations.map((r) => r.etrId));
    for (const old of change.before?.registrations ?? []) {
      if (kept.has(old.etrId)) continue;
      const key = this.db.sites.get(old.site)?.keys[0];
      if (!key) continue;
      this.callbacks.sendNotify({ address: old.source.address, port: LISP_CONTROL_PORT }, notifyFor(record, key.alg), key.secret);
      notifies++;
    }
    return { eid: change.eid, smrs, notifies, fanoutMs: Number(process.hrtime.bigint() - started) / 1e6 };
  }

  /** An SMR-invoked Map-Request arrived: stop retransmitting the SMRs it answers. */
  onSmrInvoked(request: MapRequest, from: Endpoint): number {
    if (this.pending.size === 0) return 0;
    const itrs = new Set([from.address, ...request.itrRlocs.flatMap((r) => (r.afi === 'ipv4' || r.afi === 'ipv6' ? [r.ip] : []))]);
    let stopped = 0;
    for (const [key, entry] of this.pending) {
      if (!itrs.has(entry.itr)) continue;
      if (!request.records.some((eid) => prefixesOverlap(eid, entry.eid) || containsPrefix(eid, entry.eid))) continue;
      this.smrs.cancel(key);
      this.pending.delete(key);
      stopped++;
    }
    return stopped;
  }

  private siteOf(source: Address): Site | undefined {
    const eid = ownEid(source);
    return eid ? this.db.siteFor(eid)?.site : undefined;
  }

  close(): void {
    this.smrs.cancelAll();
    this.pending.clear();
  }
}

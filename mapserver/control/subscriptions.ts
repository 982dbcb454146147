// RFC 9437 subscriptions: who asked (N bit) to be told when a mapping changes.
//
// A subscriber is its xTR-ID + site-ID (RFC 9437 §5; lispers.net sends the xTR-ID alone, which
// is then the whole identity). One subscription per (subscriber, EID prefix): a repeated
// subscription replaces the earlier one (new ITR-RLOC, port, nonce, lifetime), as lispers.net
// does. This table is apart from the requester table: a flood of plain Map-Requests, which
// can evict requesters, never evicts a subscription. It is persisted (StateChange
// 'put-subscription' / 'delete-subscription'), so subscribers are still notified after a restart.
//
// Lifetime: the TTL (minutes) of the mapping the subscription was answered with, renewed by
// every repeated subscription (lispers.net times its pubsub state out the same way). Unsubscribe:
// RFC 9437 §5 ends a subscription with a Map-Request whose N bit is set and whose ITR-RLOC-AFI
// is 0 (no ITR-RLOC to notify); lispers.net has no unsubscribe and relies on the timeout.
import { AUTH_ALG, type Address, type EidPrefix, type MapNotify, type MapRequest, type MappingRecord } from '../codec/types.js';
import { authDataLength } from '../codec/auth.js';
import type { MappingDatabase } from '../db/database.js';
import type { Endpoint, KeyAlgorithm, StateChange, Subscription } from '../db/model.js';
import { PrefixTable } from '../db/trie.js';
import { FAMILY_BITS, containsPrefix, eidFamily, prefixKey } from '../codec/prefix.js';
import { answerRecord } from './map-resolver.js';
import { dropped, reliableNotify, type HandlerResult } from './types.js';

const hex = (bytes: Uint8Array | undefined): string => (bytes ? Buffer.from(bytes).toString('hex') : '-');

/** The subscriber's identity: xTR-ID + site-ID. */
export function subscriberKey(s: { readonly xtrId: Uint8Array; readonly siteId?: Uint8Array }): string {
  return `${hex(s.xtrId)}/${hex(s.siteId)}`;
}

/** The store key of a subscription. */
export function subscriptionStoreKey(s: Subscription): string {
  return `sub/${subscriberKey(s)}/${prefixKey(s.eid)}`;
}

export class SubscriptionTable {
  private readonly byPrefix = new PrefixTable<Map<string, Subscription>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(subscriber: { readonly xtrId: Uint8Array; readonly siteId?: Uint8Array }, eid: EidPrefix): Subscription | undefined {
    return this.byPrefix.get(eid)?.get(subscriberKey(subscriber));
  }

  /** Adds or replaces the subscription of its subscriber to its prefix. */
  put(subscription: Subscription): void {
    let slot = this.byPrefix.get(subscription.eid);
    if (!slot) {
      slot = new Map();
      this.byPrefix.set(subscription.eid, slot);
    }
    const key = subscriberKey(subscription);
    if (!slot.has(key)) this.count++;
    slot.set(key, subscription);
  }

  delete(subscription: Subscription): boolean {
    const slot = this.byPrefix.get(subscription.eid);
    if (!slot?.delete(subscriberKey(subscription))) return false;
    this.count--;
    if (slot.size === 0) this.byPrefix.delete(subscription.eid);
    return true;
  }

  /** Live subscriptions whose prefix overlaps `eid` (covers it or lies inside it). */
  overlapping(eid: EidPrefix, now: number): Subscription[] {
    const out: Subscription[] = [];
    const seen = new Set<Map<string, Subscription>>();
    for (const { value } of [...this.byPrefix.covering(eid), ...this.byPrefix.coveredBy(eid)]) {
      if (seen.has(value)) continue;
      seen.add(value);
      for (const s of value.values()) if (s.expiresAt > now) out.push(s);
    }
    return out;
  }

  /** Every subscription (live or not). */
  all(): Subscription[] {
    const out: Subscription[] = [];
    for (const { value } of this.byPrefix.entries()) out.push(...value.values());
    return out;
  }

  /** Subscriptions whose lifetime ended; the caller deletes them (durably). */
  expired(now: number): Subscription[] {
    return this.all().filter((s) => s.expiresAt <= now);
  }
}

/** How a Map-Notify to a subscriber is signed: key ID, algorithm, digest length and secret. */
export interface NotifyKey {
  readonly keyId: number;
  readonly algId: number;
  readonly length: number;
  readonly secret: string;
}

const ALG_ID: Readonly<Record<KeyAlgorithm, number>> = { 'hmac-sha1': AUTH_ALG.hmacSha1, 'hmac-sha256': AUTH_ALG.hmacSha256 };

/**
 * The key a subscriber can verify (RFC 9437 §5/§7: the security association it shares with the
 * Map-Server). First the key its xTR-ID registers with (as it signed: key ID, algorithm, digest
 * length); else the first key of the site whose prefix covers its source EID; else none: the
 * Map-Notify goes unsigned (key ID, algorithm and length 0), as lispers.net sends them.
 */
export function subscriberNotifyKey(db: MappingDatabase, subscriber: { readonly xtrId: Uint8Array; readonly sourceEid: Address }): NotifyKey | undefined {
  for (const reg of db.registrationsOf(`xtr:${Buffer.from(subscriber.xtrId).toString('hex')}`)) {
    const key = db.sites.get(reg.site)?.keys[reg.auth?.keyIndex ?? 0];
    if (!key) continue;
    if (reg.auth && ALG_ID[key.alg] === reg.auth.algId) return { keyId: reg.auth.keyId, algId: reg.auth.algId, length: reg.auth.length, secret: key.secret };
    return { keyId: 0, algId: ALG_ID[key.alg], length: authDataLength(ALG_ID[key.alg]), secret: key.secret };
  }
  const own = hostPrefix(subscriber.sourceEid);
  const key = own ? db.siteFor(own)?.site.keys[0] : undefined;
  if (!key) return undefined;
  return { keyId: 0, algId: ALG_ID[key.alg], length: authDataLength(ALG_ID[key.alg]), secret: key.secret };
}

function hostPrefix(source: Address): EidPrefix | undefined {
  const iid = source.afi === 'lcaf-iid' ? source.iid : 0;
  const address = source.afi === 'lcaf-iid' ? source.address : source;
  if (address.afi !== 'ipv4' && address.afi !== 'ipv6') return undefined;
  return { iid, address, length: FAMILY_BITS[address.afi] };
}

/**
 * A Map-Notify to a subscriber: the subscriber's nonce, its key (or none), and its own layout:
 * an RFC 9437 subscriber (site-ID) gets the I bit with its xTR-ID and site-ID, a lispers.net one
 * (xTR-ID alone) a plain Map-Notify, which is what lispers.net's Map-Server sends.
 */
export function subscriberNotify(subscription: Subscription, nonce: bigint, records: readonly MappingRecord[], key: NotifyKey | undefined): MapNotify {
  const rfc = subscription.siteId !== undefined;
  return {
    type: 'map-notify',
    xtrIdPresent: rfc,
    rtr: false,
    nonce,
    auth: key ? { keyId: key.keyId, algId: key.algId, authData: new Uint8Array(key.length) } : { keyId: 0, algId: AUTH_ALG.none, authData: new Uint8Array(0) },
    records,
    ...(rfc ? { xtrId: subscription.xtrId, siteId: subscription.siteId } : {}),
  };
}

/**
 * A Map-Request with the N bit and an xTR-ID (RFC 9437 §5). With an ITR-RLOC it subscribes (or
 * renews) each EID record and is answered, as RFC 9437 and lispers.net do, with a Map-Notify
 * instead of a Map-Reply: the request's nonce, the mapping each record resolves to, sent to
 * the ITR-RLOC at the port the request came from. With ITR-RLOC-AFI 0 it unsubscribes.
 * `replyPort` is the request's UDP source port (the inner one for an ECM).
 */
export function handleSubscribe(
  db: MappingDatabase,
  table: SubscriptionTable,
  request: MapRequest & { readonly xtrId: Uint8Array },
  from: Endpoint,
  replyPort: number,
  families: ReadonlySet<'ipv4' | 'ipv6'>,
  now: number,
): HandlerResult {
  const subscriber = request.siteId ? { xtrId: request.xtrId, siteId: request.siteId } : { xtrId: request.xtrId };
  const changes: StateChange[] = [];
  if (request.records.length === 0) return { ...dropped('malformed', 'subscription without EID records', from) };
  const itr = request.itrRlocs.find((a) => (a.afi === 'ipv4' || a.afi === 'ipv6') && families.has(a.afi));
  if (request.itrRlocs.every((a) => a.afi === 'none')) {
    for (const eid of request.records) {
      const existing = table.get(subscriber, eid);
      if (existing) changes.push({ kind: 'delete-subscription', subscription: existing });
    }
    return { outbound: [], changes, events: [] };
  }
  if (!itr || (itr.afi !== 'ipv4' && itr.afi !== 'ipv6')) return { ...dropped('no-itr-rloc', 'no ITR-RLOC of an address family this server can reach', from) };
  const records: MappingRecord[] = [];
  let subscription: Subscription | undefined;
  for (const eid of request.records) {
    if (!eidFamily(eid)) return { ...dropped('unsupported', `EID of address family ${eid.address.afi} cannot be resolved`, from) };
    const answer = answerRecord(db.resolve(eid, now));
    // The record names the prefix subscribed to (lispers.net answers the requested EID too).
    records.push(containsPrefix(answer.eid, eid) ? { ...answer, eid } : answer);
    subscription = {
      ...subscriber,
      eid,
      itr: itr.ip,
      port: replyPort,
      sourceEid: request.sourceEid,
      nonce: request.nonce,
      expiresAt: now + Math.max(answer.ttl, 1) * 60_000,
    };
    changes.push({ kind: 'put-subscription', subscription });
  }
  const key = subscriberNotifyKey(db, { xtrId: request.xtrId, sourceEid: request.sourceEid });
  const notify = subscriberNotify(subscription!, request.nonce, records, key);
  // Sent once the subscription is stored, then resent until acknowledged.
  return { outbound: [], changes, events: [], reliable: [reliableNotify({ address: itr.ip, port: replyPort }, notify, key?.secret)] };
}

/** Applies subscription changes to the table (the server does so as it commits them). */
export function applySubscriptionChange(table: SubscriptionTable, change: StateChange): void {
  if (change.kind === 'put-subscription') table.put(change.subscription);
  else if (change.kind === 'delete-subscription') table.delete(change.subscription);
}

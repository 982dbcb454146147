// Mapping-system state: sites (who may register what, with which keys), static mappings and
// live registrations. Transport-free; the store persists exactly these shapes.
import type { Address, EidPrefix, MappingRecord } from '../codec/types.js';

export type KeyAlgorithm = 'hmac-sha1' | 'hmac-sha256';

export interface SiteKey {
  readonly alg: KeyAlgorithm;
  /** Shared secret; write-only through the API, never logged. */
  readonly secret: string;
}

export interface SitePrefix {
  readonly eid: EidPrefix;
  /** Accept registrations of prefixes inside `eid` (e.g. a migrating VM's /32). */
  readonly acceptMoreSpecifics: boolean;
  /**
   * Minutes: caps the TTL of replies about registrations more specific than this prefix (VMs
   * that may move), so ITRs that never asked through us still re-resolve soon after a move.
   */
  readonly moreSpecificTtl?: number;
}

export interface Site {
  readonly name: string;
  readonly description?: string;
  /** Several keys may be valid at once (key rollover). */
  readonly keys: readonly SiteKey[];
  readonly prefixes: readonly SitePrefix[];
}

/** A static mapping configured by the operator, answered as-is by the Map-Resolver. */
export type StaticMapping = MappingRecord;

/** Where a UDP datagram came from or goes to. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface RegistrationAuth {
  readonly keyId: number;
  readonly algId: number;
  readonly length: number;
  readonly keyIndex: number;
}

/**
 * One registration: one (EID prefix, registering ETR). The ETR is identified by its xTR-ID
 * when the Map-Register had the I bit, else by the source RLOC address.
 */
export interface Registration {
  readonly site: string;
  /** `xtr:<32 hex>` or `rloc:<address>`. */
  readonly etrId: string;
  readonly source: Endpoint;
  readonly xtrId?: Uint8Array;
  readonly siteId?: Uint8Array;
  readonly proxyReply: boolean;
  readonly merge: boolean;
  /**
   * How the ETR authenticated its Map-Register: wire Key ID, algorithm ID, digest length (full
   * or RFC 9301-truncated) and the index of the site key that verified it. Map-Notifies to the
   * ETR are signed the same way. Absent for registrations stored before it was kept and for
   * operator moves.
   */
  readonly auth?: RegistrationAuth;
  readonly record: MappingRecord;
  /**
   * Epoch milliseconds. `claimedAt` starts this ETR's current claim on the prefix: its first
   * registration, or its first after it stopped listing the prefix (see authority/ownership.ts).
   */
  readonly claimedAt: number;
  readonly lastRefreshed: number;
  readonly expiresAt: number;
  /** The ETR's latest complete register burst did not list the prefix: it no longer claims it. */
  readonly left?: boolean;
  /** In memory only: the ETR's register burst that last refreshed this registration. */
  readonly burst?: number;
}

/** One change to the mapping state: what the database applies and the store persists. */
export type StateChange =
  | { readonly kind: 'put-site'; readonly site: Site }
  | { readonly kind: 'delete-site'; readonly name: string }
  | { readonly kind: 'put-mapping'; readonly mapping: MappingRecord }
  | { readonly kind: 'delete-mapping'; readonly eid: EidPrefix }
  | { readonly kind: 'put-registration'; readonly registration: Registration }
  | { readonly kind: 'delete-registration'; readonly eid: EidPrefix; readonly etrId: string }
  /** Map-Register nonces accepted in the second starting at `at` (replay protection). */
  | { readonly kind: 'put-nonces'; readonly at: number; readonly nonces: readonly bigint[] }
  | { readonly kind: 'delete-nonces'; readonly at: number }
  /**
   * The requester table (who to SMR), replaced whole, encoded as the store keeps it (a RequesterSnapshot, store/codec.ts
   * encodeRequesters): a full table is encoded a slice per event-loop turn (compose/requester-saver.ts).
   */
  | { readonly kind: 'put-requesters'; readonly encoded: Uint8Array }
  /** An RFC 9437 subscription (control/subscriptions.ts), created, refreshed or given a new nonce. */
  | { readonly kind: 'put-subscription'; readonly subscription: Subscription }
  | { readonly kind: 'delete-subscription'; readonly subscription: Subscription };

/**
 * A refresh that changes nothing of a live registration but its lifetime (most Map-Registers:
 * compose/commit.ts calls it quiet), applied in place. Never stored; replicated to the workers.
 */
export interface LifetimeRefresh {
  readonly kind: 'refresh-registration';
  readonly eid: EidPrefix;
  readonly etrId: string;
  /** Where the refresh came from (a Map-Notify to the ETR goes there). */
  readonly source: Endpoint;
  readonly lastRefreshed: number;
  readonly expiresAt: number;
  readonly burst: number | undefined;
}

/** What the database (and each worker's copy of it) applies: the stored changes and lifetime refreshes. */
export type DatabaseChange = StateChange | LifetimeRefresh;

/** An RFC 9437 subscription (control/subscriptions.ts keeps the table and its rules; stored like a registration). */
export interface Subscription {
  readonly xtrId: Uint8Array;
  /** Absent for lispers.net subscribers (its Map-Request carries no site-ID). */
  readonly siteId?: Uint8Array;
  /** The prefix subscribed to: the Map-Request's EID record (what lispers.net keys on too). */
  readonly eid: EidPrefix;
  /** ITR-RLOC the Map-Notifies go to, and the UDP port the subscription came from. */
  readonly itr: string;
  readonly port: number;
  /** The subscriber's source EID (finds its site when its xTR-ID has registered nothing). */
  readonly sourceEid: Address;
  /** Nonce of the latest Map-Notify sent (the Map-Request's at first); the next one is +1. */
  readonly nonce: bigint;
  readonly expiresAt: number;
}

/** An ITR answered about a prefix (control/requesters.ts keeps the table; its snapshot is stored). */
export interface Requester {
  /** The ITR-RLOC the answer went to. */
  readonly itr: string;
  /** The Map-Request's source EID: names one of the ITR's own EIDs (the SMR's record). */
  readonly sourceEid: Address;
  /** The prefix the ITR was answered (what it caches). */
  readonly eid: EidPrefix;
  readonly expiresAt: number;
  /**
   * Kept only as requester snapshots stored before subscriptions had their own table carry it;
   * RFC 9437 subscriptions now live in control/subscriptions.ts and nothing sets this.
   */
  readonly subscription?: { readonly xtrId: Uint8Array; readonly siteId?: Uint8Array };
}

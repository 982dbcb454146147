// Typed LISP control messages (RFC 9301, RFC 9437 for the N/I bits of Map-Request).
// These are the only representations of addresses, EID prefixes, locators and mapping
// records in livmap: the codec, the database, the store and the API all use them.

/** Write access to one of these read-only shapes, for the code that builds or updates its own (a decoder, the database). */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** LISP Address Family Identifiers that livmap understands on the wire. */
export const AFI = {
  none: 0,
  ipv4: 1,
  ipv6: 2,
  lcaf: 16387,
  mac: 16389,
} as const;

/** LCAF types (RFC 8060) that livmap decodes into structure; any other is kept opaque. */
export const LCAF_TYPE = {
  afiList: 1,
  instanceId: 2,
} as const;

/**
 * A wire address. IP addresses are canonical text (dotted quad; RFC 5952 lower-case
 * compressed IPv6), MACs are `aa:bb:cc:dd:ee:ff`.
 */
export type Address =
  | { readonly afi: 'none' }
  | { readonly afi: 'ipv4'; readonly ip: string }
  | { readonly afi: 'ipv6'; readonly ip: string }
  | { readonly afi: 'mac'; readonly mac: string }
  /** LCAF type 2. `maskLen` is the IID mask-len byte (OOR sends 32). */
  | { readonly afi: 'lcaf-iid'; readonly iid: number; readonly maskLen: number; readonly flags: number; readonly address: Address }
  /** LCAF type 1: several addresses of different families for one entity. */
  | { readonly afi: 'lcaf-afi-list'; readonly flags: number; readonly addresses: readonly Address[] }
  /** Any other LCAF: header fields plus the payload bytes, re-encoded unchanged. */
  | {
      readonly afi: 'lcaf';
      readonly lcafType: number;
      readonly rsvd1: number;
      readonly flags: number;
      readonly rsvd2: number;
      readonly payload: Uint8Array;
    };

/** Address families an EID prefix can be matched in. */
export type EidFamily = 'ipv4' | 'ipv6' | 'mac';

/**
 * The one EID-prefix type: instance ID + address + prefix length.
 * On the wire a non-zero IID is an Instance-ID LCAF (mask-len byte 32 unless `iidMaskLen` says
 * otherwise) around the address; IID 0 is the bare address. `address` is never an `lcaf-iid` itself.
 */
export interface EidPrefix {
  readonly iid: number;
  readonly address: Address;
  readonly length: number;
  /**
   * The Instance-ID LCAF's IID mask-len byte (RFC 8060: how many bits of the IID are
   * significant). Decode sets it only when it is not 32 (what OOR sends and encode writes when
   * absent), so a peer's value goes back out unchanged.
   */
  readonly iidMaskLen?: number;
}

/** Map-Reply actions (RFC 9301 §5.4). */
export const ACTION = {
  noAction: 0,
  nativelyForward: 1,
  sendMapRequest: 2,
  drop: 3,
  dropPolicyDenied: 4,
  dropAuthFailure: 5,
} as const;

/** The names of ACTION values, by value, as config files, the API and the CLI spell them. */
export const ACTION_NAMES = ['no-action', 'natively-forward', 'send-map-request', 'drop', 'drop-policy-denied', 'drop-auth-failure'] as const;

/** `natively-forward` for 1; `action-N` for values RFC 9301 does not name. */
export function actionName(action: number): string {
  return ACTION_NAMES[action] ?? `action-${action}`;
}

export interface Locator {
  readonly priority: number;
  readonly weight: number;
  readonly mPriority: number;
  readonly mWeight: number;
  /** L: the locator is local to the sender. */
  readonly local: boolean;
  /** p: the locator was RLOC-probed. */
  readonly probed: boolean;
  /** R: the locator is reachable. */
  readonly reachable: boolean;
  readonly rloc: Address;
}

/** The one mapping type: an EID-record of Map-Reply/Map-Register/Map-Notify. */
export interface MappingRecord {
  readonly eid: EidPrefix;
  /** Minutes; 0xffffffff means "never expires". */
  readonly ttl: number;
  readonly action: number;
  /** A: the mapping comes from an authoritative source. */
  readonly authoritative: boolean;
  /** 12-bit map-version number. */
  readonly mapVersion: number;
  readonly locators: readonly Locator[];
}

/**
 * Authentication of Map-Register / Map-Notify / Map-Notify-Ack: IANA "LISP Algorithm ID
 * Numbers" (RFC 9301 §5.6): 1 = HMAC-SHA-1-96, 2 = HMAC-SHA-256-128. livmap accepts both the
 * truncated digest the RFC names (12 / 16 bytes) and the full one OOR sends under the same id
 * (20 / 32 bytes).
 */
export const AUTH_ALG = { none: 0, hmacSha1: 1, hmacSha256: 2 } as const;

export interface Auth {
  /**
   * RFC 9301 splits the 16-bit field into Key ID (high byte) and Algorithm ID (low byte);
   * OOR reads it as a 16-bit key id 1 (SHA-1) / 2 (SHA-256). With keyId 0 both agree.
   */
  readonly keyId: number;
  readonly algId: number;
  readonly authData: Uint8Array;
}

export interface MapRequest {
  readonly type: 'map-request';
  /** A */
  readonly authoritative: boolean;
  /** M: a Map-Reply record is appended. */
  readonly mapDataPresent: boolean;
  /** P: RLOC probe. */
  readonly probe: boolean;
  /** S: Solicit-Map-Request. */
  readonly smr: boolean;
  /** p: sent by a PITR. */
  readonly pitr: boolean;
  /** s: SMR-invoked. */
  readonly smrInvoked: boolean;
  /**
   * N (RFC 9437 §5): notification requested (subscribe). On the wire it is bit 0x80 of each EID
   * record's reserved byte; encode sets it on every record, decode reports it when any record
   * has it. The header bit 0x20 (R in RFC 9301 §5.2, "mobile node" in lispers.net) is reserved:
   * written 0 and ignored on receipt.
   */
  readonly notifyRequested: boolean;
  /** L: sent by a local xTR. */
  readonly localXtr: boolean;
  /** D: do not send a Map-Reply. */
  readonly dontMapReply: boolean;
  readonly nonce: bigint;
  readonly sourceEid: Address;
  readonly itrRlocs: readonly Address[];
  readonly records: readonly EidPrefix[];
  readonly mapReply?: MappingRecord;
  /**
   * The subscriber's 16-byte xTR-ID after the records. With `siteId` it is RFC 9437 §5's layout
   * (I bit set, xTR-ID + 8-byte site-ID); without, lispers.net's (I bit clear, N set in the
   * records, the xTR-ID alone ends the message). Encode writes whichever layout the fields give.
   */
  readonly xtrId?: Uint8Array;
  readonly siteId?: Uint8Array;
}

export interface MapReply {
  readonly type: 'map-reply';
  /** P */
  readonly probe: boolean;
  /** E: echo-nonce capable. */
  readonly echoNonce: boolean;
  /** S: security. */
  readonly security: boolean;
  readonly nonce: bigint;
  readonly records: readonly MappingRecord[];
}

export interface MapRegister {
  readonly type: 'map-register';
  /** P: proxy Map-Reply wanted. */
  readonly proxyReply: boolean;
  /** S: security. */
  readonly security: boolean;
  /** I: xTR-ID and site-ID follow the records. */
  readonly xtrIdPresent: boolean;
  /** R: sent by an RTR. */
  readonly rtr: boolean;
  /** M: want Map-Notify. */
  readonly wantMapNotify: boolean;
  /** Merge bit (the "m"/"a" bit of RFC 9301 drafts): merge locator sets of several ETRs. */
  readonly merge: boolean;
  /**
   * E (RFC 9301 EID-notify bit). Optional so that callers can omit it; decode sets it only when
   * the bit is 1, encode writes 0 when absent.
   */
  readonly eidNotify?: boolean;
  /** T (RFC 9301 use-TTL-for-timeout bit). Same optional convention as `eidNotify`. */
  readonly ttlTimeout?: boolean;
  readonly nonce: bigint;
  readonly auth: Auth;
  readonly records: readonly MappingRecord[];
  readonly xtrId?: Uint8Array;
  readonly siteId?: Uint8Array;
}

export interface MapNotify {
  readonly type: 'map-notify' | 'map-notify-ack';
  /** I: xTR-ID and site-ID follow the records. */
  readonly xtrIdPresent: boolean;
  /** R: sent to an RTR. */
  readonly rtr: boolean;
  readonly nonce: bigint;
  readonly auth: Auth;
  readonly records: readonly MappingRecord[];
  readonly xtrId?: Uint8Array;
  readonly siteId?: Uint8Array;
}

/** The inner IP + UDP header of an Encapsulated Control Message. */
export interface InnerHeader {
  readonly version: 4 | 6;
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  // Optional wire details, so that a peer's ECM re-encodes byte-identical. Decode sets each one
  // only when it differs from the value encode uses when it is absent (0 / false / empty).
  /** IPv4 TOS byte or IPv6 traffic class. */
  readonly tos?: number;
  /** IPv6 20-bit flow label. */
  readonly flowLabel?: number;
  /** IPv4 identification. */
  readonly ipId?: number;
  /** IPv4 3-bit flags (2 = DF, which OOR sets). MF and fragment offsets are not allowed. */
  readonly ipFlags?: number;
  /** IPv4 options (a multiple of 4 bytes, at most 40). */
  readonly ipOptions?: Uint8Array;
  /** IPv4 only: the UDP checksum is 0 (not computed). Encode computes it unless this is true. */
  readonly udpChecksumZero?: boolean;
  /** Decode only: the inner IPv4 header checksum was wrong (encode always writes a correct one). */
  readonly badIpChecksum?: boolean;
  /** Decode only: the inner UDP checksum was wrong, or 0 over IPv6. */
  readonly badUdpChecksum?: boolean;
}

export interface EncapsulatedControl {
  readonly type: 'ecm';
  /** S: security. */
  readonly security: boolean;
  /** D: DDT-originated. */
  readonly ddt: boolean;
  /** E (RFC 9301 to-ETR bit; optional, decode sets it only when 1). */
  readonly toEtr?: boolean;
  /** M (RFC 9301 to-MS bit; optional, decode sets it only when 1). */
  readonly toMs?: boolean;
  readonly inner: InnerHeader;
  readonly message: LispMessage;
}

export type LispMessage = MapRequest | MapReply | MapRegister | MapNotify | EncapsulatedControl;
export type LispMessageType = LispMessage['type'];

// What a control handler returns: datagrams to send, database changes, events, or a drop.
// Handlers are pure (message, from, now) -> HandlerResult; the server applies the result.
import type { EidPrefix, LispMessage, Locator, MapNotify } from '../codec/types.js';
import type { Endpoint, StateChange } from '../db/model.js';
import type { Requester } from '../db/model.js';

export type Outbound =
  /** A message to encode; `secret` signs Map-Notify / Map-Register auth data. */
  | { readonly kind: 'message'; readonly to: Endpoint; readonly message: LispMessage; readonly secret?: string }
  /** Bytes sent unchanged (a Map-Request ECM forwarded to the ETR that registered with P=0). */
  | { readonly kind: 'raw'; readonly to: Endpoint; readonly bytes: Uint8Array };

/** `ecm-inner-type`: an Encapsulated Control Message carrying anything but a Map-Request (RFC 9301 §5.8 allows only that toward a Map-Resolver). */
export const DROP_REASONS = ['malformed', 'auth', 'replay', 'out-of-site', 'more-specific', 'unexpected', 'unsupported', 'no-itr-rloc', 'rate', 'ecm-inner-type'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface Drop {
  readonly reason: DropReason;
  /** For logs and the event stream; never contains secrets. */
  readonly detail: string;
}

export type ServerEvent =
  /** `locators` as registered: the API gives their RLOCs as text (api/event-log.ts), formatted only when an event is kept or streamed. */
  | { readonly type: 'registered'; readonly site: string; readonly eid: EidPrefix; readonly etrId: string; readonly locators: readonly Locator[]; readonly refresh: boolean }
  | { readonly type: 'withdrawn'; readonly site: string; readonly eid: EidPrefix; readonly etrId: string }
  | { readonly type: 'expired'; readonly site: string; readonly eid: EidPrefix; readonly etrId: string }
  | { readonly type: 'refused'; readonly from: Endpoint; readonly reason: DropReason; readonly detail: string }
  /** A stale claim: `claimant` refreshed a prefix that `holders` claimed after it; not answered with a Map-Notify. */
  | { readonly type: 'contested'; readonly site: string; readonly eid: EidPrefix; readonly claimant: string; readonly holders: readonly string[] }
  /** `etrId`'s register burst no longer listed the prefix: it stopped claiming it (OOR never withdraws). */
  | { readonly type: 'left'; readonly site: string; readonly eid: EidPrefix; readonly etrId: string }
  | {
      readonly type: 'moved';
      readonly eid: EidPrefix;
      readonly from: readonly string[];
      readonly to: readonly string[];
      readonly smrs: number;
      readonly notifies: number;
      readonly fanoutMs: number;
      /** The site whose xTRs the EID is bound to now, when it is one of them. */
      readonly site?: string;
    };

/**
 * A message the server originates and resends every second, up to 3 times, until it is
 * acknowledged (RFC 9301 §5.7 Map-Notify -> Map-Notify-Ack; §6.6.2 SMR -> SMR-invoked
 * Map-Request). `key` is what the acknowledgement is matched by; a pending message with the
 * same key is replaced.
 */
export interface Reliable {
  readonly key: string;
  readonly kind: 'smr' | 'map-notify';
  readonly out: Outbound;
}

/** A Map-Notify is acknowledged by a Map-Notify-Ack from its destination address with its nonce. */
export function notifyAckKey(to: Endpoint, nonce: bigint): string {
  return `notify|${to.address}|${nonce.toString(16)}`;
}

/** A Map-Notify the server originates, resent until the destination acknowledges it. */
export function reliableNotify(to: Endpoint, notify: MapNotify, secret: string | undefined): Reliable {
  const out: Outbound = secret === undefined ? { kind: 'message', to, message: notify } : { kind: 'message', to, message: notify, secret };
  return { kind: 'map-notify', key: notifyAckKey(to, notify.nonce), out };
}

/** Time as the server's timers see it: injected so tests control it (test/helpers/fake-timers.ts). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type ReplyKind = 'positive' | 'negative' | 'forwarded';

export interface HandlerResult {
  /** Sent after `changes` are durable: a Map-Notify acknowledges a stored registration. */
  readonly outbound: readonly Outbound[];
  readonly changes: readonly StateChange[];
  readonly events: readonly ServerEvent[];
  readonly drop?: Drop;
  /** Map-Resolver answers by kind, for metrics. */
  readonly replies?: readonly ReplyKind[];
  /** Who was answered what: the ITRs to SMR when that binding changes. */
  readonly answered?: readonly Requester[];
  /** An authenticated, non-replayed Map-Register: its ETR and nonce, for the registration authority. */
  readonly accepted?: { readonly etrId: string; readonly nonce: bigint };
  /** Records of an accepted Map-Register that were refused, by reason. */
  readonly refusedRecords?: readonly DropReason[];
  /** Sent, like `outbound`, after `changes` are durable, then resent until acknowledged. */
  readonly reliable?: readonly Reliable[];
}

/**
 * Adds to a list created on first use with room for exactly one item: an empty array literal
 * reserves 17 slots on its first push, and most messages carry one record.
 */
export function append<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

export const NOTHING: HandlerResult = { outbound: [], changes: [], events: [] };

/** A drop; `announce` puts it on the event stream (refused registrations, not every bad packet). */
export function dropped(reason: DropReason, detail: string, from: Endpoint, announce = false): HandlerResult {
  return { outbound: [], changes: [], events: announce ? [{ type: 'refused', from, reason, detail }] : [], drop: { reason, detail } };
}

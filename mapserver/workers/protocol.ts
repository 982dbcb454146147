// The messages between the main thread (the one owner of the mapping database) and the worker
// threads that answer Map-Requests from a copy of it. Everything here crosses a MessagePort by
// structured clone: plain objects, Uint8Array and bigint only (no functions, no class instances).
//
// Replication: the main thread numbers every batch of DatabaseChanges it applies (`version`, from 1)
// and posts it to every worker; a port delivers in order, so a worker that applied version V has
// applied everything before it. A batch with `ack` set is answered with {ack V} once applied,
// after the worker has reported every ITR it answered before it (see AnsweredReport).
import type { DatabaseChange, StateChange } from '../db/model.js';
import type { Endpoint } from '../db/model.js';
import type { Requester } from '../db/model.js';
import type { RateLimit } from '../control/rate-limit.js';
import type { DropReason, ReplyKind } from '../control/types.js';
import type { PackedDatagrams } from './bulk.js';

/** What a worker starts from (workerData). */
export interface WorkerSetup {
  /** 1..N-1: the main thread is worker 0. */
  readonly index: number;
  /** The main thread's bound addresses (port 0 in the config is resolved): the workers join them. */
  readonly listen: ReadonlyArray<Endpoint & { readonly family: 4 | 6 }>;
  readonly receiveBufferBytes: number;
  readonly database: { readonly negativeTtlMinutes: number; readonly unregisteredSiteTtlMinutes: number };
  readonly rateLimit: RateLimit;
  /** Answers remembered for reporting before the worker forgets and reports again (bounds memory). */
  readonly requesterCapacity: number;
  /** The database as of `version`: sites, static mappings, registrations. */
  readonly snapshot: readonly StateChange[];
  readonly version: number;
}

/** The plain counters a worker keeps; /metrics adds them to the main thread's. */
export interface WorkerCounts {
  readonly datagrams: number;
  readonly received: { readonly 'map-request': number; readonly ecm: number };
  readonly dropped: Readonly<Partial<Record<DropReason | 'internal' | 'send-error', number>>>;
  readonly replies: Readonly<Record<ReplyKind, number>>;
  /** Datagrams sent from this worker's socket for the main thread (bulk shares, bulk.ts). */
  readonly bulkSent: number;
}

export type ToWorker =
  | { readonly kind: 'changes'; readonly version: number; readonly changes: readonly DatabaseChange[]; readonly ack: boolean }
  | { readonly kind: 'counts'; readonly id: number }
  /** A share of a big reliable batch to send from the worker's socket (bulk.ts), answered with `sent`. */
  | { readonly kind: 'send'; readonly id: number; readonly datagrams: PackedDatagrams }
  | { readonly kind: 'close' }
  /** Blocks the worker thread for `ms` (tests: a worker that is late to ack a change). */
  | { readonly kind: 'stall'; readonly ms: number };

export type FromWorker =
  /** Bound to every listen address: part of the reusePort group. */
  | { readonly kind: 'ready' }
  | { readonly kind: 'ack'; readonly version: number }
  /** ITRs answered since the last report (see AnsweredReport): for the main RequesterTable. */
  | { readonly kind: 'answered'; readonly requesters: readonly Requester[] }
  /** A datagram that is not a plain Map-Request (Map-Register, Map-Notify-Ack, an RFC 9437 subscribe, ...): the main thread handles it. */
  | { readonly kind: 'datagram'; readonly bytes: Uint8Array; readonly from: Endpoint }
  /** An SMR-invoked Map-Request the worker answered: the main thread stops SMRing that ITR. */
  | { readonly kind: 'smr-invoked'; readonly bytes: Uint8Array; readonly from: Endpoint }
  | { readonly kind: 'counts'; readonly id: number; readonly counts: WorkerCounts }
  /** Share `id` was handed to the socket (`sent`), or not, the socket being closed: then the main thread sends it. */
  | { readonly kind: 'sent'; readonly id: number; readonly sent: boolean }
  | { readonly kind: 'log'; readonly level: 'warn' | 'error'; readonly message: string; readonly detail: Readonly<Record<string, string | number>> };

/** DatabaseChange kinds the database applies (the store-only ones, nonces and the requester table, are not sent). */
export function replicated(change: DatabaseChange): boolean {
  return change.kind !== 'put-nonces' && change.kind !== 'delete-nonces' && change.kind !== 'put-requesters';
}

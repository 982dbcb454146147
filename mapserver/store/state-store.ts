// The seam between the server and persistent state. LevelDB (store.ts) is the one implementation
// today; a store for a clustered deployment (etcd, say) implements StateStore in one new file and
// is passed to the server as its `openStore`. Nothing here knows a transport or a file format.
import type { MappingRecord } from '../codec/types.js';
import type { Registration, Site, StateChange } from '../db/model.js';
import type { Requester } from '../db/model.js';
import type { Subscription } from '../db/model.js';

/** A stored value that could not be decoded (or does not belong under its key); skipped on load. */
export interface CorruptEntry {
  readonly key: string;
  readonly reason: string;
}

/** Everything a store holds, as loaded at start-up. */
export interface StoredState {
  readonly sites: Site[];
  readonly mappings: MappingRecord[];
  readonly registrations: Registration[];
  /** The replay window: Map-Register nonces accepted, by the second they were accepted in. */
  readonly nonces: Array<{ readonly at: number; readonly nonces: bigint[] }>;
  /** The requester table as last saved. */
  readonly requesters: Requester[];
  /** RFC 9437 subscriptions, expired ones included (the server drops those on load). */
  readonly subscriptions: Subscription[];
  readonly corrupt: CorruptEntry[];
}

/**
 * Changes are written in two steps so the group-commit writer (writer.ts) can encode each
 * caller's changes apart (an encoding error reaches only that caller) and write many callers'
 * batches at once: `prepare` encodes, `commit` writes batches in order, atomically.
 */
export interface BatchSink<Batch> {
  prepare(changes: readonly StateChange[]): Batch;
  commit(batches: readonly Batch[]): Promise<void>;
}

export interface StateStore<Batch = unknown> extends BatchSink<Batch> {
  /** Where the state lives, for logs (a directory, a cluster URL). */
  readonly location: string;
  /** Persists all `changes` atomically: after it resolves they survive a crash; on failure none applied. */
  apply(changes: readonly StateChange[]): Promise<void>;
  close(): Promise<void>;
}

export interface OpenedStore {
  readonly store: StateStore;
  readonly state: StoredState;
  /** How the state was read, for the start-up log line. */
  readonly loadedBy: 'worker' | 'main';
  /** Why the preferred way of reading failed, when it did. */
  readonly workerError?: string;
}

/** Opens the store behind a data directory and loads what it holds. */
export type StoreOpener = (dataDir: string) => Promise<OpenedStore>;

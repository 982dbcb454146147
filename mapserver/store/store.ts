// Persistent state in LevelDB: sites, static mappings and registrations, one protobuf value per
// key. Knows nothing of UDP or HTTP: callers hand it changes, it writes them atomically. At
// start-up an existing store is read on a worker thread (load-worker.ts) while the caller's
// thread decodes.
//
// Keys:  meta/schema                        StoreMeta
//        site/<name>                        Site
//        map/<prefixKey>                    MappingRecord
//        reg/<prefixKey>/<etrId>            Registration
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Level } from 'level';
import type { EidPrefix, MappingRecord } from '../codec/types.js';
import type { Registration, Site, StateChange, Subscription } from '../db/model.js';
import type { Requester } from '../db/model.js';
import { subscriptionStoreKey } from '../control/subscriptions.js';
import { prefixKey } from '../codec/prefix.js';
import { Interner } from './registration-reader.js';
import type { LoadWorkerData, LoadWorkerMessage } from './load-worker.js';
import { forEachEntry } from './entries.js';
import type { CorruptEntry, OpenedStore, StateStore, StoredState } from './state-store.js';
import {
  decodeMapping,
  decodeMeta,
  decodeRegistration,
  decodeSite,
  encodeMapping,
  encodeMeta,
  encodeRegistration,
  encodeSubscription,
  decodeSubscription,
  encodeNonces,
  decodeNonces,
  decodeRequesters,
  encodeSite,
} from './codec.js';

/** Bump only when older code would misread what newer code writes. */
export const SCHEMA_VERSION = 1;


export type { CorruptEntry, StoredState } from './state-store.js';

export interface StoreOptions {
  /**
   * fsync every batch (default true). A process crash never loses an acknowledged batch either
   * way (LevelDB has written its log); `sync` also covers power loss and kernel crashes.
   */
  readonly sync?: boolean;
  /**
   * fsync batches that hold only registration changes (default false). Registrations are soft
   * state that ETRs refresh every minute: written to the OS they survive a process crash
   * (kill -9), and skipping the fsync keeps it off every Map-Register's and every move's path.
   */
  readonly syncRegistrations?: boolean;
}

/** Sorts stored entries into a StoredState, decoding each; shared by both ways of loading. */
class StateCollector {
  private readonly sites: Site[] = [];
  private readonly mappings: MappingRecord[] = [];
  private readonly registrations: Registration[] = [];
  private readonly nonces: Array<{ readonly at: number; readonly nonces: bigint[] }> = [];
  private requesters: Requester[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly corrupt: CorruptEntry[] = [];
  private readonly interner = new Interner();

  /**
   * Like `add` for a key still in UTF-8 bytes: a registration's key is checked on its bytes and
   * turned into a string only to report a problem (a million key strings less at start-up).
   */
  addRaw(key: Uint8Array, value: Uint8Array): void {
    if (!startsWithReg(key)) {
      this.add(utf8.decode(key), value);
      return;
    }
    try {
      this.addRegistration(value, (etrId) => endsWithEtrId(key, etrId) || utf8.decode(key).endsWith(`/${etrId}`));
    } catch (err) {
      this.corrupt.push({ key: utf8.decode(key), reason: reasonOf(err) });
    }
  }

  add(key: string, value: Uint8Array): void {
    try {
      if (key.startsWith('reg/')) {
        this.addRegistration(value, (etrId) => key.endsWith(`/${etrId}`));
      } else if (key.startsWith('site/')) {
        const site = decodeSite(value);
        if (siteStoreKey(site.name) !== key) throw new Error(`holds site '${site.name}'`);
        this.sites.push(site);
      } else if (key.startsWith('map/')) {
        const mapping = decodeMapping(value);
        if (mappingStoreKey(mapping.eid) !== key) throw new Error(`holds the mapping of ${prefixKey(mapping.eid)}`);
        this.mappings.push(mapping);
      } else if (key === REQUESTERS_STORE_KEY) {
        this.requesters = decodeRequesters(value);
      } else if (key.startsWith('sub/')) {
        const subscription = decodeSubscription(value);
        if (subscriptionStoreKey(subscription) !== key) throw new Error('holds another subscription');
        this.subscriptions.push(subscription);
      } else if (key.startsWith('nonce/')) {
        const at = Number(key.slice('nonce/'.length));
        if (!Number.isSafeInteger(at) || nonceStoreKey(at) !== key) throw new Error('not a nonce/<epoch ms> key');
        this.nonces.push({ at, nonces: decodeNonces(value) });
      } else if (!key.startsWith('meta/')) {
        throw new Error('unknown key kind');
      }
    } catch (err) {
      this.corrupt.push({ key, reason: reasonOf(err) });
    }
  }

  /** Decodes a registration stored under a key for which `keyEndsWith('/' + etrId)` holds; throws otherwise. */
  private addRegistration(value: Uint8Array, keyEndsWith: (etrId: string) => boolean): void {
    const registration = decodeRegistration(value, this.interner);
    // A cheap check (there may be a million): re-deriving the whole key doubled cold start.
    if (!keyEndsWith(registration.etrId)) throw new Error(`holds a registration by ${registration.etrId}`);
    this.registrations.push(registration);
  }

  state(): StoredState {
    return { sites: this.sites, mappings: this.mappings, registrations: this.registrations, nonces: this.nonces, requesters: this.requesters, subscriptions: this.subscriptions, corrupt: this.corrupt };
  }
}

const utf8 = new TextDecoder();

function startsWithReg(key: Uint8Array): boolean {
  // 'r' 'e' 'g' '/'
  return key.length > 4 && key[0] === 0x72 && key[1] === 0x65 && key[2] === 0x67 && key[3] === 0x2f;
}

/** Whether `key` ends with '/' + etrId, compared byte by byte (ASCII ids; others fall back to text). */
function endsWithEtrId(key: Uint8Array, etrId: string): boolean {
  const start = key.length - etrId.length;
  if (start < 1 || key[start - 1] !== 0x2f) return false;
  for (let i = 0; i < etrId.length; i++) if (key[start + i] !== etrId.charCodeAt(i)) return false;
  return true;
}

/** The worker module next to this one (TypeScript sources under the test runner, else dist/). */
function loadWorkerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './load-worker.ts' : './load-worker.js', import.meta.url);
}

/**
 * Streams every entry of the (closed) store in `dir` from a worker thread to `onEntry`.
 * Resolves once the worker has exited, so its LevelDB lock is released.
 */
function streamFromWorker(dir: string, workerUrl: URL, onEntry: (key: Uint8Array, value: Uint8Array) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl, { workerData: { dir } satisfies LoadWorkerData });
    let done = false;
    let failure: unknown;
    worker.on('message', (message: LoadWorkerMessage) => {
      if (failure !== undefined) return;
      if (message.kind === 'done') done = true;
      else if (message.kind === 'error') failure = new StoreError(`${dir}: ${message.message}`);
      else {
        try {
          const { bytes, length } = message;
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          for (let at = 0; at < length; ) {
            const keyLength = view.getUint32(at);
            const key = bytes.subarray(at + 4, at + 4 + keyLength);
            at += 4 + keyLength;
            const valueLength = view.getUint32(at);
            onEntry(key, bytes.subarray(at + 4, at + 4 + valueLength));
            at += 4 + valueLength;
          }
        } catch (err) {
          failure = err;
        }
      }
    });
    worker.on('error', (err) => (failure ??= err));
    worker.on('exit', () => (done && failure === undefined ? resolve() : reject(failure ?? new StoreError(`${dir}: load worker stopped early`))));
  });
}

export interface LoadedStore extends OpenedStore {
  readonly store: Store;
}

export class StoreError extends Error {
  override readonly name = 'StoreError';
}

type Op = { readonly type: 'put'; readonly key: string; readonly value: Uint8Array } | { readonly type: 'del'; readonly key: string };

/** Changes already encoded (so encoding errors reach only their own caller); see Store.prepare. */
export interface PreparedBatch {
  readonly ops: readonly Op[];
  /** Holds configuration (sites, static mappings), not only registrations. */
  readonly configuration: boolean;
}

export const META_SCHEMA_KEY = 'meta/schema';

export function siteStoreKey(name: string): string {
  return `site/${name}`;
}

export function mappingStoreKey(eid: EidPrefix): string {
  return `map/${prefixKey(eid)}`;
}

export function registrationStoreKey(eid: EidPrefix, etrId: string): string {
  return `reg/${prefixKey(eid)}/${etrId}`;
}

export const REQUESTERS_STORE_KEY = 'requesters/snapshot';

/** Zero-padded so the keys sort by time. */
export function nonceStoreKey(at: number): string {
  return `nonce/${String(at).padStart(15, '0')}`;
}

/** The key a change writes or deletes. */
export function changeKey(change: StateChange): string {
  switch (change.kind) {
    case 'put-site':
      return siteStoreKey(change.site.name);
    case 'delete-site':
      return siteStoreKey(change.name);
    case 'put-mapping':
      return mappingStoreKey(change.mapping.eid);
    case 'delete-mapping':
      return mappingStoreKey(change.eid);
    case 'put-registration':
      return registrationStoreKey(change.registration.record.eid, change.registration.etrId);
    case 'delete-registration':
      return registrationStoreKey(change.eid, change.etrId);
    case 'put-nonces':
    case 'delete-nonces':
      return nonceStoreKey(change.at);
    case 'put-requesters':
      return REQUESTERS_STORE_KEY;
    case 'put-subscription':
    case 'delete-subscription':
      return subscriptionStoreKey(change.subscription);
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Changes to state the xTRs refresh all the time: written without fsync (see StoreOptions). */
const SOFT_STATE: ReadonlySet<StateChange['kind']> = new Set(['put-registration', 'delete-registration', 'put-nonces', 'delete-nonces', 'put-requesters']);

/** The LevelDB store: one protobuf value per key (proto/livmap.proto). */
export class Store implements StateStore<PreparedBatch> {
  private closed = false;

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    private readonly sync: boolean,
    private readonly syncRegistrations: boolean,
  ) {}

  /** Opens (creating if needed) the store in `dir`. Refuses a store written by a newer schema. */
  static async open(dir: string, options: StoreOptions = {}): Promise<Store> {
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    try {
      const raw: Uint8Array | undefined = await db.get(META_SCHEMA_KEY);
      if (raw === undefined) {
        await db.put(META_SCHEMA_KEY, encodeMeta(SCHEMA_VERSION), { sync: true });
      } else {
        const version = decodeMeta(raw);
        if (version > SCHEMA_VERSION) {
          throw new StoreError(`${dir}: store schema version ${version} is newer than this livmap understands (${SCHEMA_VERSION})`);
        }
      }
    } catch (err) {
      await db.close();
      throw err instanceof StoreError ? err : new StoreError(`${dir}: cannot read store metadata: ${reasonOf(err)}`);
    }
    return new Store(db, options.sync ?? true, options.syncRegistrations ?? false);
  }

  /**
   * Opens the store in `dir` and loads everything in it. An existing store is read on a worker
   * thread while this thread decodes (about a third faster with a million registrations); if
   * that fails for any reason, it is read here instead. `loadedBy` says which happened, and
   * `workerError` why the worker could not. `workerUrl` names the worker module (tests pass one
   * that fails, to exercise the fallback).
   */
  static async openAndLoad(dir: string, options: StoreOptions = {}, workerUrl: URL = loadWorkerUrl()): Promise<LoadedStore> {
    if (existsSync(join(dir, 'CURRENT'))) {
      const collector = new StateCollector();
      let workerError: string | undefined;
      try {
        await streamFromWorker(dir, workerUrl, (key, value) => collector.addRaw(key, value));
      } catch (err) {
        // Read on this thread instead (below), which reports real problems (a locked store...) itself.
        workerError = reasonOf(err);
      }
      const store = await Store.open(dir, options);
      if (workerError === undefined) return { store, state: collector.state(), loadedBy: 'worker' };
      return { store, state: await store.loadAll(), loadedBy: 'main', workerError };
    }
    const store = await Store.open(dir, options);
    return { store, state: await store.loadAll(), loadedBy: 'main' };
  }

  get location(): string {
    return this.db.location;
  }

  /** Schema version recorded in the store. */
  async schemaVersion(): Promise<number> {
    const raw: Uint8Array | undefined = await this.db.get(META_SCHEMA_KEY);
    return raw === undefined ? 0 : decodeMeta(raw);
  }

  /** Everything stored; entries that cannot be decoded are reported in `corrupt` and skipped. */
  async loadAll(): Promise<StoredState> {
    const collector = new StateCollector();
    await forEachEntry(this.db, (key, value) => collector.add(key, value));
    return collector.state();
  }

  /** Encodes changes into a batch; throws (StoreCodecError) for a value that cannot be stored. */
  prepare(changes: readonly StateChange[]): PreparedBatch {
    const ops: Op[] = [];
    let configuration = false;
    for (const change of changes) {
      const key = changeKey(change);
      // Registrations and the replay window are soft state, refreshed all the time.
      if (!SOFT_STATE.has(change.kind)) configuration = true;
      switch (change.kind) {
        case 'put-site':
          ops.push({ type: 'put', key, value: encodeSite(change.site) });
          break;
        case 'put-mapping':
          ops.push({ type: 'put', key, value: encodeMapping(change.mapping) });
          break;
        case 'put-registration':
          ops.push({ type: 'put', key, value: encodeRegistration(change.registration) });
          break;
        case 'put-nonces':
          ops.push({ type: 'put', key, value: encodeNonces(change.nonces) });
          break;
        case 'put-requesters':
          ops.push({ type: 'put', key, value: change.encoded });
          break;
        case 'put-subscription':
          ops.push({ type: 'put', key, value: encodeSubscription(change.subscription) });
          break;
        default:
          ops.push({ type: 'del', key });
      }
    }
    return { ops, configuration };
  }

  /** Writes prepared batches, in order, as ONE atomic LevelDB batch. */
  async commit(batches: readonly PreparedBatch[]): Promise<void> {
    if (this.closed) throw new StoreError('store is closed');
    const ops = batches.flatMap((b) => b.ops);
    if (ops.length === 0) return;
    const sync = batches.some((b) => b.configuration) ? this.sync : this.sync && this.syncRegistrations;
    await this.db.batch(ops, { sync });
  }

  /** Persists all `changes` atomically: after it resolves they survive a crash; on failure none applied. */
  async apply(changes: readonly StateChange[]): Promise<void> {
    await this.commit([this.prepare(changes)]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}

// Persistent state in LevelDB: sites, static mappings and registrations, one protobuf value per
// key. Knows nothing of UDP or HTTP: callers hand it changes, it writes them atomically.
//
// Keys:  meta/schema                        StoreMeta
//        site/<name>                        Site
//        map/<prefixKey>                    MappingRecord
//        reg/<prefixKey>/<etrId>            Registration
import { Level } from 'level';
import type { EidPrefix, MappingRecord } from '../codec/types.js';
import type { Registration, Site, StateChange } from '../db/model.js';
import { prefixKey } from '../db/prefix.js';
import { Interner } from './registration-reader.js';
import {
  decodeMapping,
  decodeMeta,
  decodeRegistration,
  decodeSite,
  encodeMapping,
  encodeMeta,
  encodeRegistration,
  encodeSite,
} from './codec.js';

/** Bump only when older code would misread what newer code writes. */
export const SCHEMA_VERSION = 1;

/** One change to persist: the database's own change type, passed as-is. */
export type StoreChange = StateChange;

/** A stored value that could not be decoded (or does not belong under its key); skipped by loadAll. */
export interface CorruptEntry {
  readonly key: string;
  readonly reason: string;
}

export interface StoredState {
  readonly sites: Site[];
  readonly mappings: MappingRecord[];
  readonly registrations: Registration[];
  readonly corrupt: CorruptEntry[];
}

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

/** The key a change writes or deletes. */
export function changeKey(change: StoreChange): string {
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
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Store {
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

  get location(): string {
    return this.db.location;
  }

  /** Schema version recorded in the store. */
  async schemaVersion(): Promise<number> {
    const raw: Uint8Array | undefined = await this.db.get(META_SCHEMA_KEY);
    return raw === undefined ? 0 : decodeMeta(raw);
  }

  /** Everything stored. Values that do not decode are listed in `corrupt` and skipped. */
  async loadAll(): Promise<StoredState> {
    const sites: Site[] = [];
    const mappings: MappingRecord[] = [];
    const registrations: Registration[] = [];
    const corrupt: CorruptEntry[] = [];
    // Entries come in batches per native call: a million one-at-a-time awaits cost seconds at start.
    const iterator = this.db.iterator();
    const interner = new Interner();
    try {
      // The next batch is read (on libuv's thread pool) while this one is decoded.
      let next = iterator.nextv(4096);
      for (let batch = await next; batch.length > 0; batch = await next) {
        next = iterator.nextv(4096);
        for (const [key, value] of batch) {
          try {
            if (key.startsWith('reg/')) {
              const registration = decodeRegistration(value, interner);
              // A cheap check (there may be a million): re-deriving the whole key doubled cold start.
              if (!key.endsWith(`/${registration.etrId}`)) throw new Error(`holds a registration by ${registration.etrId}`);
              registrations.push(registration);
            } else if (key.startsWith('site/')) {
              const site = decodeSite(value);
              if (siteStoreKey(site.name) !== key) throw new Error(`holds site '${site.name}'`);
              sites.push(site);
            } else if (key.startsWith('map/')) {
              const mapping = decodeMapping(value);
              if (mappingStoreKey(mapping.eid) !== key) throw new Error(`holds the mapping of ${prefixKey(mapping.eid)}`);
              mappings.push(mapping);
            } else if (!key.startsWith('meta/')) {
              throw new Error('unknown key kind');
            }
          } catch (err) {
            corrupt.push({ key, reason: reasonOf(err) });
          }
        }
      }
    } finally {
      await iterator.close();
    }
    return { sites, mappings, registrations, corrupt };
  }

  /** Encodes changes into a batch; throws (StoreCodecError) for a value that cannot be stored. */
  prepare(changes: readonly StoreChange[]): PreparedBatch {
    const ops: Op[] = [];
    let configuration = false;
    for (const change of changes) {
      const key = changeKey(change);
      if (change.kind !== 'put-registration' && change.kind !== 'delete-registration') configuration = true;
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
  async apply(changes: readonly StoreChange[]): Promise<void> {
    await this.commit([this.prepare(changes)]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}

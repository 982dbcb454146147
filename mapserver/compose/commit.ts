// The commit path: how a batch of changes reaches the database, the store and the workers, and
// what it moved. The order is the contract: the database first (answers change at once), then
// the store (a Map-Notify promises its registration is stored: it waits for `durable`); a
// refresh that changes nothing but the lifetime is not written (most Map-Registers).
import type { EidPrefix, MappingRecord } from '../codec/types.js';
import { sameAddress } from '../codec/address.js';
import { prefixKey } from '../codec/prefix.js';
import { bindingMoved, type BindingChange } from '../control/mobility.js';
import { applySubscriptionChange, type SubscriptionTable } from '../control/subscriptions.js';
import type { MappingDatabase } from '../db/database.js';
import type { DatabaseChange, LifetimeRefresh, Registration, StateChange } from '../db/model.js';
import type { StoreWriter } from '../store/writer.js';

/** Workers hook: posts changes to every worker copy; resolves once each applied them (undefined without workers). */
export type Replicate = (changes: readonly DatabaseChange[], awaitAcks: boolean) => Promise<void> | undefined;

/** What a commit did: when its changes are durable (undefined: nothing to wait for), and what moved. */
export interface Commit {
  readonly durable: Promise<void> | undefined;
  readonly moved: readonly BindingChange[];
  /** With workers: resolves once every worker answers from the new state (a move's SMRs wait for it). */
  readonly replicated: Promise<void> | undefined;
}

/** Nothing to compare after applying (a batch of quiet refreshes). */
const NO_BEFORE: ReadonlyArray<{ readonly eid: EidPrefix; readonly binding: ReturnType<MappingDatabase['bindingAt']> }> = [];

/** Stored registrations are rewritten at the latest when their stored expiry is this close. */
const REFRESH_WRITE_MARGIN_MS = 120_000;

export class CommitPath {
  /** The latest write not yet durable (writes complete in order: it is durable last). */
  private inFlight: Promise<void> | undefined;
  /** Writes in flight by registration (prefix key + ETR): a quiet refresh of one waits for it. */
  private readonly writing = new Map<string, Promise<void>>();
  /**
   * The expiry the store holds for a registration that came from a quiet refresh (not written);
   * every other registration is stored with its own expiresAt. Only the exceptions are kept: a
   * WeakMap entry per registration made GC at start-up with a million of them markedly slower.
   */
  private readonly storedExpiry = new WeakMap<Registration, number>();

  constructor(
    private readonly db: MappingDatabase,
    private readonly subscriptions: SubscriptionTable,
    private readonly writer: StoreWriter,
    private readonly replicate: Replicate,
  ) {}

  /** Applies `changes` to the database and the subscriptions now, and writes them in order. */
  commit(changes: readonly StateChange[], now: number): Commit {
    // A quiet refresh keeps a live registration exactly as it was, so it cannot move a binding
    // and is not written; its Map-Notify waits only for a write of that same registration still
    // in flight (the Map-Notify promises it is stored), not for unrelated writes.
    // (A put that follows a delete of the same registration in the batch is a rewrite: the
    // delete is stored, so the put must be too, e.g. an operator's move hint replaced by the same.)
    let quiet: StateChange[] | undefined;
    const toStore: StateChange[] = [];
    const deleted = changes.some((change) => change.kind === 'delete-registration') ? new Set(changes.map(deleteKey)) : undefined;
    // What the database and the workers apply: a quiet refresh as a LifetimeRefresh.
    let applied: readonly DatabaseChange[] = changes;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const refresh = deleted?.has(writeKey(change)) ? undefined : this.quietRefresh(change, now);
      if (!refresh) {
        toStore.push(change);
        continue;
      }
      (quiet ??= []).push(change);
      if (applied === changes) applied = [...changes];
      (applied as DatabaseChange[])[i] = refresh;
    }
    const waitFor = quiet ? this.pendingWriteOf(quiet) : undefined;
    const before = toStore.length ? registrationEids(toStore).map((eid) => ({ eid, binding: this.db.bindingAt(eid, now) })) : NO_BEFORE;
    this.db.apply(applied);
    for (const change of toStore) applySubscriptionChange(this.subscriptions, change);
    const moved: BindingChange[] = [];
    for (const { eid, binding } of before) {
      const after = this.db.bindingAt(eid, now);
      if (bindingMoved(binding, after)) moved.push({ eid, before: binding, after });
    }
    const replicated = this.replicate(applied, toStore.length > 0 || moved.length > 0);
    if (toStore.length === 0 && moved.length === 0) return { durable: waitFor, moved, replicated: undefined };
    const written = toStore.length ? this.writer.write(toStore) : Promise.resolve();
    const done = replicated ? Promise.all([written, replicated, waitFor]).then(() => undefined) : waitFor ? Promise.all([written, waitFor]).then(() => undefined) : written;
    this.inFlight = done;
    const settle = (): void => {
      if (this.inFlight === done) this.inFlight = undefined;
    };
    done.then(settle, settle);
    this.track(toStore, done);
    return { durable: done, moved, replicated };
  }

  /** Resolves once every write so far is durable. */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
  }

  /**
   * Remembers, by registration, the commit that writes it until that commit is done (stored,
   * and with workers replicated: the refresh's Map-Notify must not overtake the first one's).
   */
  private track(changes: readonly StateChange[], done: Promise<void>): void {
    const keys: string[] = [];
    for (const change of changes) {
      const key = writeKey(change);
      if (key === undefined) continue;
      keys.push(key);
      this.writing.set(key, done);
    }
    if (keys.length === 0) return;
    const forget = (): void => {
      for (const key of keys) if (this.writing.get(key) === done) this.writing.delete(key);
    };
    done.then(forget, forget);
  }

  /** The writes still in flight of the registrations `changes` refresh. */
  private pendingWriteOf(changes: readonly StateChange[]): Promise<void> | undefined {
    if (this.writing.size === 0) return undefined;
    const pending: Promise<void>[] = [];
    for (const change of changes) {
      const write = this.writing.get(writeKey(change)!);
      if (write) pending.push(write);
    }
    if (pending.length === 0) return undefined;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  /**
   * A refresh that changes nothing but the lifetime need not be written every minute: the stored
   * copy is rewritten only once its stored expiry is less than REFRESH_WRITE_MARGIN_MS ahead, so
   * after a crash every registration still comes back alive. Marks the new registration with
   * the stored expiry it inherits.
   */
  private quietRefresh(change: StateChange, now: number): LifetimeRefresh | undefined {
    if (change.kind !== 'put-registration') return undefined;
    const next = change.registration;
    const previous = this.db.registered(next.record.eid)?.byEtr.get(next.etrId);
    if (!previous) return undefined;
    const remembered = this.storedExpiry.get(previous);
    const stored = remembered ?? previous.expiresAt;
    const quiet =
      stored - now >= REFRESH_WRITE_MARGIN_MS &&
      previous.claimedAt === next.claimedAt && previous.left === next.left && previous.proxyReply === next.proxyReply &&
      previous.merge === next.merge && sameAuth(previous, next) && sameRecord(previous.record, next.record) &&
      sameId(previous.xtrId, next.xtrId) && sameId(previous.siteId, next.siteId);
    if (!quiet) return undefined;
    // Its expiresAt changes in place from now on: remember what the store holds, once.
    if (remembered === undefined) this.storedExpiry.set(previous, stored);
    return { kind: 'refresh-registration', eid: previous.record.eid, etrId: previous.etrId, source: next.source, lastRefreshed: next.lastRefreshed, expiresAt: next.expiresAt, burst: next.burst };
  }
}

/** Whether two optional xTR-IDs / site-IDs are the same bytes (or both absent). */
function sameId(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The key of the registration a change deletes, if it deletes one. */
function deleteKey(change: StateChange): string | undefined {
  return change.kind === 'delete-registration' ? writeKey(change) : undefined;
}

/** The key a registration's write is tracked by. */
function writeKey(change: StateChange): string | undefined {
  if (change.kind === 'put-registration') return `${prefixKey(change.registration.record.eid)}|${change.registration.etrId}`;
  if (change.kind === 'delete-registration') return `${prefixKey(change.eid)}|${change.etrId}`;
  return undefined;
}

/** Whether an ETR signs as before (a changed key must be stored: Map-Notifies to it use it). */
function sameAuth(a: Registration, b: Registration): boolean {
  return a.auth?.keyId === b.auth?.keyId && a.auth?.algId === b.auth?.algId && a.auth?.length === b.auth?.length && a.auth?.keyIndex === b.auth?.keyIndex;
}

function sameRecord(a: MappingRecord, b: MappingRecord): boolean {
  if (a.ttl !== b.ttl || a.action !== b.action || a.authoritative !== b.authoritative || a.mapVersion !== b.mapVersion) return false;
  if (a.eid.iid !== b.eid.iid || a.eid.length !== b.eid.length || !sameAddress(a.eid.address, b.eid.address)) return false;
  if (a.locators.length !== b.locators.length) return false;
  return a.locators.every((l, i) => {
    const m = b.locators[i]!;
    return l.priority === m.priority && l.weight === m.weight && l.mPriority === m.mPriority && l.mWeight === m.mWeight &&
      l.local === m.local && l.probed === m.probed && l.reachable === m.reachable && sameAddress(l.rloc, m.rloc);
  });
}

/** The EID prefixes whose registrations `changes` touch, each once (usually there is one). */
function registrationEids(changes: readonly StateChange[]): EidPrefix[] {
  const eidOf = (change: StateChange): EidPrefix | undefined =>
    change.kind === 'put-registration' ? change.registration.record.eid : change.kind === 'delete-registration' ? change.eid : undefined;
  if (changes.length === 1) {
    const eid = eidOf(changes[0]!);
    return eid ? [eid] : [];
  }
  const byKey = new Map<string, EidPrefix>();
  for (const change of changes) {
    const eid = eidOf(change);
    if (eid) byKey.set(prefixKey(eid), eid);
  }
  return [...byKey.values()];
}

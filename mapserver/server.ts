// The LISP control-plane server: socket -> decode -> handler -> database (+ store) -> encode -> socket.
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { LispCodecError, decode, encode, signMessage, verifyMessage } from './codec/index.js';
import type { Address, EidPrefix, EncapsulatedControl, LispMessage, MapNotify, MapRequest, MappingRecord } from './codec/types.js';
import type { ServerConfig } from './config/load.js';
import { DEFAULT_RECEIVE_BUFFER_BYTES } from './transport/udp.js';
import { expireRegistrations } from './control/map-server.js';
import { Registrar } from './authority/registrar.js';
import { siteHolding } from './authority/sites.js';
import { handleMapRequest, replyAddress, type ResolverOptions } from './control/map-resolver.js';
import { MobilityNotifier, bindingMoved, type BindingChange } from './control/mobility.js';
import { RateLimiter } from './control/rate-limit.js';
import { RequesterTable } from './control/requesters.js';
import { SourceAddresses } from './control/source-address.js';
import { SubscriptionTable, applySubscriptionChange, handleSubscribe, type SubscribeResult } from './control/subscriptions.js';
import { Retransmitter, realTimers, type Timers } from './control/retransmit.js';
import { dropped, type HandlerResult, type Outbound, type ServerEvent } from './control/types.js';
import { MappingDatabase } from './db/database.js';
import type { Endpoint, Registration, StateChange } from './db/model.js';
import { formatEidPrefix, prefixKey } from './codec/prefix.js';
import { formatAddress } from './codec/text.js';
import { sameAddress } from './codec/address.js';
import { ServerMetrics } from './metrics.js';
import type { StateStore, StoreOpener, StoredState } from './store/state-store.js';
import { Store } from './store/store.js';
import { StoreWriter } from './store/writer.js';
import { UdpTransport } from './transport/udp.js';
import { OwnSockets } from './transport/own-sockets.js';
import { WorkerPool, workerCount } from './workers/pool.js';

export interface ServerOptions {
  readonly logger?: Logger;
  readonly timers?: Timers;
  /** Wall clock in epoch milliseconds; tests may pin it. */
  readonly now?: () => number;
  /** How often expired registrations are swept, ms. */
  readonly sweepIntervalMs?: number;
  /**
   * A last check on every destination before a datagram leaves (tests and labs pass one that
   * allows only their own addresses, so hostile input can never aim the server elsewhere).
   */
  readonly sendFilter?: (to: Endpoint) => boolean;
  /** Opens the persistent state of `config.dataDir`; LevelDB by default (store/state-store.ts). */
  readonly openStore?: StoreOpener;
  /** Mobility (SMRs and Map-Notifies on binding changes); on by default. */
  readonly mobility?: { readonly enabled: boolean; readonly requesterCapacity?: number };
}

export interface ServerEvents {
  event: [ServerEvent];
}

export class LispServer {
  readonly events = new EventEmitter<ServerEvents>();
  readonly metrics: ServerMetrics;
  private transport: UdpTransport | undefined;
  /** Nothing the server sends to its own sockets can be useful (transport/own-sockets.ts). */
  private ownSockets: OwnSockets | undefined;
  /** Worker threads answering Map-Requests (lisp.workers > 1; mapserver/workers/pool.ts). */
  private pool: WorkerPool | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly notifies: Retransmitter<string>;
  /** The secret each pending Map-Notify was signed with; null for an unsigned one (a lispers.net subscriber's). */
  private readonly pendingNotifySecrets = new Map<string, string | null>();
  /** RFC 9437 subscriptions: their own table, never evicted by requesters, persisted. */
  readonly subscriptions = new SubscriptionTable();
  private readonly clock: () => number;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly writer: StoreWriter;
  readonly requesters: RequesterTable;
  private readonly mobility: MobilityNotifier;
  private readonly mobilityEnabled: boolean;
  private readonly replyLimiter: RateLimiter;
  /** The registration authority: who holds each EID, from each ETR's register bursts. */
  private readonly registrar: Registrar;
  /** The requester table's version when it was last saved, and when (see sweep). */
  private requestersSaved = 0;
  private requestersSavedAt = 0;
  /**
   * The expiry the store holds for a registration that came from a quiet refresh (not written);
   * every other registration is stored with its own expiresAt. Only the exceptions are kept: a
   * WeakMap entry per registration made GC at start-up with a million of them markedly slower.
   */
  private readonly storedExpiry = new WeakMap<Registration, number>();

  private constructor(
    readonly config: ServerConfig,
    readonly db: MappingDatabase,
    readonly store: StateStore,
    private readonly options: ServerOptions,
  ) {
    this.clock = options.now ?? Date.now;
    this.wildcard = config.lisp.listen.some((l) => l.host === '0.0.0.0' || l.host === '::');
    this.timers = options.timers ?? realTimers;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.metrics = new ServerMetrics(() => db.liveRegistrations);
    this.notifies = new Retransmitter(this.timers);
    this.writer = new StoreWriter(store);
    // ServerOptions.mobility (tests, simulations) overrides the config file's.
    const mobility = options.mobility ?? config.mobility;
    this.mobilityEnabled = mobility.enabled;
    this.replyLimiter = new RateLimiter(config.lisp.rateLimit);
    this.registrar = new Registrar(db, { registrationTtlMs: config.lisp.registrationTtlSeconds * 1000 }, this.timers, this.clock, (result) => this.process(result));
    this.requesters = new RequesterTable(mobility.requesterCapacity, (itr) => db.isRegisteredXtr(itr));
    this.mobility = new MobilityNotifier(db, this.requesters, this.subscriptions, {
      sendSmr: (to, bytes) => {
        this.metrics.countSmrSent();
        this.send({ kind: 'raw', to, bytes });
      },
      sendNotify: (to, notify, secret) => {
        if (secret === undefined) this.send({ kind: 'message', to, message: notify });
        else this.sendNotify(to, notify, secret);
      },
      notifySubscriber: (next, notify, secret) => {
        // The nonce just used is stored (a restart goes on from it); the notify need not wait.
        this.process({ outbound: [], changes: [{ kind: 'put-subscription', subscription: next }], events: [] });
        this.sendNotify({ address: next.itr, port: next.port }, notify, secret);
      },
      advertise: (itr) => this.advertised(itr),
    }, this.timers);
  }

  /**
   * The ITR-RLOC of SMRs to `itr`: the first specific listen address of its family; on a
   * wildcard listener, the local address the kernel uses toward that ITR (control/source-address.ts),
   * never 0.0.0.0 / ::, which the ITR's SMR-invoked Map-Request could not be sent to.
   */
  private advertised(itr: string): Address {
    const v6 = itr.includes(':');
    const specific = this.config.lisp.listen.find((l) => l.family === (v6 ? 6 : 4) && l.host !== '0.0.0.0' && l.host !== '::');
    const ip = specific?.host ?? this.sourceAddresses.toward(itr);
    return v6 ? { afi: 'ipv6', ip } : { afi: 'ipv4', ip };
  }

  private readonly sourceAddresses = new SourceAddresses();
  /** Whether a listener is a wildcard (then SMRs need the source address toward each ITR). */
  private readonly wildcard: boolean;

  /** Opens the store, loads state, applies the config's sites and mappings, binds the sockets. */
  static async start(config: ServerConfig, options: ServerOptions = {}): Promise<LispServer> {
    await mkdir(config.dataDir, { recursive: true });
    const loaded = await (options.openStore ?? openLevelStore)(config.dataDir);
    const { store } = loaded;
    let transport: UdpTransport | undefined;
    try {
      const db = new MappingDatabase(config.lisp);
      const server = new LispServer(config, db, store, options);
      const workers = workerCount(config, options);
      if (loaded.workerError) server.log.warn({ reason: loaded.workerError }, 'store read on the main thread: the load worker failed');
      await server.load(loaded.state, loaded.loadedBy);
      server.transport = transport = await UdpTransport.open(config.lisp.listen, (bytes, from) => server.onDatagram(bytes, from), (err, to) => {
        // Spoofed ITR-RLOCs can make sends fail by the thousand: count them, log only at debug.
        server.metrics.countDropped('send-error');
        server.log.debug({ to, err: err.message }, 'send failed');
      }, config.lisp.receiveBufferBytes, workers > 1);
      server.ownSockets = new OwnSockets(transport.addresses());
      if (workers > 1) await server.startWorkers(workers - 1, transport);
      for (const { endpoint, asked, granted } of transport.receiveBuffers()) {
        if (granted < asked) {
          server.log.warn({ listen: endpoint, asked, granted },
            `UDP receive buffer capped by the kernel; bursts beyond it are dropped (raise it: sysctl -w net.core.rmem_max=${asked})`);
        }
      }
      const bound = transport;
      server.metrics.watchReceiveBufferDrops(() => bound.receiveBufferDrops());
      const sweepMs = options.sweepIntervalMs ?? 1000;
      server.sweeper = setInterval(() => server.sweep(), sweepMs);
      server.sweeper.unref();
      server.log.info({ listen: server.transport.addresses(), dataDir: config.dataDir, workers }, 'LISP control plane listening');
      return server;
    } catch (err) {
      await transport?.close();
      await store.close();
      throw err;
    }
  }

  private async load(state: StoredState, loadedBy: 'worker' | 'main'): Promise<void> {
    for (const bad of state.corrupt) this.log.error({ key: bad.key, reason: bad.reason }, 'skipped a corrupt store entry');
    const now = this.now();
    this.db.apply(state.sites.map((site): StateChange => ({ kind: 'put-site', site })));
    this.db.apply(state.mappings.map((mapping): StateChange => ({ kind: 'put-mapping', mapping })));
    const expired: StateChange[] = [];
    for (const registration of state.registrations) {
      // Registrations come back with their remaining lifetime, so we answer before ETRs refresh.
      if (registration.expiresAt > now) {
        this.db.apply([{ kind: 'put-registration', registration }]);
      } else {
        expired.push({ kind: 'delete-registration', eid: registration.record.eid, etrId: registration.etrId });
      }
    }
    // The config file is authoritative for the sites and mappings it names.
    const seeded: StateChange[] = [
      ...this.config.sites.map((site): StateChange => ({ kind: 'put-site', site })),
      ...this.config.mappings.map((mapping): StateChange => ({ kind: 'put-mapping', mapping })),
    ];
    this.db.apply(seeded);
    const staleNonces = this.registrar.load(state.nonces, now);
    // The ITRs answered before the restart still cache those answers: they must get the SMRs.
    this.requesters.restore(state.requesters, now);
    for (const subscription of state.subscriptions) {
      if (subscription.expiresAt > now) this.subscriptions.put(subscription);
      else expired.push({ kind: 'delete-subscription', subscription });
    }
    this.requestersSaved = this.requesters.version;
    await this.store.apply([...seeded, ...expired, ...staleNonces]);
    this.log.info(
      { sites: this.db.sites.size, registrations: this.db.liveRegistrations, expiredOnLoad: expired.length, readOn: loadedBy === 'worker' ? 'worker thread' : 'main thread' },
      'mapping database loaded',
    );
  }

  get registrationTtlSeconds(): number {
    return this.config.lisp.registrationTtlSeconds;
  }

  /** Epoch milliseconds as the server sees them. */
  now(): number {
    return this.clock();
  }

  /** Addresses the UDP sockets are bound to. */
  addresses(): Endpoint[] {
    return this.transport?.addresses() ?? [];
  }

  /** Applies changes made outside the LISP socket (the REST API), durably. */
  async applyChanges(changes: readonly StateChange[]): Promise<MovedEvent[]> {
    const { durable, moves } = this.commit(changes);
    await durable;
    return moves;
  }

  /**
   * Drops the live registrations of exactly `eid` that `match` selects (the operator's `clear`,
   * as IOS-XE's `clear lisp site`): a `withdrawn` event each, then the commit path an expiry
   * takes (store, and SMRs/Map-Notifies if the binding moved). Resolves with how many were
   * dropped, once that is durable. An xTR that still lists the prefix registers it again.
   */
  async clearRegistrations(eid: EidPrefix, match: (registration: Registration) => boolean = () => true): Promise<number> {
    const cleared = [...(this.db.registered(eid)?.byEtr.values() ?? [])].filter(match);
    if (cleared.length === 0) return 0;
    for (const reg of cleared) this.emit({ type: 'withdrawn', site: reg.site, eid: reg.record.eid, etrId: reg.etrId });
    await this.commit(cleared.map((reg): StateChange => ({ kind: 'delete-registration', eid: reg.record.eid, etrId: reg.etrId }))).durable;
    return cleared.length;
  }

  /**
   * Applies changes to the database and the store, and hands every binding they changed to the
   * mobility notifier at once. Resolves when the changes are durable.
   */
  private commit(changes: readonly StateChange[]): Commit {
    const now = this.now();
    const toStore = changes.filter((change) => !this.quietRefresh(change, now));
    // A quiet refresh keeps a live registration exactly as it was, so it cannot move a binding:
    // only the other changes' EIDs are checked (most Map-Registers are quiet refreshes).
    const before = registrationEids(toStore).map((eid) => ({ eid, binding: this.db.bindingAt(eid, now) }));
    this.db.apply(changes);
    for (const change of toStore) applySubscriptionChange(this.subscriptions, change);
    const moved: BindingChange[] = [];
    for (const { eid, binding } of before) {
      const after = this.db.bindingAt(eid, now);
      if (bindingMoved(binding, after)) moved.push({ eid, before: binding, after });
    }
    // Workers hook: every worker's copy gets the changes; a write or a move waits for their acks.
    const replicated = this.pool?.publish(changes, toStore.length > 0 || moved.length > 0);
    // Nothing to write and nothing moved (a quiet refresh, most Map-Registers): done now, unless
    // an earlier commit is still in flight: it may hold the very registration this refreshes,
    // and a Map-Notify promises that registration is stored. Waiting on that commit also keeps
    // the answers in order.
    if (toStore.length === 0 && moved.length === 0) return { durable: this.inFlight, moves: NO_MOVES };
    // SMRs go out first, then the change is written: they promise nothing about storage (an ITR
    // asks again and gets what is answered then; should the write fail, the ETRs, unanswered,
    // register again), and encoding and writing cost a move 0.6–2 ms. Map-Notifies that
    // acknowledge a registration still wait for the write (see process).
    let moves = NO_MOVES;
    if (moved.length) {
      if (!replicated) moves = Promise.resolve(this.announceMoves(moved));
      // With workers, the SMRs go out once every worker answers with the new binding (pool.ts).
      else {
        moves = replicated.then(() => this.announceMoves(moved));
        moves.catch((err: unknown) => this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'move announcement failed'));
      }
    }
    const written = toStore.length ? this.persist(toStore) : Promise.resolve();
    const done = replicated ? Promise.all([written, replicated]).then(() => undefined) : written;
    this.inFlight = done;
    const settle = (): void => {
      if (this.inFlight === done) this.inFlight = undefined;
    };
    done.then(settle, settle);
    return { durable: done, moves };
  }

  /** The latest commit not yet durable (commits are written in order: it is durable last). */
  private inFlight: Promise<void> | undefined;

  /** Resolves once every change handled so far is durable and its answers are sent. */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
  }

  /**
   * A refresh that changes nothing but the lifetime need not be written every minute: the stored
   * copy is rewritten only once its stored expiry is less than REFRESH_WRITE_MARGIN_MS ahead, so
   * after a crash every registration still comes back alive. Refreshes are most Map-Registers.
   */
  private quietRefresh(change: StateChange, now: number): boolean {
    if (change.kind !== 'put-registration') return false;
    const next = change.registration;
    const previous = this.db.registered(next.record.eid)?.byEtr.get(next.etrId);
    if (!previous) return false;
    const stored = this.storedExpiry.get(previous) ?? previous.expiresAt;
    const quiet =
      stored - now >= REFRESH_WRITE_MARGIN_MS &&
      previous.claimedAt === next.claimedAt && previous.left === next.left && previous.proxyReply === next.proxyReply &&
      previous.merge === next.merge && sameAuth(previous, next) && sameRecord(previous.record, next.record);
    if (quiet) this.storedExpiry.set(next, stored);
    return quiet;
  }

  /** Sends what each moved binding calls for (mobility) and reports the moves as events. */
  private announceMoves(moved: readonly BindingChange[]): MovedEvent[] {
    const now = this.now();
    const announced: MovedEvent[] = [];
    for (const change of moved) {
      const rlocs = (b: BindingChange['before']): string[] => b?.record.locators.map((l) => formatAddress(l.rloc)) ?? [];
      // A first registration is not a move: nobody can hold an older binding of it.
      // (A subscriber of a prefix nobody had registered yet is told of its first registration.)
      if (!change.before && this.requesters.overlapping(change.eid, now).length === 0 && this.subscriptions.overlapping(change.eid, now).length === 0) continue;
      this.metrics.moves.inc();
      const report = this.mobilityEnabled ? this.mobility.onChange(change, now) : { smrs: 0, notifies: 0, fanoutMs: 0 };
      if (this.mobilityEnabled) this.metrics.moveFanoutSeconds.observe(report.fanoutMs / 1000);
      const site = siteHolding(this.db, change.after, now);
      const event: MovedEvent = { type: 'moved', eid: change.eid, from: rlocs(change.before), to: rlocs(change.after), smrs: report.smrs, notifies: report.notifies, fanoutMs: report.fanoutMs, ...(site ? { site } : {}) };
      this.emit(event);
      announced.push(event);
    }
    return announced;
  }

  private persist(changes: readonly StateChange[]): Promise<void> {
    // Group commit: one fsync'd batch per event-loop turn, in the order the database applied them.
    return this.writer.write(changes);
  }

  private onDatagram(bytes: Buffer, from: Endpoint): void {
    this.metrics.countDatagram();
    try {
      let message: LispMessage;
      try {
        message = decode(bytes);
      } catch (err) {
        if (!(err instanceof LispCodecError)) throw err;
        this.metrics.countDropped('malformed');
        this.log.debug({ from, offset: err.offset, reason: err.reason }, 'malformed datagram dropped');
        return;
      }
      this.metrics.countReceived(message.type);
      this.process(this.handle(message, bytes, from));
    } catch (err) {
      // A bug must cost one datagram, never the server.
      this.metrics.countDropped('internal');
      this.log.error({ from, err: err instanceof Error ? err.stack : String(err) }, 'internal error handling a datagram');
    }
  }

  private handle(message: LispMessage, bytes: Uint8Array, from: Endpoint): HandlerResult {
    const now = this.now();
    switch (message.type) {
      case 'ecm': {
        const inner = message.message;
        // RFC 9301 §5.8: toward a Map-Server/Map-Resolver an ECM carries a Map-Request; any
        // other inner type is counted under its own drop reason.
        if (inner.type !== 'map-request') return dropped('ecm-inner-type', `ECM carrying a ${inner.type} (only Map-Requests are handled encapsulated)`, from);
        this.metrics.countReceived('map-request');
        if (inner.smrInvoked) this.smrInvoked(inner, from);
        if (!this.withinRate(inner, from, now)) return dropped('rate', 'Map-Request rate limit for this ITR-RLOC', from);
        if (inner.notifyRequested && inner.xtrId) return this.subscribe({ ...inner, xtrId: inner.xtrId }, from, message.inner.sourcePort, now);
        return this.resolveRequest(inner, { ecm: message, bytes }, from, now);
      }
      case 'map-request':
        if (message.smrInvoked) this.smrInvoked(message, from);
        if (!this.withinRate(message, from, now)) return dropped('rate', 'Map-Request rate limit for this ITR-RLOC', from);
        if (message.notifyRequested && message.xtrId) return this.subscribe({ ...message, xtrId: message.xtrId }, from, from.port, now);
        return this.resolveRequest(message, undefined, from, now);
      case 'map-register': {
        const result = this.registrar.register(message, bytes, from, now);
        for (const reason of result.refusedRecords ?? []) this.metrics.countRefusedRecord(reason);
        // Refused for its HMAC: the site is the one its first record's EID falls in (the key it was checked with).
        const first = message.records[0];
        if (result.drop?.reason === 'auth' && first) {
          const site = this.db.siteFor(first.eid)?.site.name;
          if (site !== undefined) this.metrics.countAuthFailure(site);
        }
        return result;
      }
      case 'map-notify-ack':
        return this.acknowledge(message, bytes, from);
      case 'map-reply':
      case 'map-notify':
        return dropped('unexpected', `${message.type} is not for a Map-Server`, from);
    }
  }

  /** Charges the address the answer would go to (the first usable ITR-RLOC, else the sender). */
  private withinRate(request: MapRequest, from: Endpoint, now: number): boolean {
    return this.replyLimiter.allow(replyAddress(request, this.families()) ?? from.address, now);
  }

  private smrInvoked(request: MapRequest, from: Endpoint): void {
    this.metrics.smrInvokedReceived.inc();
    this.mobility.onSmrInvoked(request, from);
  }

  /**
   * RFC 9437 subscribe / unsubscribe: the subscription is stored, then its Map-Notify is sent
   * (and retransmitted until acknowledged). Returns what is left for process() (a drop).
   */
  private subscribe(request: MapRequest & { readonly xtrId: Uint8Array }, from: Endpoint, replyPort: number, now: number): HandlerResult {
    const result: SubscribeResult = handleSubscribe(this.db, this.subscriptions, request, from, replyPort, this.families(), now);
    if (result.drop || result.changes.length === 0) return result;
    const durable = this.commit(result.changes).durable ?? Promise.resolve();
    durable.then(
      () => {
        for (const n of result.notifies) this.sendNotify(n.to, n.notify, n.secret);
      },
      (err: unknown) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'store write failed; subscription not acknowledged'),
    );
    return { outbound: [], changes: [], events: [] };
  }

  private resolveRequest(request: MapRequest, envelope: { readonly ecm: EncapsulatedControl; readonly bytes: Uint8Array } | undefined, from: Endpoint, now: number): HandlerResult {
    if (!this.metrics.sampleLookup()) return handleMapRequest(this.db, this.resolverOptions(), request, envelope, from, now);
    const start = process.hrtime.bigint();
    const result = handleMapRequest(this.db, this.resolverOptions(), request, envelope, from, now);
    this.metrics.lookupSeconds.observe(Number(process.hrtime.bigint() - start) / 1e9);
    return result;
  }

  private resolverCache: ResolverOptions | undefined;
  private resolverOptions(): ResolverOptions {
    this.resolverCache ??= { families: this.transport?.families ?? new Set() };
    return this.resolverCache;
  }

  private families(): ReadonlySet<'ipv4' | 'ipv6'> {
    return this.resolverOptions().families;
  }

  private process(result: HandlerResult): void {
    if (result.drop) {
      this.metrics.countDropped(result.drop.reason);
      this.log.debug({ reason: result.drop.reason, detail: result.drop.detail }, 'dropped');
    }
    for (const kind of result.replies ?? []) this.metrics.countReply(kind);
    if (result.answered) {
      for (const requester of result.answered) {
        this.requesters.record(requester);
        if (this.wildcard) this.sourceAddresses.learn(requester.itr);
      }
    }
    for (const event of result.events) this.emit(event);
    // A Map-Notify promises the registration is stored: send it only once it is durable (commit
    // returns nothing when there is nothing to wait for).
    const durable = result.changes.length ? this.commit(result.changes).durable : undefined;
    if (!durable) {
      this.sendAll(result.outbound);
      return;
    }
    durable.then(
      () => this.sendAll(result.outbound),
      (err: unknown) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'store write failed; reply withheld'),
    );
  }

  private sendAll(outbound: readonly Outbound[]): void {
    for (const out of outbound) this.send(out);
  }

  private emit(event: ServerEvent): void {
    this.events.emit('event', event);
    switch (event.type) {
      case 'refused':
        this.log.warn({ from: event.from, reason: event.reason }, event.detail);
        return;
      case 'moved':
        this.log.info({ eid: formatEidPrefix(event.eid), site: event.site, from: event.from, to: event.to, smrs: event.smrs, notifies: event.notifies, fanoutMs: event.fanoutMs }, 'binding moved');
        return;
      case 'contested':
        // Every refresh of a stale ETR (OOR retries every 3 s without a Map-Notify): the metric counts them.
        this.metrics.staleClaims.inc({ eid: formatEidPrefix(event.eid), claimant: event.claimant, holder: event.holders.join(',') });
        this.log.debug({ eid: formatEidPrefix(event.eid), claimant: event.claimant, holders: event.holders }, 'stale claim: another ETR claimed this prefix since; no Map-Notify');
        return;
      case 'left':
        this.metrics.leftRegistrations.inc();
        this.log.info({ site: event.site, eid: formatEidPrefix(event.eid), etr: event.etrId }, 'ETR stopped listing the prefix');
        return;
      case 'registered':
        // Refreshes arrive every minute from every ETR: worth a debug line, not an info line.
        if (event.refresh && !this.log.isLevelEnabled('debug')) return;
        this.log[event.refresh ? 'debug' : 'info']({ event: event.type, site: event.site, eid: formatEidPrefix(event.eid), etr: event.etrId }, 'registration');
        return;
      default:
        this.log.info({ event: event.type, site: event.site, eid: formatEidPrefix(event.eid), etr: event.etrId }, 'registration');
    }
  }

  private send(out: Outbound): void {
    if (!this.transport) return;
    if (this.ownSockets?.has(out.to) || (this.options.sendFilter && !this.options.sendFilter(out.to))) {
      this.metrics.countDropped('filtered');
      return;
    }
    let bytes: Uint8Array;
    if (out.kind === 'raw') bytes = out.bytes;
    else if (out.secret !== undefined && (out.message.type === 'map-notify' || out.message.type === 'map-register')) bytes = signMessage(out.message, out.secret);
    else bytes = encode(out.message);
    if (out.kind === 'message' && out.message.type === 'map-notify') this.metrics.notifiesSent.inc();
    this.transport.send(out.to, bytes);
  }

  /**
   * Sends a Map-Notify the server originates (not an answer to a Map-Register), retransmitting
   * every second, up to 3 times, until the ETR acknowledges it (RFC 9301 §5.7).
   */
  sendNotify(to: Endpoint, notify: MapNotify, secret: string | undefined, onGiveUp?: () => void): void {
    const key = notifyKey(to, notify.nonce);
    this.pendingNotifySecrets.set(key, secret ?? null);
    const out: Outbound = secret === undefined ? { kind: 'message', to, message: notify } : { kind: 'message', to, message: notify, secret };
    this.notifies.start(key, () => this.send(out), () => {
      this.pendingNotifySecrets.delete(key);
      onGiveUp?.();
    });
  }

  private acknowledge(ack: MapNotify, bytes: Uint8Array, from: Endpoint): HandlerResult {
    const key = notifyKey(from, ack.nonce);
    const secret = this.pendingNotifySecrets.get(key);
    if (secret === undefined) return dropped('unexpected', 'Map-Notify-Ack for no pending Map-Notify', from);
    // An unsigned Map-Notify (to a subscriber with no key) is acknowledged unsigned too.
    if (secret === null ? ack.auth.algId !== 0 : !verifyMessage(bytes, secret)) return dropped('auth', 'Map-Notify-Ack failed authentication', from);
    this.notifies.cancel(key);
    this.pendingNotifySecrets.delete(key);
    return { outbound: [], changes: [], events: [] };
  }

  /** Removes registrations whose lifetime ran out. */
  sweep(): void {
    try {
      const now = this.now();
      this.requesters.sweep(now);
      const result = expireRegistrations(this.db, now);
      if (result.changes.length) this.process(result);
      this.registrar.completeBursts(now);
      const nonces = this.registrar.flushNonces(now);
      if (nonces.length) this.process({ outbound: [], changes: nonces, events: [] });
      const ended = this.subscriptions.expired(now);
      if (ended.length) this.process({ outbound: [], changes: ended.map((subscription): StateChange => ({ kind: 'delete-subscription', subscription })), events: [] });
      if (this.requesters.version !== this.requestersSaved && now - this.requestersSavedAt >= REQUESTERS_SAVE_MS) {
        this.requestersSaved = this.requesters.version;
        this.requestersSavedAt = now;
        this.process({ outbound: [], changes: [{ kind: 'put-requesters', requesters: this.requesters.snapshot(now) }], events: [] });
      }
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'expiry sweep failed');
    }
  }

  // ── Workers hooks (mapserver/workers/pool.ts has the design and the consistency rules) ──

  /** Starts `threads` worker threads on the addresses `transport` bound (reusePort). */
  private async startWorkers(threads: number, transport: UdpTransport): Promise<void> {
    const pool = await WorkerPool.start(threads, {
      listen: transport.addresses().map((a) => ({ ...a, family: a.address.includes(':') ? 6 : 4 })),
      receiveBufferBytes: this.config.lisp.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES,
      database: { negativeTtlMinutes: this.config.lisp.negativeTtlMinutes, unregisteredSiteTtlMinutes: this.config.lisp.unregisteredSiteTtlMinutes },
      rateLimit: this.config.lisp.rateLimit,
      requesterCapacity: (this.options.mobility ?? this.config.mobility).requesterCapacity ?? 100_000,
    }, {
      datagram: (bytes, from) => this.onDatagram(bytes, from),
      smrInvoked: (bytes, from) => this.workerSmrInvoked(bytes, from),
      answered: (requesters) => {
        for (const requester of requesters) this.requesters.record(requester);
      },
      snapshot: () => [
        ...[...this.db.sites.values()].map((site): StateChange => ({ kind: 'put-site', site })),
        ...[...this.db.staticMappings()].map((mapping): StateChange => ({ kind: 'put-mapping', mapping })),
        ...[...this.db.registrations()].map((registration): StateChange => ({ kind: 'put-registration', registration })),
      ],
    }, this.log);
    this.pool = pool;
    this.metrics.addWorkers(async () => {
      const live = await pool.counts();
      return [
        ...live.flatMap(({ index, counts }) => (counts ? [{ worker: index, counts }] : [])),
        ...pool.retiredCounts(),
      ];
    });
  }

  /** An SMR-invoked Map-Request a worker answered: it stops the SMRs to that ITR here. */
  private workerSmrInvoked(bytes: Buffer, from: Endpoint): void {
    try {
      const message = decode(bytes);
      const request = message.type === 'ecm' ? message.message : message;
      if (request.type === 'map-request') this.smrInvoked(request, from);
    } catch (err) {
      this.log.debug({ from, err: err instanceof Error ? err.message : String(err) }, 'SMR-invoked request from a worker not decoded');
    }
  }

  /** Worker threads (besides this one) answering Map-Requests. */
  get workerThreads(): number {
    return this.pool?.size ?? 0;
  }

  /** Stops listening, waits for pending writes and closes the store. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.registrar.close();
    await this.inFlight?.catch(() => undefined);
    // Workers hook: their sockets close first; what they answered is reported before they exit.
    await this.pool?.close();
    this.pool = undefined;
    this.notifies.cancelAll();
    this.mobility.close();
    await this.transport?.close();
    this.transport = undefined;
    const nonces = this.registrar.flushNonces(this.now(), true);
    if (nonces.length) await this.writer.write(nonces);
    if (this.requesters.version !== this.requestersSaved) await this.writer.write([{ kind: 'put-requesters', requesters: this.requesters.snapshot(this.now()) }]);
    await this.writer.flush();
    await this.store.close();
  }
}

const openLevelStore: StoreOpener = (dataDir) => Store.openAndLoad(dataDir);

/** A binding change as the API and the event stream report it. */
export type MovedEvent = Extract<ServerEvent, { type: 'moved' }>;

/** What a commit promises: when its changes are durable (undefined: nothing to wait for), and the moves it announced. */
interface Commit {
  readonly durable: Promise<void> | undefined;
  readonly moves: Promise<MovedEvent[]>;
}

const NO_MOVES: Promise<MovedEvent[]> = Promise.resolve([]);

/** The requester table is saved at most this often (and at close): a crash loses what came since. */
const REQUESTERS_SAVE_MS = 5000;

/** Stored registrations are rewritten at the latest when their stored expiry is this close. */
const REFRESH_WRITE_MARGIN_MS = 120_000;

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

function notifyKey(to: Endpoint, nonce: bigint): string {
  return `${to.address}|${nonce.toString(16)}`;
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

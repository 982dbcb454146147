// The composition layer: the LISP control-plane server wires the parts and runs the data flow
// socket -> decode -> dispatch (handlers) -> commit (database, store, workers) -> outbox -> socket.
// Start-up and shutdown live here; what a message means is in dispatch.ts and control/, how a
// change is made durable in commit.ts, who holds an EID in authority/, sending and
// retransmission in transport/outbox.ts.
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { pino, type Logger } from 'pino';
import { LispCodecError, decode } from '../codec/index.js';
import type { Address, EidPrefix, LispMessage, MapRequest } from '../codec/types.js';
import type { ServerConfig } from '../config/load.js';
import { DEFAULT_RECEIVE_BUFFER_BYTES } from '../transport/udp.js';
import { expireRegistrations } from '../control/map-server.js';
import { Registrar } from '../authority/registrar.js';
import { siteHolding } from '../authority/sites.js';
import type { ResolverOptions } from '../control/map-resolver.js';
import { PendingSmrs, planMove, type BindingChange, type MoveAudience } from '../control/mobility.js';
import { RateLimiter } from '../control/rate-limit.js';
import { RequesterTable } from '../control/requesters.js';
import { RequesterSaver } from './requester-saver.js';
import { SourceAddresses } from '../control/source-address.js';
import { SubscriptionTable } from '../control/subscriptions.js';
import { realTimers } from '../transport/retransmit.js';
import type { HandlerResult, ServerEvent, Timers } from '../control/types.js';
import { MappingDatabase } from '../db/database.js';
import type { Endpoint, Registration, StateChange } from '../db/model.js';
import { formatEidPrefix } from '../codec/prefix.js';
import { formatAddress } from '../codec/text.js';
import { ServerMetrics } from '../metrics.js';
import type { StateStore, StoreOpener, StoredState } from '../store/state-store.js';
import { Store } from '../store/store.js';
import { StoreWriter } from '../store/writer.js';
import { UdpTransport } from '../transport/udp.js';
import { OwnSockets } from '../transport/own-sockets.js';
import { Outbox } from '../transport/outbox.js';
import { CommitPath } from './commit.js';
import { Dispatcher } from './dispatch.js';
import { WorkerPool, workerCount } from '../workers/pool.js';

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
  /** Every datagram leaves through it; it resends Map-Notifies and SMRs until acknowledged. */
  private readonly outbox: Outbox;
  /** The database, the store and the workers, in that order. */
  private readonly commits: CommitPath;
  private readonly dispatcher: Dispatcher;
  /** SMRs not yet answered by an SMR-invoked Map-Request, by ITR. */
  private readonly pendingSmrs = new PendingSmrs();
  private readonly audience: MoveAudience;
  /** RFC 9437 subscriptions: their own table, never evicted by requesters, persisted. */
  readonly subscriptions = new SubscriptionTable();
  private readonly clock: () => number;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly writer: StoreWriter;
  readonly requesters: RequesterTable;
  private readonly mobilityEnabled: boolean;
  private readonly replyLimiter: RateLimiter;
  /** The registration authority: who holds each EID, from each ETR's register bursts. */
  private readonly registrar: Registrar;
  private readonly requesterSaver: RequesterSaver;

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
    this.outbox = new Outbox({
      allowed: (to) => !this.ownSockets?.has(to) && (!options.sendFilter || options.sendFilter(to)),
      filtered: () => this.metrics.countDropped('filtered'),
      sent: (kind) => (kind === 'smr' ? this.metrics.countSmrSent() : this.metrics.notifiesSent.inc()),
      gaveUp: (key) => this.pendingSmrs.forget(key),
    }, this.timers);
    this.writer = new StoreWriter(store);
    // Workers hook: every worker's copy gets the changes; a write or a move waits for their acks.
    this.commits = new CommitPath(db, this.subscriptions, this.writer, (changes, awaitAcks) => this.pool?.publish(changes, awaitAcks));
    // ServerOptions.mobility (tests, simulations) overrides the config file's.
    const mobility = options.mobility ?? config.mobility;
    this.mobilityEnabled = mobility.enabled;
    this.replyLimiter = new RateLimiter(config.lisp.rateLimit);
    this.registrar = new Registrar(db, { registrationTtlMs: config.lisp.registrationTtlSeconds * 1000 }, this.timers, this.clock, (result) => this.process(result));
    this.requesters = new RequesterTable(mobility.requesterCapacity, (itr) => db.isRegisteredXtr(itr));
    this.requesterSaver = new RequesterSaver(
      this.requesters,
      (encoded) => this.process({ outbound: [], changes: [{ kind: 'put-requesters', encoded }], events: [] }),
      (err) => this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'saving the requester table failed'),
    );
    this.audience = { requesters: this.requesters, subscriptions: this.subscriptions, advertise: (itr) => this.advertised(itr) };
    this.dispatcher = new Dispatcher({
      db, registrar: this.registrar, subscriptions: this.subscriptions, replyLimiter: this.replyLimiter, metrics: this.metrics,
      resolver: () => this.resolverOptions(),
      smrInvoked: (request, from) => this.smrInvoked(request, from),
      awaiting: (key) => this.outbox.awaiting(key),
      acknowledged: (key) => this.outbox.acknowledged(key),
    });
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
      noPretenuringFromNow();
      server.transport = transport = await UdpTransport.open(config.lisp.listen, (bytes, from) => server.onDatagram(bytes, from), (err, to) => {
        // Spoofed ITR-RLOCs can make sends fail by the thousand: count them, log only at debug.
        server.metrics.countDropped('send-error');
        server.log.debug({ to, err: err.message }, 'send failed');
      }, config.lisp.receiveBufferBytes, workers > 1);
      server.ownSockets = new OwnSockets(transport.addresses());
      const bound = transport;
      const send = (to: Endpoint, bytes: Uint8Array): void => bound.send(to, bytes);
      server.outbox.attach(send);
      if (workers > 1) {
        const pool = await server.startWorkers(workers - 1, transport);
        // A big fan-out leaves from every thread's socket (workers/pool.ts rule 8).
        server.outbox.attachBulk((datagrams) => pool.spread(datagrams, send));
      }
      for (const { endpoint, asked, granted } of transport.receiveBuffers()) {
        if (granted < asked) {
          server.log.warn({ listen: endpoint, asked, granted },
            `UDP receive buffer capped by the kernel; bursts beyond it are dropped (raise it: sysctl -w net.core.rmem_max=${asked})`);
        }
      }
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
    this.requesterSaver.markSaved();
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
   * Applies changes to the database, the store and the workers (commit.ts), and announces the
   * bindings they moved: at once, or with workers once every worker answers from the new state.
   */
  private commit(changes: readonly StateChange[]): { durable: Promise<void> | undefined; moves: Promise<MovedEvent[]> } {
    const { durable, moved, replicated } = this.commits.commit(changes, this.now());
    // SMRs go out before the change is written: they promise nothing about storage (an ITR
    // asks again and gets what is answered then; should the write fail, the ETRs, unanswered,
    // register again), and encoding and writing cost a move 0.6–2 ms. Map-Notifies that
    // acknowledge a registration still wait for the write (see process).
    if (moved.length === 0) return { durable, moves: NO_MOVES };
    if (!replicated) return { durable, moves: Promise.resolve(this.announceMoves(moved)) };
    const moves = replicated.then(() => this.announceMoves(moved));
    moves.catch((err: unknown) => this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'move announcement failed'));
    return { durable, moves };
  }

  /** Resolves once every change handled so far is durable and its answers are sent. */
  async settled(): Promise<void> {
    await this.commits.settled();
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
      const report = this.mobilityEnabled ? this.tell(change, now) : { smrs: 0, notifies: 0, fanoutMs: 0 };
      if (this.mobilityEnabled) this.metrics.moveFanoutSeconds.observe(report.fanoutMs / 1000);
      const site = siteHolding(this.db, change.after, now);
      const event: MovedEvent = { type: 'moved', eid: change.eid, from: rlocs(change.before), to: rlocs(change.after), smrs: report.smrs, notifies: report.notifies, fanoutMs: report.fanoutMs, ...(site ? { site } : {}) };
      this.emit(event);
      announced.push(event);
    }
    return announced;
  }

  /** Sends what a moved binding calls for (control/mobility.ts plans it): SMRs first. */
  private tell(change: BindingChange, now: number): { smrs: number; notifies: number; fanoutMs: number } {
    const started = process.hrtime.bigint();
    const plan = planMove(this.db, this.audience, change, now);
    const pending = this.pendingSmrs;
    const smrs = this.outbox.sendReliably((function* () {
      for (const smr of plan.smrs) {
        yield smr;
        pending.add(smr);
      }
    })());
    // The subscriptions' nonces just used are stored (a restart goes on from them); the
    // Map-Notifies need not wait for that write.
    if (plan.changes.length) this.process({ outbound: [], changes: plan.changes, events: [] });
    const notifies = plan.notifies.length ? this.outbox.sendReliably(plan.notifies) : 0;
    return { smrs, notifies, fanoutMs: Number(process.hrtime.bigint() - started) / 1e6 };
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
      this.process(this.dispatcher.handle(message, bytes, from, this.now()));
    } catch (err) {
      // A bug must cost one datagram, never the server.
      this.metrics.countDropped('internal');
      this.log.error({ from, err: err instanceof Error ? err.stack : String(err) }, 'internal error handling a datagram');
    }
  }

  private smrInvoked(request: MapRequest, from: Endpoint): void {
    for (const key of this.pendingSmrs.answeredBy(request, from)) this.outbox.acknowledged(key);
  }

  private resolverCache: ResolverOptions | undefined;
  private resolverOptions(): ResolverOptions {
    this.resolverCache ??= { families: this.transport?.families ?? new Set() };
    return this.resolverCache;
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
      this.send(result);
      return;
    }
    durable.then(
      () => this.send(result),
      (err: unknown) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'store write failed; reply withheld'),
    );
  }

  private send(result: HandlerResult): void {
    this.outbox.sendAll(result.outbound);
    if (result.reliable?.length) this.outbox.sendReliably(result.reliable);
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
      this.requesterSaver.tick(now);
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'expiry sweep failed');
    }
  }

  // ── Workers hooks (mapserver/workers/pool.ts has the design and the consistency rules) ──

  /** Starts `threads` worker threads on the addresses `transport` bound (reusePort). */
  private async startWorkers(threads: number, transport: UdpTransport): Promise<WorkerPool> {
    const pool = new WorkerPool({
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
    // Before the threads start: the main socket answers already, and what it commits from now
    // on must reach the threads (their snapshots are taken as they spawn).
    this.pool = pool;
    try {
      await pool.start(threads);
    } catch (err) {
      this.pool = undefined;
      throw err;
    }
    this.metrics.addWorkers(async () => {
      const live = await pool.counts();
      return [
        ...live.flatMap(({ index, counts }) => (counts ? [{ worker: index, counts }] : [])),
        ...pool.retiredCounts(),
      ];
    });
    return pool;
  }

  /** An SMR-invoked Map-Request a worker answered: it stops the SMRs to that ITR here. */
  private workerSmrInvoked(bytes: Buffer, from: Endpoint): void {
    try {
      const message = decode(bytes);
      const request = message.type === 'ecm' ? message.message : message;
      if (request.type === 'map-request') {
        this.metrics.smrInvokedReceived.inc();
        this.smrInvoked(request, from);
      }
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
    this.requesterSaver.stop();
    this.registrar.close();
    await this.commits.settled();
    // Workers hook: their sockets close first; what they answered is reported before they exit.
    await this.pool?.close();
    this.pool = undefined;
    this.outbox.close();
    this.pendingSmrs.clear();
    await this.transport?.close();
    this.transport = undefined;
    const nonces = this.registrar.flushNonces(this.now(), true);
    if (nonces.length) await this.writer.write(nonces);
    const requesters = this.requesterSaver.final(this.now());
    if (requesters) await this.writer.write([{ kind: 'put-requesters', encoded: requesters }]);
    await this.writer.flush();
    await this.store.close();
  }
}

const openLevelStore: StoreOpener = (dataDir) => Store.openAndLoad(dataDir);

/** A binding change as the API and the event stream report it. */
export type MovedEvent = Extract<ServerEvent, { type: 'moved' }>;

const NO_MOVES: Promise<MovedEvent[]> = Promise.resolve([]);

/**
 * Turns off V8's allocation-site pretenuring once the stored state is loaded (the load keeps it:
 * what it makes lives on). Serving, the sites that decode a Map-Register see the first
 * registrations of every ETR live on and get tenured: every later Map-Register's decoded objects
 * were then made in the old generation, dead there at once, and their pointers to young objects
 * kept those alive through every scavenge (4-5 MB promoted per scavenge at 14k refreshes/s,
 * 10-20 ms pauses). Process-wide, as V8 flags are; set once.
 */
function noPretenuringFromNow(): void {
  if (pretenuringOff) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
  pretenuringOff = true;
}
let pretenuringOff = false;


// An emulated LISP xTR (ITR + ETR) on UDP, modelled on Open Overlay Router 1.3 closely enough to
// measure what a Map-Server's mobility support does to traffic:
//  - registers each EID prefix / hosted EID in its own Map-Register (M bit, HMAC-SHA-1 key 0x0001)
//    every `registerIntervalMs`, and accepts a Map-Notify only for a nonce it sent;
//  - map-cache with TTLs (scaled by `timeScale`), misses resolved by ECM Map-Requests through the
//    Map-Resolver; packets are dropped (and counted) while a destination is unresolved;
//  - SMRs handled as lisp_xtr.c/lisp_tr.c do (see handleSmr);
//  - answers Map-Requests forwarded to it (it registered with P=0) with a Map-Reply to the ITR-RLOC;
//  - LISP data plane: 8-byte data header (all flags 0, as OOR sends) + inner IPv4 packet on UDP.
// Only IPv4 EIDs and RLOCs: that is all the mobility scenario needs.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DATA_HEADER_LENGTH, decodeDataHeader, encodeDataHeader, type LispDataHeader } from '../mapserver/codec/data-header.js';
import { LISP_CONTROL_PORT, LispCodecError, decode, ecmAround, encode, mapRequest, signMessage, verifyMessage } from '../mapserver/codec/index.js';
import type {
  Address,
  EidPrefix,
  EncapsulatedControl,
  Locator,
  MapNotify,
  MapRegister,
  MapReply,
  MapRequest,
  MappingRecord,
} from '../mapserver/codec/types.js';
import { ACTION, AUTH_ALG } from '../mapserver/codec/types.js';
import { formatEidPrefix, parseEidPrefix, prefixKey, samePrefix } from '../mapserver/codec/prefix.js';
import { PrefixTable } from '../mapserver/db/trie.js';
import { ipv4Destination, ipv4Source } from './inner.js';

export { LISP_CONTROL_PORT };
export const LISP_DATA_PORT = 4341;

export interface UdpEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface XtrConfig {
  readonly name: string;
  /** IPv4 RLOC the xTR binds to, e.g. 127.0.1.1 (each xTR needs its own address). */
  readonly rloc: string;
  /**
   * Control port (default 4342). livmap forwards Map-Requests to an ETR's port 4342 whatever
   * port it registered from, so anything else works only for an ITR-only xTR.
   */
  readonly controlPort?: number;
  /** Data port this xTR listens on (default 4341). */
  readonly dataPort?: number;
  /** Data port of other xTRs' RLOCs (default 4341). */
  readonly remoteDataPort?: number;
  /** Site EID prefixes, e.g. ["10.16.10.0/24"]. */
  readonly eidPrefixes: readonly string[];
  /** Host EIDs served from the start, each registered as its own /32. */
  readonly hosts?: readonly string[];
  /** TTL (minutes) of site prefixes in Map-Registers and ETR Map-Replies (OOR lab: 10). */
  readonly siteTtlMinutes?: number;
  /** TTL (minutes) of host /32s (OOR lab: 1 for the VM). */
  readonly hostTtlMinutes?: number;
  readonly mapServer: UdpEndpoint;
  /** Defaults to the Map-Server. */
  readonly mapResolver?: UdpEndpoint;
  /** HMAC-SHA-1 secret shared with the Map-Server. */
  readonly key: string;
  /** P bit: the Map-Server answers for us (true) or forwards Map-Requests to us (false). */
  readonly proxyReply: boolean;
  /** Periodic Map-Register interval (OOR: 60 s). */
  readonly registerIntervalMs?: number;
  /**
   * Map-cache TTLs are `ttl minutes × 60 000 ms × timeScale`: 1 is real time; 0.01 turns a
   * 1-minute TTL into 600 ms for tests. The TTLs on the wire are never scaled.
   */
  readonly timeScale?: number;
  /** Retransmission of unanswered (SMR-invoked) Map-Requests. */
  readonly mapRequestRetryMs?: number;
  readonly mapRequestRetries?: number;
  /** Called for every event, with the monotonic time in ms (performance.now()). */
  readonly onEvent?: (event: XtrEvent) => void;
}

export type XtrEventType =
  | 'register-sent'
  | 'registered'
  | 'notify-ignored'
  | 'map-request-sent'
  | 'smr-received'
  | 'smr-ignored'
  | 'smr-invoked-sent'
  | 'cache-installed'
  | 'cache-updated'
  | 'cache-expired'
  | 'reply-ignored'
  | 'etr-reply-sent'
  | 'host-attached'
  | 'host-detached'
  | 'resolution-failed';

export interface XtrEvent {
  readonly at: number;
  readonly xtr: string;
  readonly type: XtrEventType;
  readonly detail: string;
}

export interface CacheEntry {
  readonly prefix: EidPrefix;
  readonly locators: readonly Locator[];
  readonly action: number;
  readonly ttlMinutes: number;
  readonly installedAt: number;
  readonly expiresAt: number;
}

interface LocalMapping {
  readonly prefix: EidPrefix;
  readonly ttlMinutes: number;
  /** A hosted EID that left: still registered (stale xTR) until this time. */
  staleUntil?: number;
}

/** One outstanding Map-Request and its retransmissions (all nonces answer it). */
interface PendingRequest {
  readonly kind: 'miss' | 'smr-invoked';
  readonly eid: EidPrefix;
  readonly nonces: bigint[];
  timer: NodeJS.Timeout | undefined;
  attempts: number;
  readonly send: (nonce: bigint) => void;
}

export type HostHandler = (packet: Buffer, at: number) => void;

export interface XtrStats {
  registersSent: number;
  notifiesAccepted: number;
  notifiesIgnored: number;
  mapRequestsSent: number;
  smrsReceived: number;
  smrsIgnored: number;
  smrInvokedSent: number;
  mapRepliesAccepted: number;
  mapRepliesIgnored: number;
  etrRepliesSent: number;
  encapsulated: number;
  decapsulated: number;
  delivered: number;
  dropUnresolved: number;
  dropNegative: number;
  dropNoHost: number;
  dropMalformed: number;
}

const EVENT_LOG_MAX = 5000;

function ipv4(ip: string): Address {
  return { afi: 'ipv4', ip };
}

function hostPrefix(ip: string): EidPrefix {
  return parseEidPrefix(`${ip}/32`);
}

function randomNonce(): bigint {
  return randomBytes(8).readBigUInt64BE(0);
}

function bind(address: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

const DATA_HEADER: LispDataHeader = {
  noncePresent: false,
  lsbEnabled: false,
  echoNonceRequest: false,
  mapVersionPresent: false,
  instanceIdPresent: false,
  reservedBit: false,
  keyId: 0,
  nonce: 0,
  sourceMapVersion: 0,
  destMapVersion: 0,
  instanceId: 0,
  locatorStatusBits: 0,
};
const DATA_HEADER_BYTES = encodeDataHeader(DATA_HEADER);

export class EmulatedXtr {
  readonly name: string;
  readonly rloc: string;
  readonly stats: XtrStats = {
    registersSent: 0, notifiesAccepted: 0, notifiesIgnored: 0, mapRequestsSent: 0, smrsReceived: 0, smrsIgnored: 0,
    smrInvokedSent: 0, mapRepliesAccepted: 0, mapRepliesIgnored: 0, etrRepliesSent: 0, encapsulated: 0, decapsulated: 0,
    delivered: 0, dropUnresolved: 0, dropNegative: 0, dropNoHost: 0, dropMalformed: 0,
  };
  readonly events: XtrEvent[] = [];
  /** Packets for EIDs that are not a local host (the netns variant writes them to a TUN device). */
  siteForwarder: ((packet: Buffer) => void) | undefined;

  private readonly cache = new PrefixTable<CacheEntry>();
  private readonly local = new PrefixTable<LocalMapping>();
  private readonly hosts = new Map<string, HostHandler>();
  private readonly pendingByNonce = new Map<bigint, PendingRequest>();
  /** Requested EID (prefix key) -> the miss being resolved: OOR's inactive placeholder entry. */
  private readonly pendingMiss = new Map<string, PendingRequest>();
  /** Map-Register nonces still waiting for their Map-Notify. */
  private readonly registerNonces = new Map<bigint, string>();
  private registerTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly c: Required<Omit<XtrConfig, 'hosts' | 'onEvent' | 'mapResolver'>> & { mapResolver: UdpEndpoint };

  private constructor(
    config: XtrConfig,
    private readonly control: dgram.Socket,
    private readonly data: dgram.Socket,
  ) {
    this.name = config.name;
    this.rloc = config.rloc;
    this.c = {
      name: config.name,
      rloc: config.rloc,
      controlPort: control.address().port,
      dataPort: data.address().port,
      remoteDataPort: config.remoteDataPort ?? LISP_DATA_PORT,
      eidPrefixes: config.eidPrefixes,
      siteTtlMinutes: config.siteTtlMinutes ?? 10,
      hostTtlMinutes: config.hostTtlMinutes ?? 1,
      mapServer: config.mapServer,
      mapResolver: config.mapResolver ?? config.mapServer,
      key: config.key,
      proxyReply: config.proxyReply,
      registerIntervalMs: config.registerIntervalMs ?? 60_000,
      timeScale: config.timeScale ?? 1,
      mapRequestRetryMs: config.mapRequestRetryMs ?? 2000,
      mapRequestRetries: config.mapRequestRetries ?? 2,
    };
    this.onEvent = config.onEvent;
    for (const text of config.eidPrefixes) {
      const prefix = parseEidPrefix(text);
      this.local.set(prefix, { prefix, ttlMinutes: this.c.siteTtlMinutes });
    }
    control.on('message', (bytes, rinfo) => this.onControl(bytes, { address: rinfo.address, port: rinfo.port }));
    data.on('message', (bytes) => this.onData(bytes));
    // A send error on loopback (e.g. a peer that is gone) must not crash the emulation.
    control.on('error', () => {});
    data.on('error', () => {});
  }

  private readonly onEvent: ((event: XtrEvent) => void) | undefined;

  /** Binds the sockets, registers every EID at once and then every `registerIntervalMs`. */
  static async start(config: XtrConfig): Promise<EmulatedXtr> {
    const control = await bind(config.rloc, config.controlPort ?? LISP_CONTROL_PORT);
    let data: dgram.Socket;
    try {
      data = await bind(config.rloc, config.dataPort ?? LISP_DATA_PORT);
    } catch (err) {
      control.close();
      throw err;
    }
    const xtr = new EmulatedXtr(config, control, data);
    for (const host of config.hosts ?? []) xtr.local.set(hostPrefix(host), { prefix: hostPrefix(host), ttlMinutes: xtr.c.hostTtlMinutes });
    xtr.registerAll();
    xtr.registerTimer = setInterval(() => xtr.registerAll(), xtr.c.registerIntervalMs);
    xtr.registerTimer.unref();
    return xtr;
  }

  get controlEndpoint(): UdpEndpoint {
    return { address: this.rloc, port: this.c.controlPort };
  }

  get dataEndpoint(): UdpEndpoint {
    return { address: this.rloc, port: this.c.dataPort };
  }

  private now(): number {
    return performance.now();
  }

  private emit(type: XtrEventType, detail: string): void {
    const event: XtrEvent = { at: this.now(), xtr: this.name, type, detail };
    if (this.events.length >= EVENT_LOG_MAX) this.events.splice(0, EVENT_LOG_MAX / 2);
    this.events.push(event);
    this.onEvent?.(event);
  }

  // ---------------------------------------------------------------- hosts (the VM moving)

  /**
   * Attaches a host; with `register` (default) its /32 is added to the xTR's EIDs and, as OOR does
   * on every change of its local database, the xTR sends a burst: one Map-Register per mapping.
   */
  attachHost(eid: string, handler: HostHandler, options: { readonly register?: boolean; readonly ttlMinutes?: number } = {}): void {
    this.hosts.set(eid, handler);
    if (options.register !== false) {
      const prefix = hostPrefix(eid);
      const mapping: LocalMapping = { prefix, ttlMinutes: options.ttlMinutes ?? this.c.hostTtlMinutes };
      this.local.set(prefix, mapping);
      this.registerAll();
    }
    this.emit('host-attached', eid);
  }

  /**
   * Detaches a host. Like OOR it never withdraws (no TTL-0 Map-Register): the /32 leaves the local
   * database and the burst sent at once (as OOR does on a change) simply omits it, unless
   * `keepRegisteringMs` keeps a stale xTR re-registering it for a while (a config that lags behind).
   */
  detachHost(eid: string, options: { readonly keepRegisteringMs?: number } = {}): void {
    this.hosts.delete(eid);
    const prefix = hostPrefix(eid);
    const mapping = this.local.get(prefix);
    if (mapping) {
      if (options.keepRegisteringMs && options.keepRegisteringMs > 0) {
        mapping.staleUntil = this.now() + options.keepRegisteringMs;
      } else {
        this.local.delete(prefix);
        this.registerAll();
      }
    }
    this.emit('host-detached', eid);
  }

  hasHost(eid: string): boolean {
    return this.hosts.has(eid);
  }

  // ---------------------------------------------------------------- registration

  private registerAll(): void {
    if (this.closed) return;
    const now = this.now();
    for (const { prefix, value } of [...this.local.entries()]) {
      if (value.staleUntil !== undefined && value.staleUntil <= now) {
        this.local.delete(prefix);
        continue;
      }
      this.register(value);
    }
  }

  private ownLocator(): Locator {
    return { priority: 1, weight: 100, mPriority: 255, mWeight: 0, local: true, probed: false, reachable: true, rloc: ipv4(this.rloc) };
  }

  private localRecord(mapping: LocalMapping): MappingRecord {
    return { eid: mapping.prefix, ttl: mapping.ttlMinutes, action: ACTION.noAction, authoritative: true, mapVersion: 0, locators: [this.ownLocator()] };
  }

  private register(mapping: LocalMapping): void {
    if (this.closed) return;
    const nonce = randomNonce();
    const message: MapRegister = {
      type: 'map-register',
      proxyReply: this.c.proxyReply,
      security: false,
      xtrIdPresent: false,
      rtr: false,
      wantMapNotify: true,
      merge: false,
      nonce,
      auth: { keyId: 0, algId: AUTH_ALG.hmacSha1, authData: new Uint8Array(20) },
      records: [this.localRecord(mapping)],
    };
    const text = formatEidPrefix(mapping.prefix);
    this.registerNonces.set(nonce, text);
    // Map-Notifies that never come (server down) must not grow the table forever.
    if (this.registerNonces.size > 1000) this.registerNonces.delete(this.registerNonces.keys().next().value as bigint);
    this.sendControl(signMessage(message, this.c.key), this.c.mapServer);
    this.stats.registersSent++;
    this.emit('register-sent', `${text} ttl ${mapping.ttlMinutes}`);
  }

  private onMapNotify(notify: MapNotify, bytes: Buffer): void {
    const eid = this.registerNonces.get(notify.nonce);
    // OOR drops a Map-Notify whose nonce it did not send, including the Map-Server's unsolicited ones.
    if (eid === undefined || !verifyMessage(bytes, this.c.key)) {
      this.stats.notifiesIgnored++;
      this.emit('notify-ignored', `nonce 0x${notify.nonce.toString(16)} ${notify.records.map((r) => formatEidPrefix(r.eid)).join(' ')}`);
      return;
    }
    this.registerNonces.delete(notify.nonce);
    this.stats.notifiesAccepted++;
    this.emit('registered', eid);
  }

  // ---------------------------------------------------------------- map-cache

  /** The live cache entry covering `ip` (longest match); expired entries are removed on the way. */
  lookupCache(ip: string): CacheEntry | undefined {
    for (;;) {
      const match = this.cache.lookupBest(0, 'ipv4', ip);
      if (!match) return undefined;
      if (match.value.expiresAt > this.now()) return match.value;
      this.cache.delete(match.prefix);
      this.emit('cache-expired', formatEidPrefix(match.prefix));
    }
  }

  /** Entries as they are now (for tests and timelines). */
  cacheEntries(): CacheEntry[] {
    return [...this.cache.entries()].map((e) => e.value).filter((e) => e.expiresAt > this.now());
  }

  private install(record: MappingRecord, updated: boolean): void {
    const now = this.now();
    const ttlMs = record.ttl === 0xffffffff ? Number.MAX_SAFE_INTEGER : record.ttl * 60_000 * this.c.timeScale;
    const entry: CacheEntry = { prefix: record.eid, locators: record.locators, action: record.action, ttlMinutes: record.ttl, installedAt: now, expiresAt: now + ttlMs };
    this.cache.set(record.eid, entry);
    const rlocs = record.locators.map((l) => (l.rloc.afi === 'ipv4' ? l.rloc.ip : l.rloc.afi)).join(',') || `action ${record.action}`;
    this.emit(updated ? 'cache-updated' : 'cache-installed', `${formatEidPrefix(record.eid)} -> ${rlocs}`);
  }

  // ---------------------------------------------------------------- Map-Requests (ITR side)

  private startRequest(kind: PendingRequest['kind'], eid: EidPrefix, build: (nonce: bigint) => EncapsulatedControl): PendingRequest {
    const pending: PendingRequest = {
      kind,
      eid,
      nonces: [],
      timer: undefined,
      attempts: 0,
      send: (nonce) => {
        this.sendControl(encode(build(nonce)), this.c.mapResolver);
      },
    };
    this.transmit(pending);
    return pending;
  }

  private transmit(pending: PendingRequest): void {
    if (this.closed) return;
    const nonce = randomNonce();
    pending.nonces.push(nonce);
    this.pendingByNonce.set(nonce, pending);
    pending.attempts++;
    pending.send(nonce);
    if (pending.kind === 'miss') this.stats.mapRequestsSent++;
    else this.stats.smrInvokedSent++;
    this.emit(pending.kind === 'miss' ? 'map-request-sent' : 'smr-invoked-sent', `${formatEidPrefix(pending.eid)} attempt ${pending.attempts}`);
    pending.timer = setTimeout(() => {
      if (pending.attempts <= this.c.mapRequestRetries) this.transmit(pending);
      else {
        this.finish(pending);
        this.emit('resolution-failed', formatEidPrefix(pending.eid));
      }
    }, this.c.mapRequestRetryMs);
  }

  private finish(pending: PendingRequest): void {
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = undefined;
    for (const nonce of pending.nonces) this.pendingByNonce.delete(nonce);
    if (pending.kind === 'miss') this.pendingMiss.delete(prefixKey(pending.eid));
  }

  private mapRequestEcm(request: MapRequest, innerSource: string, innerDestination: string): EncapsulatedControl {
    // OOR: inner IP from the source EID to the requested EID, DF set, UDP control port -> 4342, TTL 255.
    return ecmAround(request, { source: innerSource, destination: innerDestination, sourcePort: this.c.controlPort, ttl: 255, ipFlags: 2 });
  }

  private baseRequest(nonce: bigint, sourceEid: string, record: EidPrefix, smrInvoked: boolean): MapRequest {
    return mapRequest({ smrInvoked, nonce, sourceEid: ipv4(sourceEid), itrRlocs: [ipv4(this.rloc)], records: [record] });
  }

  /** A data packet to an EID with no cache entry: OOR asks for the destination /32. */
  private resolveMiss(source: string, destination: string): void {
    const eid = hostPrefix(destination);
    const key = prefixKey(eid);
    if (this.pendingMiss.has(key)) return;
    const pending = this.startRequest('miss', eid, (nonce) => this.mapRequestEcm(this.baseRequest(nonce, source, eid, false), source, destination));
    this.pendingMiss.set(key, pending);
  }

  /**
   * OOR's SMR procedure (xtr_recv_map_request → tr_reply_to_smr → tr_send_smr_invoked_map_request):
   * the SMR's EID record must fall inside one of our own EID prefixes, and our map-cache must hold
   * an entry covering the SMR's source EID; we then ask the Map-Resolver (ECM, s bit) for exactly
   * that entry's prefix, with the SMR record's address as source EID and inner source, and the
   * entry's prefix address as inner destination (vector 04, frames 42-43). No Map-Reply to the SMR.
   */
  private handleSmr(smr: MapRequest): void {
    this.stats.smrsReceived++;
    const source = smr.sourceEid.afi === 'ipv4' ? smr.sourceEid.ip : undefined;
    this.emit('smr-received', `source ${source ?? smr.sourceEid.afi} records ${smr.records.map(formatEidPrefix).join(' ')}`);
    if (source === undefined) return this.ignoreSmr('source EID is not IPv4');
    for (const record of smr.records) {
      if (record.address.afi !== 'ipv4' || !this.local.lookupBest(record.iid, 'ipv4', record.address.ip)) {
        return this.ignoreSmr(`${formatEidPrefix(record)} is not one of our EIDs`);
      }
      const entry = this.lookupCache(source);
      if (!entry) return this.ignoreSmr(`no map-cache entry covers ${source}`);
      const target = entry.prefix;
      const targetIp = target.address.afi === 'ipv4' ? target.address.ip : source;
      const ownEid = record.address.ip;
      this.startRequest('smr-invoked', target, (nonce) => this.mapRequestEcm(this.baseRequest(nonce, ownEid, target, true), ownEid, targetIp));
    }
  }

  private ignoreSmr(why: string): void {
    this.stats.smrsIgnored++;
    this.emit('smr-ignored', why);
  }

  private onMapReply(reply: MapReply): void {
    const pending = this.pendingByNonce.get(reply.nonce);
    if (!pending || reply.probe) {
      this.stats.mapRepliesIgnored++;
      this.emit('reply-ignored', `nonce 0x${reply.nonce.toString(16)} matches no Map-Request`);
      return;
    }
    this.finish(pending);
    this.stats.mapRepliesAccepted++;
    if (pending.kind === 'miss') {
      // The placeholder is replaced by every record of the reply.
      for (const record of reply.records) this.install(record, false);
      return;
    }
    // An active entry (SMR): only the first record, and only if it names exactly a cached prefix.
    const first = reply.records[0];
    if (!first) return;
    const existing = this.cache.get(first.eid);
    if (!existing || !samePrefix(existing.prefix, first.eid)) {
      this.stats.mapRepliesIgnored++;
      this.emit('reply-ignored', `SMR-invoked reply for ${formatEidPrefix(first.eid)} matches no cached prefix`);
      return;
    }
    this.install(first, true);
  }

  // ---------------------------------------------------------------- ETR side

  /** Answers a Map-Request for our EIDs (forwarded by the Map-Server, or an RLOC probe). */
  private answer(request: MapRequest, replyPort: number): void {
    const records: MappingRecord[] = [];
    for (const eid of request.records) {
      if (eid.address.afi !== 'ipv4') return;
      const mapping = this.local.lookupBest(eid.iid, 'ipv4', eid.address.ip);
      if (!mapping) return; // OOR answers nothing when any requested EID is not local
      records.push(this.localRecord(mapping.value));
    }
    const itr = request.itrRlocs.find((a) => a.afi === 'ipv4');
    if (!itr || itr.afi !== 'ipv4' || records.length === 0 || request.dontMapReply) return;
    const reply: MapReply = { type: 'map-reply', probe: request.probe, echoNonce: false, security: false, nonce: request.nonce, records };
    this.sendControl(encode(reply), { address: itr.ip, port: replyPort });
    this.stats.etrRepliesSent++;
    this.emit('etr-reply-sent', `${records.map((r) => formatEidPrefix(r.eid)).join(' ')} to ${itr.ip}:${replyPort}`);
  }

  private onControl(bytes: Buffer, from: UdpEndpoint): void {
    if (this.closed) return;
    let message;
    try {
      message = decode(bytes);
    } catch (err) {
      if (!(err instanceof LispCodecError)) throw err;
      this.stats.dropMalformed++;
      return;
    }
    switch (message.type) {
      case 'map-reply':
        return this.onMapReply(message);
      case 'map-notify':
        return this.onMapNotify(message, bytes);
      case 'map-request':
        if (message.smr) return this.handleSmr(message);
        return this.answer(message, from.port);
      case 'ecm':
        if (message.message.type === 'map-request' && !message.message.smr) return this.answer(message.message, message.inner.sourcePort);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- data plane

  /**
   * A packet from a host of this site (IPv4 bytes): delivered locally, encapsulated to the
   * destination's RLOC, or dropped while the destination is unresolved or negative.
   */
  send(packet: Buffer): void {
    if (this.closed) return;
    const destination = ipv4Destination(packet);
    const source = ipv4Source(packet);
    if (destination === undefined || source === undefined) {
      this.stats.dropMalformed++;
      return;
    }
    const local = this.hosts.get(destination);
    if (local) {
      this.stats.delivered++;
      local(packet, this.now());
      return;
    }
    const entry = this.lookupCache(destination);
    if (!entry) {
      this.stats.dropUnresolved++;
      this.resolveMiss(source, destination);
      return;
    }
    const locator = bestLocator(entry.locators);
    if (!locator || locator.rloc.afi !== 'ipv4') {
      this.stats.dropNegative++;
      return;
    }
    this.stats.encapsulated++;
    this.data.send([DATA_HEADER_BYTES, packet], this.c.remoteDataPort, locator.rloc.ip);
  }

  private onData(bytes: Buffer): void {
    if (this.closed) return;
    if (bytes.length < DATA_HEADER_LENGTH) {
      this.stats.dropMalformed++;
      return;
    }
    try {
      decodeDataHeader(bytes);
    } catch {
      this.stats.dropMalformed++;
      return;
    }
    const inner = bytes.subarray(DATA_HEADER_LENGTH);
    const destination = ipv4Destination(inner);
    if (destination === undefined) {
      this.stats.dropMalformed++;
      return;
    }
    this.stats.decapsulated++;
    const host = this.hosts.get(destination);
    if (host) {
      this.stats.delivered++;
      host(inner, this.now());
    } else if (this.siteForwarder) {
      this.stats.delivered++;
      this.siteForwarder(inner);
    } else {
      this.stats.dropNoHost++;
    }
  }

  private sendControl(bytes: Uint8Array, to: UdpEndpoint): void {
    if (this.closed) return;
    this.control.send(bytes, to.port, to.address);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.registerTimer) clearInterval(this.registerTimer);
    for (const pending of new Set(this.pendingByNonce.values())) this.finish(pending);
    await Promise.all([
      new Promise<void>((resolve) => this.control.close(() => resolve())),
      new Promise<void>((resolve) => this.data.close(() => resolve())),
    ]);
  }
}

/** Lowest priority value among reachable locators (255 = do not use); first one on a tie. */
function bestLocator(locators: readonly Locator[]): Locator | undefined {
  let best: Locator | undefined;
  for (const l of locators) {
    if (!l.reachable || l.priority === 255) continue;
    if (!best || l.priority < best.priority) best = l;
  }
  return best;
}

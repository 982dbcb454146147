// Workers: `lisp.workers: N` answers Map-Requests on N threads. The main thread is worker 0 (it
// keeps its own socket and answers like today); N-1 worker threads (worker.ts) each bind their
// own UDP socket to the same addresses and port with SO_REUSEPORT, and the kernel spreads the
// datagrams over the N sockets by a hash of (source address, source port, destination). N = 1
// starts no pool and sets no reusePort: today's code path, unchanged.
//
// Why threads and not processes: a worker needs the database and nothing else; threads share
// the process (one /metrics, one log, one store lock, one signal handler) and a MessagePort
// clones DatabaseChange batches (Uint8Array, bigint) as they are, without a serialisation format.
//
// Consistency rules:
// 1. One owner. The main thread's LispServer owns the database and the store: registrations,
//    API changes, moves, expiry, the requester table, the burst and replay memory all live there.
//    A worker only reads its copy.
// 2. Ordered replication. Every batch the main thread applies to its database is posted to every
//    worker with a version (1, 2, ...); ports deliver in order and a worker applies batches as
//    they arrive, so its copy is always the main database as of some version. Quiet refreshes
//    are coalesced into one post per event-loop turn; other batches are posted at once.
// 3. A write is answered after every worker has it. A batch that stores something or moves a
//    binding is posted with `ack`: the Map-Notify that acknowledges a registration, the API's
//    answer and a move's SMRs wait until every live worker has acked that version. A worker
//    that has not acked within ACK_TIMEOUT_MS is fenced: logged, terminated (its socket closes
//    with it, so the kernel stops handing it datagrams) and restarted from a fresh snapshot as
//    in rule 7; the write is answered once it has exited. So an ITR that asks after an ETR got
//    its Map-Notify, or after an SMR, is answered with the new binding by whichever socket the
//    kernel picks, however late a worker is; a stuck worker costs a write ACK_TIMEOUT_MS. A
//    thread still starting has START_GRACE_MS. Changes are posted from the pool's creation, so
//    a thread applies everything after the snapshot it spawned with.
// 4. Every requester is reached. Workers report the ITRs they answered (answered.ts: new ITRs
//    and prefixes, and expiries rounded up to 30 s, so an ITR asking again and again costs one
//    report per 30 s; one post per event-loop turn) and flush that report before each ack, on
//    the same port: when the last ack of a move arrives, the
//    main table holds every ITR any worker answered with the old binding, and the SMRs go out
//    with no further round trip (asking the workers at move time would add one to every move).
// 5. Everything but Map-Requests goes to the owner. A worker posts Map-Registers,
//    Map-Notify-Acks, RFC 9437 subscribes (Map-Requests with N and an xTR-ID: they store a
//    subscription) and the rest as bytes with their source to the main thread, which handles
//    them as if its own socket had read them; the answer leaves from the main thread's socket,
//    which is bound to the same address and port, so the ETR sees the same source. An
//    SMR-invoked Map-Request is answered by the worker and also posted, so the main thread
//    stops SMRing that ITR.
// 6. Same behaviour with 1 or N. Metrics: /metrics adds every worker's counters to the main
//    thread's (livmap_worker_map_requests_total shows the spread). Events come from the main
//    thread only (Map-Request answers raise none). Rate limiter: one per socket; the kernel
//    hashes one source (address and port) to one socket, so an ITR sending from one port (as
//    xTRs do) meets exactly one limiter, as with N = 1; Map-Requests that name one ITR-RLOC from
//    many source ports may meet N limiters, at most N times the configured rate.
// 7. A worker that dies is logged and restarted from a fresh snapshot; until it is back the
//    kernel hashes its share to the remaining sockets. A worker that cannot bind at start-up
//    fails the start.
// 8. Big fan-outs leave from every socket. A reliable batch of BULK_THRESHOLD datagrams or more
//    (a move's SMRs, a retransmission round of them) is handed over in chunks as it is built
//    (spread): each live worker gets a share, posted after the move's replication (so behind
//    the acked change on the same port), and the main thread sends a smaller share itself.
//    Counting, filtering and retransmission stay with the main thread's outbox, so they are the
//    same with 1 or N. A worker answers each share with `sent`; the shares of a worker that dies
//    before answering are sent by the main thread (at least once: a worker that died after
//    sending makes some SMRs arrive twice, which an ITR tolerates as a retransmission).
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { workersFromEnv, type ServerConfig } from '../config/load.js';
import type { Requester } from '../db/model.js';
import type { DatabaseChange, StateChange } from '../db/model.js';
import type { Endpoint } from '../db/model.js';
import type { Datagram } from '../transport/outbox.js';
import { mainThreadShare, packDatagrams } from './bulk.js';
import { replicated, type FromWorker, type ToWorker, type WorkerCounts, type WorkerSetup } from './protocol.js';

/**
 * How long a write waits for a worker's ack before that worker is fenced (rule 3). Acks take
 * well under a millisecond; a second means a worker that is stuck, not one that is busy.
 */
export const ACK_TIMEOUT_MS = 1000;
/** How long a (re)starting thread may take to run before it is fenced like a stuck one. */
const START_GRACE_MS = 10_000;
/** A fenced worker whose thread has not exited by then is given up on (logged); the write goes on. */
const FENCE_EXIT_TIMEOUT_MS = 1000;
/** How long a scrape waits for a worker's counters before it uses the last ones it got. */
const COUNTS_TIMEOUT_MS = 500;
/** A restarted worker that dies again waits longer, up to this, before the next restart. */
const MAX_RESTART_DELAY_MS = 5000;
/**
 * The main thread's share of a spread chunk against one worker's (1): it also builds every
 * datagram and keeps its bookkeeping, so with one worker it sends a third and the worker two.
 */
const MAIN_THREAD_WEIGHT = 0.5;

/** Sends one datagram from the main thread's socket. */
export type LocalSend = (to: Endpoint, bytes: Uint8Array) => void;

/** A bulk share posted to a worker and not yet answered: sent by the main thread should the worker die. */
interface Share {
  readonly datagrams: readonly Datagram[];
  readonly local: LocalSend;
}

export interface PoolHooks {
  /** A datagram a worker read that is not a Map-Request. */
  datagram(bytes: Buffer, from: Endpoint): void;
  /** An SMR-invoked Map-Request a worker answered. */
  smrInvoked(bytes: Buffer, from: Endpoint): void;
  /** ITRs a worker answered. */
  answered(requesters: readonly Requester[]): void;
  /** The database as it is now, for a worker that (re)starts. */
  snapshot(): StateChange[];
}

export type PoolSetup = Omit<WorkerSetup, 'index' | 'snapshot' | 'version'>;

interface Member {
  readonly index: number;
  thread: Worker;
  /** The latest version this worker is known to hold. */
  acked: number;
  ready: boolean;
  /** The thread has not exited. */
  alive: boolean;
  /** Terminated for a missed ack (rule 3): its exit is a fence, not a crash. */
  fenced: boolean;
  lastCounts: WorkerCounts | undefined;
  restarts: number;
  startedAt: number;
  /** Bulk shares posted and not yet answered, by id. */
  readonly shares: Map<number, Share>;
}

interface AckWaiter {
  readonly version: number;
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Threads answering Map-Requests, the main one included. A server started with a pinned clock
 * or a send filter (tests, labs) runs on the main thread only: both are main-thread functions a
 * worker cannot call.
 */
export function workerCount(config: ServerConfig, options: { readonly now?: unknown; readonly sendFilter?: unknown }): number {
  const asked = config.lisp.workers ?? workersFromEnv() ?? 1;
  return asked > 1 && (options.now !== undefined || options.sendFilter !== undefined) ? 1 : asked;
}

/**
 * The worker's entry. Run from TypeScript sources (tests), a worker thread would inherit the
 * test runner's TypeScript loader and spend seconds compiling every module again: it runs the
 * build's JavaScript instead (`npm test` builds first), without the loader.
 */
export function workerEntry(): { readonly url: URL; readonly execArgv?: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { url: new URL('./worker.js', import.meta.url) };
  const built = new URL('../../dist/mapserver/workers/worker.js', import.meta.url);
  if (existsSync(built)) return { url: built, execArgv: [] };
  return { url: new URL('./worker.ts', import.meta.url) };
}

export class WorkerPool {
  private readonly members: Member[] = [];
  private version = 0;
  private pending: DatabaseChange[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  private waiters: AckWaiter[] = [];
  private closing = false;
  private countRequests = 0;
  private shareIds = 0;
  private readonly countWaits = new Map<number, { readonly remaining: Set<number>; readonly done: () => void }>();
  /** Counters of worker threads that died (their last report). */
  private readonly retired: Array<{ readonly worker: number; readonly counts: WorkerCounts }> = [];
  restarts = 0;

  /**
   * A pool without threads yet. It takes `publish` at once: the main socket answers before the
   * threads are up, and every change from a thread's snapshot on is queued on its port, so a
   * registration taken while the threads start reaches them too.
   */
  constructor(
    private readonly setup: PoolSetup,
    private readonly hooks: PoolHooks,
    private readonly log: Logger,
  ) {}

  /** Starts `threads` workers and resolves once each is bound; rejects (and stops them) if one fails. */
  async start(threads: number): Promise<void> {
    try {
      await Promise.all(Array.from({ length: threads }, (_, i) => this.spawn(i + 1)));
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  get size(): number {
    return this.members.length;
  }

  private spawn(index: number, previous?: Member): Promise<void> {
    // Changes not yet posted are in the snapshot: post them to the others first, so the new
    // worker's version says exactly what it holds.
    this.flush(false);
    const setupData: WorkerSetup = { ...this.setup, index, snapshot: this.hooks.snapshot(), version: this.version };
    // Anything already queued for the old worker is in this snapshot: start after it.
    const entry = workerEntry();
    const thread = new Worker(entry.url, { workerData: setupData, name: `livmap-worker-${index}`, ...(entry.execArgv ? { execArgv: entry.execArgv } : {}) });
    const member: Member = previous ?? { index, thread, acked: this.version, ready: false, alive: true, fenced: false, lastCounts: undefined, restarts: 0, startedAt: Date.now(), shares: new Map() };
    member.thread = thread;
    member.acked = this.version;
    member.ready = false;
    member.alive = true;
    member.fenced = false;
    member.startedAt = Date.now();
    if (!previous) this.members.push(member);
    return new Promise<void>((resolve, reject) => {
      let started = false;
      thread.on('message', (message: FromWorker) => {
        if (message.kind === 'ready') {
          member.ready = true;
          started = true;
          resolve();
          return;
        }
        this.onMessage(member, message);
      });
      thread.on('error', (err) => {
        if (!started) {
          reject(new Error(`worker ${index} failed to start: ${err.message}`));
          return;
        }
        this.log.error({ worker: index, err: err.stack ?? err.message }, 'worker thread crashed');
      });
      thread.on('exit', (code) => {
        if (thread !== member.thread) return;
        member.ready = false;
        member.alive = false;
        if (this.closing) return;
        if (!started) {
          // Its acks will not come: writes waiting for them go on (a failed restart stays down).
          member.acked = Number.POSITIVE_INFINITY;
          this.checkWaiters();
          reject(new Error(`worker ${index} exited (code ${code}) before it was ready`));
          return;
        }
        this.restart(member, code);
      });
    });
  }

  private restart(member: Member, code: number): void {
    this.restarts++;
    this.sendSharesOf(member);
    if (member.lastCounts) this.retired.push({ worker: member.index, counts: member.lastCounts });
    member.lastCounts = undefined;
    // Its acks will not come: the waiters need only the others (the new worker starts current).
    member.acked = Number.POSITIVE_INFINITY;
    this.checkWaiters();
    // A fenced worker did not crash: it starts again at once, from a snapshot that holds the write.
    const quickly = !member.fenced && Date.now() - member.startedAt < 1000;
    member.restarts = quickly ? member.restarts + 1 : 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, member.restarts === 0 ? 0 : 100 * 2 ** member.restarts);
    if (member.fenced) this.log.warn({ worker: member.index }, 'fenced worker stopped; starting it again');
    else this.log.error({ worker: member.index, code, restartInMs: delay }, 'worker thread exited; its share of the traffic goes to the other sockets until it is back');
    setTimeout(() => {
      if (this.closing) return;
      this.spawn(member.index, member).catch((err: unknown) => {
        this.log.error({ worker: member.index, err: err instanceof Error ? err.message : String(err) }, 'worker restart failed');
      });
    }, delay).unref();
  }

  private onMessage(member: Member, message: FromWorker): void {
    switch (message.kind) {
      case 'ready':
        return;
      case 'ack':
        member.acked = Math.max(member.acked, message.version);
        this.checkWaiters();
        return;
      case 'answered':
        this.hooks.answered(message.requesters);
        return;
      case 'sent': {
        const share = member.shares.get(message.id);
        member.shares.delete(message.id);
        // Its socket was closing: the main thread's is not (or the server is closing too).
        if (share && !message.sent && !this.closing) sendLocally(share);
        return;
      }
      case 'datagram':
        this.hooks.datagram(asBuffer(message.bytes), message.from);
        return;
      case 'smr-invoked':
        this.hooks.smrInvoked(asBuffer(message.bytes), message.from);
        return;
      case 'counts': {
        member.lastCounts = message.counts;
        const wait = this.countWaits.get(message.id);
        if (wait) {
          wait.remaining.delete(member.index);
          if (wait.remaining.size === 0) wait.done();
        }
        return;
      }
      case 'log':
        this.log[message.level]({ worker: member.index, ...message.detail }, message.message);
        return;
    }
  }

  /**
   * Sends the changes the main thread just applied to every worker. With `ack`, resolves once
   * every live worker holds them (or after ACK_TIMEOUT_MS); without, returns nothing.
   */
  publish(changes: readonly DatabaseChange[], ack: boolean): Promise<void> | undefined {
    for (const change of changes) if (replicated(change)) this.pending.push(change);
    if (!ack) {
      if (this.pending.length && this.flushScheduled === undefined) this.flushScheduled = setImmediate(() => this.flush(false));
      return undefined;
    }
    const version = this.flush(true);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.ackTimedOut(version), ACK_TIMEOUT_MS);
      this.waiters.push({ version, resolve, timer });
      this.checkWaiters();
    });
  }

  private flush(ack: boolean): number {
    if (this.flushScheduled !== undefined) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    if (this.pending.length === 0 && !ack) return this.version;
    const message: ToWorker = { kind: 'changes', version: ++this.version, changes: this.pending, ack };
    this.pending = [];
    for (const member of this.members) if (member.alive) member.thread.postMessage(message);
    return this.version;
  }

  private checkWaiters(): void {
    if (this.waiters.length === 0) return;
    const held = Math.min(...this.members.map((m) => m.acked));
    while (this.waiters.length && this.waiters[0]!.version <= held) {
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  /**
   * Rule 3's fence: the workers that have not acked `version` are terminated, which closes their
   * sockets, so none of them answers with an older binding; their exit (restart) releases the
   * waiters. A thread that does not even exit is given up on after FENCE_EXIT_TIMEOUT_MS.
   */
  private ackTimedOut(version: number): void {
    const now = Date.now();
    const overdue = this.members.filter((m) => m.alive && !m.fenced && m.acked < version);
    // A thread still starting applies its queue once it runs: it is given START_GRACE_MS.
    const starting = overdue.some((m) => !m.ready && now - m.startedAt < START_GRACE_MS);
    if (starting) setTimeout(() => this.ackTimedOut(version), ACK_TIMEOUT_MS).unref();
    const late = overdue.filter((m) => m.ready || now - m.startedAt >= START_GRACE_MS);
    if (late.length === 0) return this.checkWaiters();
    this.log.warn({ version, workers: late.map((m) => m.index), waitedMs: ACK_TIMEOUT_MS }, 'workers did not ack a change in time: stopping them (their sockets close, so none answers with the old binding) and starting them again from a fresh snapshot');
    for (const member of late) {
      member.ready = false;
      member.fenced = true;
      void member.thread.terminate();
    }
    setTimeout(() => {
      const stuck = late.filter((m) => m.acked < version);
      if (stuck.length === 0) return;
      this.log.error({ version, workers: stuck.map((m) => m.index) }, 'fenced workers did not exit: going on without them (they may answer with the old binding)');
      for (const member of stuck) member.acked = Number.POSITIVE_INFINITY;
      this.checkWaiters();
    }, FENCE_EXIT_TIMEOUT_MS).unref();
  }

  /**
   * Sends `datagrams` (a chunk of a big reliable batch) from every live worker's socket and this
   * thread's (`local`), each datagram once: the workers' shares are posted first, so they send
   * while this thread sends its own and builds the next chunk.
   */
  spread(datagrams: readonly Datagram[], local: LocalSend): void {
    const senders = this.closing ? [] : this.members.filter((m) => m.alive && m.ready);
    const own = mainThreadShare(datagrams.length, senders.length, MAIN_THREAD_WEIGHT);
    let from = own;
    for (let i = 0; i < senders.length; i++) {
      const to = own + Math.round(((datagrams.length - own) * (i + 1)) / senders.length);
      if (to === from) continue;
      const member = senders[i]!;
      const share: Share = { datagrams: datagrams.slice(from, to), local };
      from = to;
      const id = ++this.shareIds;
      member.shares.set(id, share);
      const packed = packDatagrams(share.datagrams);
      member.thread.postMessage({ kind: 'send', id, datagrams: packed } satisfies ToWorker, [packed.buffer]);
    }
    for (let i = 0; i < own; i++) local(datagrams[i]!.to, datagrams[i]!.bytes);
  }

  /** A worker's unanswered shares, sent from this thread (it died, or may never answer). */
  private sendSharesOf(member: Member): void {
    for (const share of member.shares.values()) sendLocally(share);
    member.shares.clear();
  }

  /** Every worker thread's counters (index 1..N-1), asked now; those that do not answer in time give their last. */
  async counts(): Promise<Array<{ readonly index: number; readonly counts: WorkerCounts | undefined }>> {
    const id = ++this.countRequests;
    const asked = this.members.filter((m) => m.ready);
    if (asked.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, COUNTS_TIMEOUT_MS);
        const remaining = new Set(asked.map((m) => m.index));
        const self = this;
        function finish(): void {
          clearTimeout(timer);
          self.countWaits.delete(id);
          resolve();
        }
        this.countWaits.set(id, { remaining, done: finish });
        for (const member of asked) member.thread.postMessage({ kind: 'counts', id } satisfies ToWorker);
      });
    }
    return this.members.map((m) => ({ index: m.index, counts: m.lastCounts }));
  }

  /** Blocks worker `index` for `ms` (tests: a worker late to ack). */
  stall(index: number, ms: number): void {
    this.members.find((m) => m.index === index)?.thread.postMessage({ kind: 'stall', ms } satisfies ToWorker);
  }

  /** Counters of worker threads that died and were replaced. */
  retiredCounts(): ReadonlyArray<{ readonly worker: number; readonly counts: WorkerCounts }> {
    return this.retired;
  }

  /** Closes every worker's socket (after reporting what it answered) and ends the threads. */
  async close(): Promise<void> {
    this.closing = true;
    this.flush(false);
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.waiters = [];
    await Promise.all(this.members.filter((m) => m.alive).map(async (member) => {
      const exited = new Promise<void>((resolve) => member.thread.once('exit', () => resolve()));
      member.thread.postMessage({ kind: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void member.thread.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    }));
  }
}

function sendLocally(share: Share): void {
  for (const d of share.datagrams) share.local(d.to, d.bytes);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

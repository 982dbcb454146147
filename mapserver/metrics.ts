// Prometheus metrics of one server instance (its own registry, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, type DropReason, type ReplyKind } from './control/types.js';
import type { WorkerCounts } from './workers/protocol.js';
import { MESSAGE_TYPE_NUMBER } from './codec/message.js';
import type { LispMessage } from './codec/types.js';

/** Worker threads' counters (mapserver/workers/), by worker index (1..N-1; a restarted worker may appear twice). */
export type OtherWorkers = () => Promise<ReadonlyArray<{ readonly worker: number; readonly counts: WorkerCounts }>>;

/** Every message type the codec knows: a new one is counted without an edit here. */
export const MESSAGE_TYPES = Object.keys(MESSAGE_TYPE_NUMBER) as readonly LispMessage['type'][];
export type MessageTypeLabel = LispMessage['type'];

type DropLabel = DropReason | 'internal' | 'filtered' | 'send-error';

/** Zeroed counts for every label value, so each series exists from the start. */
function zeroes<L extends string>(labels: readonly L[]): Record<L, number> {
  return Object.fromEntries(labels.map((l) => [l, 0])) as Record<L, number>;
}

/** A counter kept as a plain number (or read from elsewhere) and copied into prom-client when scraped. */
function plainCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export class ServerMetrics {
  readonly registry = new Registry();
  // The per-datagram counters are plain numbers, copied into prom-client when scraped: a
  // labelled prom-client increment costs more than resolving the Map-Request it counts.
  private readonly received = zeroes(MESSAGE_TYPES);
  /** Every datagram read from a socket, before decoding (an ECM and its Map-Request are one). */
  private datagrams = 0;
  private readonly dropped = zeroes<DropLabel>([...DROP_REASONS, 'internal', 'filtered', 'send-error']);
  private readonly replies = zeroes<ReplyKind>(['positive', 'negative', 'forwarded']);
  /** Records of authenticated Map-Registers refused one by one. */
  private readonly refusedRecords = zeroes<DropReason>(DROP_REASONS);
  /** Map-Registers refused for authentication, by the site their first record falls in (GET /sites shows them). */
  private readonly authFailuresBySite: Record<string, number> = Object.create(null) as Record<string, number>;
  /** Map-Request lookups are timed one in LOOKUP_SAMPLE (timing each costs two clock reads). */
  static readonly LOOKUP_SAMPLE = 16;
  private lookupsUntilSample = 0;
  /** A move sends an SMR to every ITR that asked: a plain number too, counted in the fan-out loop. */
  private smrsSent = 0;
  readonly notifiesSent: Counter;
  readonly lookupSeconds: Histogram;
  readonly moves: Counter;
  readonly smrInvokedReceived: Counter;
  readonly moveFanoutSeconds: Histogram;
  /** Refreshes of a prefix another ETR claimed since (a site whose config still lists a VM that left). */
  readonly staleClaims: Counter;
  /** Registrations whose ETR's register burst stopped listing them. */
  readonly leftRegistrations: Counter;

  constructor(liveRegistrations: () => number, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const metrics = this;
    // `others` adds the worker threads' counts of the same series (with workers, see addWorkers).
    const exported = (name: string, help: string, label: string, counts: Record<string, number>, others?: (c: WorkerCounts) => Readonly<Record<string, number | undefined>>): Counter =>
      new Counter({
        name, help, labelNames: [label], registers,
        collect() {
          const fill = (extra: ReadonlyArray<Readonly<Record<string, number | undefined>>>): void => {
            this.reset();
            for (const [value, count] of Object.entries(counts)) this.inc({ [label]: value }, count + extra.reduce((sum, e) => sum + (e[value] ?? 0), 0));
          };
          if (!others || !metrics.others) return fill([]);
          return metrics.otherCounts().then((list) => fill(list.map(({ counts: c }) => others(c))));
        },
      });
    const plain = (name: string, help: string, read: () => number): Counter => plainCounter(this.registry, name, help, read);
    new Counter({
      name: 'livmap_datagrams_received_total', help: 'UDP datagrams read from the sockets (well-formed or not)', registers,
      collect() {
        const fill = (others: number): void => {
          this.reset();
          this.inc(metrics.datagrams + others);
        };
        if (!metrics.others) return fill(0);
        return metrics.otherCounts().then((list) => fill(list.reduce((sum, { counts: c }) => sum + c.datagrams, 0)));
      },
    });
    exported('livmap_messages_received_total', 'LISP control messages received, by type (an ECM counts as ecm and as its inner message)', 'type', this.received, (c) => c.received);
    exported('livmap_messages_dropped_total', 'Datagrams dropped, by reason', 'reason', this.dropped, (c) => c.dropped);
    exported('livmap_map_replies_total', 'Map-Request outcomes: positive or negative Map-Reply, or forwarded to the ETR', 'kind', this.replies, (c) => c.replies);
    this.notifiesSent = new Counter({ name: 'livmap_map_notifies_sent_total', help: 'Map-Notify messages sent', registers });
    this.lookupSeconds = new Histogram({
      name: 'livmap_lookup_seconds',
      help: `Time to resolve one Map-Request in the mapping database (one request in ${ServerMetrics.LOOKUP_SAMPLE} is timed)`,
      buckets: [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2],
      registers,
    });
    this.moves = new Counter({ name: 'livmap_moves_total', help: 'Binding changes that moved an EID (registration, API move, expiry)', registers });
    plain('livmap_smrs_sent_total', 'SMRs sent, retransmissions included', () => this.smrsSent);
    this.smrInvokedReceived = new Counter({ name: 'livmap_smr_invoked_requests_total', help: 'SMR-invoked Map-Requests received', registers });
    this.moveFanoutSeconds = new Histogram({
      name: 'livmap_move_fanout_seconds',
      help: 'Time from a binding change to the last SMR / Map-Notify handed to the socket',
      buckets: [1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5],
      registers,
    });
    exported('livmap_register_auth_failures_total', 'Map-Registers refused for authentication (no or a wrong HMAC), by site', 'site', this.authFailuresBySite);
    exported('livmap_records_refused_total', 'Records of authenticated Map-Registers refused one by one, by reason', 'reason', this.refusedRecords);
    this.staleClaims = new Counter({
      name: 'livmap_stale_claims_total', registers, labelNames: ['eid', 'claimant', 'holder'],
      help: 'Map-Registers refreshing a prefix that another ETR claimed since (not answered with a Map-Notify), by prefix and both ETRs',
    });
    this.leftRegistrations = new Counter({ name: 'livmap_registrations_left_total', help: 'Registrations whose ETR stopped listing the prefix in its register burst', registers });
    new Gauge({ name: 'livmap_registrations_live', help: 'Live registrations', registers, collect() { this.set(liveRegistrations()); } });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'livmap_' });
  }

  private others: OtherWorkers | undefined;
  private othersScrape: ReturnType<OtherWorkers> | undefined;

  /** The worker threads' counters, asked once per scrape (the series of one scrape share the answer). */
  private otherCounts(): ReturnType<OtherWorkers> {
    if (!this.others) return Promise.resolve([]);
    if (!this.othersScrape) {
      this.othersScrape = this.others();
      const clear = (): void => void setImmediate(() => { this.othersScrape = undefined; });
      this.othersScrape.then(clear, clear);
    }
    return this.othersScrape;
  }

  /**
   * With worker threads (mapserver/workers/): the per-datagram series add their counts, and
   * livmap_worker_map_requests_total shows how the kernel spread the Map-Requests (worker 0 is
   * the main thread).
   */
  addWorkers(read: OtherWorkers): void {
    this.others = read;
    const metrics = this;
    new Counter({
      name: 'livmap_worker_map_requests_total', help: 'Map-Requests received, by worker thread (0 = the main thread)', labelNames: ['worker'], registers: [this.registry],
      async collect() {
        const list = await metrics.otherCounts();
        this.reset();
        this.inc({ worker: '0' }, metrics.received['map-request']);
        for (const { worker, counts } of list) this.inc({ worker: String(worker) }, counts.received['map-request']);
      },
    });
  }

  /**
   * Exports the kernel's count of datagrams dropped because the sockets' receive buffers were
   * full (a flood the server could not keep up with), where the kernel reports one.
   */
  watchReceiveBufferDrops(read: () => number | undefined): void {
    if (read() === undefined || this.registry.getSingleMetric('livmap_udp_receive_buffer_drops_total')) return;
    plainCounter(this.registry, 'livmap_udp_receive_buffer_drops_total',
      'Datagrams the kernel dropped before livmap read them (receive buffer full), from /proc/net/udp', () => read() ?? 0);
  }

  countSmrSent(): void {
    this.smrsSent++;
  }

  countDatagram(): void {
    this.datagrams++;
  }

  countReceived(type: MessageTypeLabel): void {
    this.received[type]++;
  }

  countDropped(reason: DropLabel): void {
    this.dropped[reason]++;
  }

  countRefusedRecord(reason: DropReason): void {
    this.refusedRecords[reason]++;
  }

  countAuthFailure(site: string): void {
    this.authFailuresBySite[site] = (this.authFailuresBySite[site] ?? 0) + 1;
  }

  /** Map-Registers for `site` refused for authentication since the server started. */
  authFailures(site: string): number {
    return this.authFailuresBySite[site] ?? 0;
  }

  countReply(kind: ReplyKind): void {
    this.replies[kind]++;
  }

  /** Whether to time this Map-Request's lookup (true once every LOOKUP_SAMPLE calls). */
  sampleLookup(): boolean {
    if (this.lookupsUntilSample-- > 0) return false;
    this.lookupsUntilSample = ServerMetrics.LOOKUP_SAMPLE - 1;
    return true;
  }

  /** Current value of a counter series, for tests and the API. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return 0;
    const data = await metric.get();
    const match = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return match?.value ?? 0;
  }
}

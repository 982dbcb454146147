// Prometheus metrics of one server instance (its own registry, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, type DropReason, type ReplyKind } from './control/types.js';

export const MESSAGE_TYPES = ['map-request', 'map-reply', 'map-register', 'map-notify', 'map-notify-ack', 'ecm'] as const;
export type MessageTypeLabel = (typeof MESSAGE_TYPES)[number];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly received: Record<MessageTypeLabel, Counter.Internal>;
  private readonly dropped: Record<DropReason | 'internal' | 'filtered' | 'send-error', Counter.Internal>;
  private readonly replies: Record<ReplyKind, Counter.Internal>;
  readonly notifiesSent: Counter;
  readonly lookupSeconds: Histogram;
  readonly moves: Counter;
  readonly smrsSent: Counter;
  readonly smrInvokedReceived: Counter;
  readonly moveFanoutSeconds: Histogram;

  constructor(liveRegistrations: () => number, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const receivedCounter = new Counter({ name: 'livmap_messages_received_total', help: 'LISP control messages received, by type', labelNames: ['type'], registers });
    const droppedCounter = new Counter({ name: 'livmap_messages_dropped_total', help: 'Datagrams dropped, by reason', labelNames: ['reason'], registers });
    const repliesCounter = new Counter({ name: 'livmap_map_replies_total', help: 'Map-Request outcomes: positive or negative Map-Reply, or forwarded to the ETR', labelNames: ['kind'], registers });
    this.notifiesSent = new Counter({ name: 'livmap_map_notifies_sent_total', help: 'Map-Notify messages sent', registers });
    this.lookupSeconds = new Histogram({
      name: 'livmap_lookup_seconds',
      help: 'Time to resolve one Map-Request in the mapping database',
      buckets: [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2],
      registers,
    });
    this.moves = new Counter({ name: 'livmap_moves_total', help: 'Binding changes that moved an EID (registration, API move, expiry)', registers });
    this.smrsSent = new Counter({ name: 'livmap_smrs_sent_total', help: 'SMRs sent, retransmissions included', registers });
    this.smrInvokedReceived = new Counter({ name: 'livmap_smr_invoked_requests_total', help: 'SMR-invoked Map-Requests received', registers });
    this.moveFanoutSeconds = new Histogram({
      name: 'livmap_move_fanout_seconds',
      help: 'Time from a durable binding change to the last SMR / Map-Notify handed to the socket',
      buckets: [1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5],
      registers,
    });
    new Gauge({ name: 'livmap_registrations_live', help: 'Live registrations', registers, collect() { this.set(liveRegistrations()); } });
    // Pre-bound children: the hot path increments without label hashing.
    this.received = Object.fromEntries(MESSAGE_TYPES.map((t) => [t, receivedCounter.labels(t)])) as Record<MessageTypeLabel, Counter.Internal>;
    this.dropped = Object.fromEntries([...DROP_REASONS, 'internal', 'filtered', 'send-error'].map((r) => [r, droppedCounter.labels(r)])) as Record<DropReason | 'internal' | 'filtered' | 'send-error', Counter.Internal>;
    this.replies = Object.fromEntries(['positive', 'negative', 'forwarded'].map((k) => [k, repliesCounter.labels(k)])) as Record<ReplyKind, Counter.Internal>;
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'livmap_' });
  }

  countReceived(type: MessageTypeLabel): void {
    this.received[type].inc();
  }

  countDropped(reason: DropReason | 'internal' | 'filtered' | 'send-error'): void {
    this.dropped[reason].inc();
  }

  countReply(kind: ReplyKind): void {
    this.replies[kind].inc();
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

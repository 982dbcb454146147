// The API's memory of the server's events: each gets a monotonic id; a bounded ring keeps the
// recent ones for /events/history and for SSE clients that resume with Last-Event-ID.
import type { EventEmitter } from 'node:events';
import type { ServerEvent } from '../control/types.js';
import { formatEidPrefix } from '../codec/prefix.js';
import { formatAddress } from '../codec/text.js';
import type { ServerEvents } from '../compose/server.js';
import { endpointText } from './format.js';

export interface LoggedEvent {
  readonly id: number;
  /** Epoch ms on the server's clock. */
  readonly at: number;
  readonly event: ServerEvent;
}

export type EventType = ServerEvent['type'];
export const EVENT_TYPES: readonly EventType[] = ['registered', 'withdrawn', 'expired', 'refused', 'contested', 'left', 'moved'];

export const HISTORY_CAPACITY = 10_000;

/** Event data as the API sends it: the event, its id and time, text EIDs and endpoints. */
export function eventJson({ id, at, event }: LoggedEvent): Record<string, unknown> {
  const when = new Date(at).toISOString();
  if (event.type === 'refused') {
    return { type: event.type, id, at: when, from: endpointText(event.from), reason: event.reason, detail: event.detail };
  }
  if (event.type === 'registered') {
    const { type, site, etrId, locators, refresh } = event;
    return { type, site, eid: formatEidPrefix(event.eid), etrId, rlocs: locators.map((l) => formatAddress(l.rloc)), refresh, id, at: when };
  }
  return { ...event, id, at: when, eid: formatEidPrefix(event.eid) };
}

export class EventLog {
  /** Ring of kept events; `next` is where the next one goes. */
  private readonly ring: Array<LoggedEvent | undefined>;
  private next = 0;
  private kept = 0;
  /** The newest id handed out (ids start at 1). */
  lastId = 0;
  private readonly listeners = new Set<(logged: LoggedEvent) => void>();
  private readonly onEvent = (event: ServerEvent): void => this.record(event);

  constructor(private readonly source: EventEmitter<ServerEvents>, private readonly now: () => number, readonly capacity = HISTORY_CAPACITY) {
    this.ring = new Array<LoggedEvent | undefined>(capacity);
    source.on('event', this.onEvent);
  }

  private record(event: ServerEvent): void {
    // Refreshes (one per xTR, prefix and minute: most events) would push everything else out of
    // the ring: they go to live streams only, and cost only their id when nobody streams.
    const refresh = event.type === 'registered' && event.refresh;
    if (refresh && this.listeners.size === 0) {
      this.lastId++;
      return;
    }
    const logged: LoggedEvent = { id: ++this.lastId, at: this.now(), event };
    if (!refresh) {
      this.ring[this.next] = logged;
      this.next = (this.next + 1) % this.capacity;
      if (this.kept < this.capacity) this.kept++;
    }
    for (const listener of this.listeners) listener(logged);
  }

  /** Kept events, oldest first. */
  private *keptEvents(): Iterable<LoggedEvent> {
    const first = (this.next - this.kept + this.capacity) % this.capacity;
    for (let i = 0; i < this.kept; i++) yield this.ring[(first + i) % this.capacity]!;
  }

  /** The id of the oldest kept event (lastId + 1 when none is kept). */
  get oldestId(): number {
    if (this.kept === 0) return this.lastId + 1;
    return this.ring[(this.next - this.kept + this.capacity) % this.capacity]!.id;
  }

  /**
   * Kept events after `after` (oldest first, at most `limit`); an `after` beyond the newest id
   * comes from before a restart: everything kept is after it.
   */
  after(after: number, limit = Infinity, types?: ReadonlySet<EventType>): LoggedEvent[] {
    const from = after > this.lastId ? 0 : after;
    const out: LoggedEvent[] = [];
    for (const logged of this.keptEvents()) {
      if (out.length >= limit) break;
      if (logged.id > from && (!types || types.has(logged.event.type))) out.push(logged);
    }
    return out;
  }

  /** The newest `limit` kept events, oldest first. */
  latest(limit: number, types?: ReadonlySet<EventType>): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    for (const logged of [...this.keptEvents()].reverse()) {
      if (out.length >= limit) break;
      if (!types || types.has(logged.event.type)) out.push(logged);
    }
    return out.reverse();
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe function. */
  subscribe(listener: (logged: LoggedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.source.off('event', this.onEvent);
    this.listeners.clear();
  }
}

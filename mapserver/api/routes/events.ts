// /api/v1/events: server-sent events of registrations, expiries, refusals and moves, each with an
// id; a client that reconnects with Last-Event-ID (or ?after=N) gets what it missed first.
// /api/v1/events/history: the same kept events as JSON.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { EVENT_TYPES, eventJson, type EventType, type LoggedEvent } from '../event-log.js';
import { errorAnswer } from '../openapi.js';
import type { ApiContext } from '../app.js';

/** The open event streams, ended all at once when the API closes. */
export class OpenStreams {
  private readonly open = new Set<() => void>();

  add(end: () => void): () => void {
    this.open.add(end);
    return () => this.open.delete(end);
  }

  get size(): number {
    return this.open.size;
  }

  endAll(): void {
    for (const end of [...this.open]) end();
  }
}

/** A client this far behind (bytes not yet sent) is cut off; it resumes with Last-Event-ID. */
export const STREAM_BACKLOG_LIMIT = 8 << 20;

const EventId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const StreamQuery = Type.Object({
  after: Type.Optional({ ...EventId, description: 'replay the kept events after this id first (as the Last-Event-ID header)' }),
}, { additionalProperties: false });
type StreamQuery = Static<typeof StreamQuery>;

const EventTypeSchema = Type.Union(EVENT_TYPES.map((type) => Type.Literal(type)));
const HistoryQuery = Type.Object({
  after: Type.Optional({ ...EventId, description: 'the oldest kept events after this id; without it, the newest' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100 })),
  type: Type.Optional(Type.Array(EventTypeSchema, { description: 'only these event types (repeat the parameter for several)' })),
}, { additionalProperties: false });
type HistoryQuery = Static<typeof HistoryQuery>;

const EventJson = Type.Object({
  type: EventTypeSchema,
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
}, { additionalProperties: true, description: 'the event\'s own fields follow (site, eid, etrId, rlocs, from, to, smrs, notifies, fanoutMs, reason, detail, ...)' });

function frame(logged: LoggedEvent): string {
  return `id: ${logged.id}\nevent: ${logged.event.type}\ndata: ${JSON.stringify(eventJson(logged))}\n\n`;
}

export const eventsRoutes: FastifyPluginAsync<ApiContext> = async (app, { events, streams }) => {
  app.get<{ Querystring: StreamQuery }>('/events', {
    schema: {
      summary: 'Server-sent event stream (text/event-stream): every event has an id; Last-Event-ID or ?after=N replays the kept ones after N first',
      tags: ['events'],
      querystring: StreamQuery,
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'resume after this event id' })) }),
      response: { 200: Type.String({ description: 'text/event-stream: `id: N`, `event: TYPE`, `data: JSON` per event; comments keep it alive' }) },
    },
  }, (request, reply) => {
    const header = request.headers['last-event-id'];
    const resumeAfter = typeof header === 'string' ? Number(header) : request.query.after;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    raw.write(': livmap event stream\n\n');
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      cleanup();
      // Ending the response alone would leave a keep-alive connection for the server's close to wait on.
      raw.end(() => request.raw.socket.destroy());
    };
    const send = (logged: LoggedEvent): void => {
      if (ended) return;
      raw.write(frame(logged));
      if (raw.writableLength > STREAM_BACKLOG_LIMIT) end();
    };
    if (resumeAfter !== undefined) {
      const from = resumeAfter > events.lastId ? 0 : resumeAfter;
      if (from + 1 < events.oldestId) raw.write(`: history starts at id ${events.oldestId}; earlier events are no longer kept\n\n`);
      for (const logged of events.after(resumeAfter)) send(logged);
    }
    const unsubscribe = events.subscribe(send);
    // A comment every 15 s keeps proxies from closing an idle stream.
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    keepAlive.unref();
    const forget = streams.add(end);
    function cleanup(): void {
      clearInterval(keepAlive);
      unsubscribe();
      forget();
    }
    request.raw.on('close', () => {
      ended = true;
      cleanup();
    });
  });

  app.get<{ Querystring: HistoryQuery }>('/events/history', {
    schema: {
      summary: `Kept events (the last ${events.capacity}, registration refreshes excepted), oldest first`,
      tags: ['events'],
      querystring: HistoryQuery,
      response: {
        200: Type.Object({ events: Type.Array(EventJson), lastId: Type.Integer({ description: 'the newest event id so far (0: none yet); stream from it with ?after=' }) }),
        400: errorAnswer('after, limit or type is not valid'),
      },
    },
  }, async (request) => {
    const q = request.query;
    const types = q.type ? new Set<EventType>(q.type) : undefined;
    const limit = q.limit ?? 100;
    const kept = q.after !== undefined ? events.after(q.after, limit, types) : events.latest(limit, types);
    return { events: kept.map(eventJson), lastId: events.lastId };
  });
};

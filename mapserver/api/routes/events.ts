// /api/v1/events: server-sent events of registrations, expiries and refused registrations.
import type { FastifyPluginAsync } from 'fastify';
import type { ServerEvent } from '../../control/types.js';
import { formatEidPrefix } from '../../codec/prefix.js';
import type { ApiContext } from '../app.js';

export function eventJson(event: ServerEvent): Record<string, unknown> {
  const at = new Date().toISOString();
  if (event.type === 'refused') return { type: event.type, at, from: `${event.from.address}:${event.from.port}`, reason: event.reason, detail: event.detail };
  return { ...event, at, eid: formatEidPrefix(event.eid) };
}

export const eventsRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get('/events', {
    schema: { summary: 'Server-sent event stream (text/event-stream) of registrations, expiries and refusals', tags: ['events'] },
  }, (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': livmap event stream\n\n');
    const onEvent = (event: ServerEvent): void => {
      raw.write(`event: ${event.type}\ndata: ${JSON.stringify(eventJson(event))}\n\n`);
    };
    // A comment every 15 s keeps proxies from closing an idle stream.
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    keepAlive.unref();
    control.events.on('event', onEvent);
    request.raw.on('close', () => {
      clearInterval(keepAlive);
      control.events.off('event', onEvent);
    });
  });
};

// Open endpoints: /healthz for liveness probes, /metrics for Prometheus.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiContext } from '../app.js';

export const healthRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get('/healthz', {
    schema: {
      summary: 'Liveness', tags: ['operations'],
      response: { 200: Type.Object({ status: Type.Literal('ok'), sites: Type.Integer(), registrations: Type.Integer(), uptimeSeconds: Type.Number() }) },
    },
  }, async () => ({ status: 'ok' as const, sites: control.db.sites.size, registrations: control.db.liveRegistrations, uptimeSeconds: process.uptime() }));

  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format)', tags: ['operations'] } }, async (_request, reply) => {
    const text = await control.metrics.registry.metrics();
    return reply.type(control.metrics.registry.contentType).send(text);
  });
};

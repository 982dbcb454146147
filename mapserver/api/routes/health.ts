// Open endpoints: /healthz for liveness probes, /metrics for Prometheus, /version.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiContext } from '../app.js';

/** livmap's version, from the package.json above this module (sources or dist/). */
export function livmapVersion(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; ) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'livmap' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here (or not livmap's): keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

export const healthRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get('/healthz', {
    schema: {
      summary: 'Liveness', tags: ['operations'],
      response: { 200: Type.Object({ status: Type.Literal('ok'), sites: Type.Integer(), registrations: Type.Integer(), uptimeSeconds: Type.Number() }) },
    },
  }, async () => ({ status: 'ok' as const, sites: control.db.sites.size, registrations: control.db.liveRegistrations, uptimeSeconds: process.uptime() }));

  const version = livmapVersion();
  app.get('/version', {
    schema: { summary: 'livmap and Node.js versions', tags: ['operations'], response: { 200: Type.Object({ version: Type.String(), node: Type.String() }) } },
  }, async () => ({ version, node: process.version }));

  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format)', tags: ['operations'], response: { 200: Type.String({ description: 'Prometheus text exposition format' }) } } }, async (_request, reply) => {
    const text = await control.metrics.registry.metrics();
    return reply.type(control.metrics.registry.contentType).send(text);
  });
};

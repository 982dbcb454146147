// The live status page at `/`: static files from mapserver/web/, open like /docs; the data it
// shows come from /api/v1 with the token the operator types in once.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../app.js';

/** Finds mapserver/web/ by walking up from this module: works from the sources and from dist/. */
export function findWebDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; ) {
    const candidate = join(dir, 'mapserver', 'web');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`mapserver/web/index.html not found above ${start}`);
    dir = parent;
  }
}

const FILES: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export const webRoutes: FastifyPluginAsync<ApiContext> = async (app) => {
  const dir = findWebDir();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const body = await readFile(join(dir, file));
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body));
  }
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.status(204).send());
};

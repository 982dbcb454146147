// Bearer-token auth for /api/v1. The token comes from the config, LIVMAP_API_TOKEN, or is
// generated once and kept in the data directory (mode 0600) so it survives restarts.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

export interface ResolvedToken {
  readonly token: string;
  /** Where a generated token was stored; undefined when it came from config or environment. */
  readonly file?: string;
  /** True when this call generated the token and wrote the file (the first start). */
  readonly created?: boolean;
}

export async function resolveApiToken(configToken: string | undefined, dataDir: string, env = process.env): Promise<ResolvedToken> {
  if (configToken) return { token: configToken };
  if (env.LIVMAP_API_TOKEN) return { token: env.LIVMAP_API_TOKEN };
  const file = join(dataDir, 'api-token');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored) return { token: stored, file };
  } catch {
    // first start: generate below
  }
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, file, created: true };
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** A preHandler that refuses requests without `Authorization: Bearer <token>`. */
export function bearerAuth(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    // Compare digests so the comparison is constant-time whatever the lengths.
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      void reply.header('www-authenticate', 'Bearer realm="livmap"');
      throw new ApiError(401, header ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token> header');
    }
  };
}

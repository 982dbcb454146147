// GET /api/v1/sites/{name}/xtr-config: the OOR 1.3 config for an xTR of the site, from what the
// Map-Server holds (prefixes, key) plus what only the operator knows (Map-Server address, RLOC).
// Keys are write-only elsewhere in the API: the config carries a placeholder unless the caller
// asks for the key with ?includeKeys=true.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { formatBareEidPrefix } from '../../codec/prefix.js';
import { generate } from '../../../xtr-config/generate.js';
import { SpecError, resolveSpec } from '../../../xtr-config/spec.js';
import { xtrTarget } from '../../../xtr-config/targets/index.js';
import { ApiError } from '../errors.js';
import { errorAnswer } from '../openapi.js';
import type { ApiContext } from '../app.js';

export const KEY_PLACEHOLDER = 'REPLACE-WITH-THE-SITE-KEY';

const Query = Type.Object({
  ms: Type.String({ minLength: 2, maxLength: 64, description: 'Map-Server/Map-Resolver address the xTR uses (IP)' }),
  rloc: Type.Optional(Type.String({ minLength: 2, maxLength: 64, description: "the xTR's RLOC address" })),
  iface: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.@-]{1,15}$', description: "or the xTR's RLOC interface" })),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 1 })),
  weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 100 })),
  proxyReply: Type.Optional(Type.Boolean({ default: false, description: 'ask the Map-Server to answer for the site' })),
  ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 10, description: 'record TTL, minutes' })),
  includeKeys: Type.Optional(Type.Boolean({ default: false, description: `put the site's key in the config (otherwise: the placeholder ${KEY_PLACEHOLDER})` })),
}, { additionalProperties: false });
type Query = Static<typeof Query>;

export const xtrConfigRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get<{ Params: { name: string }; Querystring: Query }>('/sites/:name/xtr-config', {
    schema: {
      summary: "OOR 1.3 xTR config for the site (text). VMs that migrate are added by `livmap xtr-config`'s spec",
      tags: ['sites'],
      params: Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }) }),
      querystring: Query,
      response: {
        200: Type.String({ description: 'the OOR config (text/plain); the key is a placeholder unless includeKeys=true' }),
        404: errorAnswer('no such site'),
        409: errorAnswer('the site has no hmac-sha1 key (the only kind OOR 1.3 supports)'),
      },
    },
  }, async (request, reply) => {
    const site = control.db.sites.get(request.params.name);
    if (!site) throw new ApiError(404, `no site '${request.params.name}'`);
    const q = request.query;
    if ((q.rloc === undefined) === (q.iface === undefined)) throw new ApiError(400, 'give exactly one of querystring.rloc and querystring.iface', 'querystring');
    const key = site.keys.find((k) => xtrTarget('oor').keyProblem(k.alg) === undefined);
    if (!key) throw new ApiError(409, `site '${site.name}' has no hmac-sha1 key, and OOR 1.3 supports only HMAC-SHA-1 (key-type 1): add one`);
    const rloc = { ...(q.rloc !== undefined ? { address: q.rloc } : { interface: q.iface! }), priority: q.priority ?? 1, weight: q.weight ?? 100 };
    try {
      const spec = resolveSpec({
        mapServers: [q.ms],
        sites: [{
          name: site.name,
          eidPrefixes: site.prefixes.map((p) => ({ eid: formatBareEidPrefix(p.eid), iid: p.eid.iid })),
          key: { alg: key.alg, secret: q.includeKeys ? key.secret : KEY_PLACEHOLDER },
          proxyReply: q.proxyReply ?? false,
          ttl: q.ttl ?? 10,
          xtrs: [{ name: `${site.name}-xtr`, rlocs: [rloc] }],
        }],
      });
      const [file] = generate(spec).xtrFiles;
      const text = q.includeKeys ? file!.text
        : `# The site's key is not included: replace ${KEY_PLACEHOLDER} below with it, or ask for this\n# config with ?includeKeys=true (keys are otherwise write-only through the API).\n${file!.text}`;
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(text);
    } catch (err) {
      if (err instanceof SpecError) throw new ApiError(400, err.message.replace(/^sites\[0\]\.xtrs\[0\]\.rlocs\[0\]\./, 'querystring.').replace(/^mapServers\[0\]/, 'querystring.ms'));
      throw err;
    }
  });
};

// /api/v1/lookup: what the Map-Resolver would answer, and why.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { actionName, mappingToJson } from '../../json/convert.js';
import { MappingJson } from '../../json/schema.js';
import { formatBareEidPrefix, parseEidPrefix } from '../../codec/prefix.js';
import type { ApiContext } from '../app.js';
import { errorAnswer } from '../openapi.js';
import { siteHolding } from '../../authority/sites.js';

const LookupQuery = Type.Object({
  eid: Type.String({ minLength: 1, maxLength: 64, description: 'EID address (or prefix) to resolve' }),
  iid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, default: 0 })),
}, { additionalProperties: false });

const LookupReply = Type.Object({
  eid: Type.String(),
  iid: Type.Integer(),
  kind: Type.Union([Type.Literal('registered'), Type.Literal('static'), Type.Literal('negative')]),
  prefix: Type.String({ description: 'the EID prefix a Map-Reply would carry' }),
  ttl: Type.Integer({ description: 'minutes' }),
  action: Type.String(),
  rlocs: MappingJson.properties.rlocs,
  site: Type.Optional(Type.String({ description: 'registered: the site whose xTRs the EID is bound to now; negative: the site whose prefix covers it' })),
  registeredUnder: Type.Optional(Type.String({ description: 'registered: the site whose configured prefix the registration is filed under' })),
  proxyReply: Type.Optional(Type.Boolean({ description: 'registered: the Map-Server answers (true) or forwards to the ETR (false)' })),
  etr: Type.Optional(Type.String({ description: 'registered without proxy reply: where the Map-Request is forwarded' })),
  reason: Type.Optional(Type.String()),
});

export const lookupRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get<{ Querystring: { eid: string; iid?: number } }>('/lookup', {
    schema: { summary: 'What a Map-Request for this EID would get', tags: ['lookup'], querystring: LookupQuery, response: { 200: LookupReply, 400: errorAnswer('querystring.eid is not an EID address or prefix, or querystring.iid is out of range') } },
  }, async (request) => {
    const iid = request.query.iid ?? 0;
    // A bare address is its host prefix (parseEidPrefix).
    const eid = parseEidPrefix(request.query.eid, iid);
    const base = { eid: request.query.eid, iid };
    const resolution = control.db.resolve(eid, control.now());
    switch (resolution.kind) {
      case 'registered': {
        const { record } = resolution.binding;
        return {
          ...base, kind: 'registered' as const, prefix: formatBareEidPrefix(resolution.eid), ttl: record.ttl,
          action: actionName(record.action), rlocs: mappingToJson(record).rlocs,
          site: siteHolding(control.db, resolution.binding, control.now()) ?? resolution.site, registeredUnder: resolution.site,
          proxyReply: resolution.binding.proxyReply,
          ...(resolution.binding.proxyReply ? {} : { etr: resolution.binding.etr.address }),
        };
      }
      case 'static':
        return { ...base, kind: 'static' as const, prefix: formatBareEidPrefix(resolution.record.eid), ttl: resolution.record.ttl, action: actionName(resolution.record.action), rlocs: mappingToJson(resolution.record).rlocs };
      case 'negative':
        return {
          ...base, kind: 'negative' as const, prefix: formatBareEidPrefix(resolution.eid), ttl: resolution.ttl, action: actionName(resolution.action), rlocs: [],
          reason: resolution.reason, ...(resolution.site ? { site: resolution.site } : {}),
        };
    }
  });
};


// /api/v1/lookup and /api/v1/registrations: what the Map-Resolver would answer, and why.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { actionName, mappingToJson } from '../../json/convert.js';
import { MappingJson } from '../../json/schema.js';
import { formatEidPrefix, parseEidPrefix, FAMILY_BITS, requireFamily } from '../../codec/prefix.js';
import type { Registration } from '../../db/model.js';
import type { ApiContext } from '../app.js';
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

const RegistrationJson = Type.Object({
  site: Type.String(),
  eid: Type.String(),
  iid: Type.Integer(),
  etrId: Type.String(),
  source: Type.String({ description: 'address:port the Map-Register came from' }),
  xtrId: Type.Optional(Type.String()),
  siteId: Type.Optional(Type.String()),
  proxyReply: Type.Boolean(),
  merge: Type.Boolean(),
  ttl: Type.Integer(),
  rlocs: MappingJson.properties.rlocs,
  claimedAt: Type.String({ format: 'date-time', description: 'start of this ETR\'s current claim on the prefix' }),
  left: Type.Boolean({ description: 'the ETR\'s latest register burst no longer listed the prefix' }),
  lastRefreshed: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
});

function registrationJson(reg: Registration) {
  const mapping = mappingToJson(reg.record);
  return {
    site: reg.site,
    eid: formatEidPrefix({ ...reg.record.eid, iid: 0 }),
    iid: reg.record.eid.iid,
    etrId: reg.etrId,
    source: reg.source.address.includes(':') ? `[${reg.source.address}]:${reg.source.port}` : `${reg.source.address}:${reg.source.port}`,
    ...(reg.xtrId ? { xtrId: Buffer.from(reg.xtrId).toString('hex') } : {}),
    ...(reg.siteId ? { siteId: Buffer.from(reg.siteId).toString('hex') } : {}),
    proxyReply: reg.proxyReply,
    merge: reg.merge,
    ttl: reg.record.ttl,
    rlocs: mapping.rlocs,
    claimedAt: new Date(reg.claimedAt).toISOString(),
    left: reg.left === true,
    lastRefreshed: new Date(reg.lastRefreshed).toISOString(),
    expiresAt: new Date(reg.expiresAt).toISOString(),
  };
}

export const lookupRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get<{ Querystring: { eid: string; iid?: number } }>('/lookup', {
    schema: { summary: 'What a Map-Request for this EID would get', tags: ['lookup'], querystring: LookupQuery, response: { 200: LookupReply } },
  }, async (request) => {
    const iid = request.query.iid ?? 0;
    const parsed = parseEidPrefix(request.query.eid, iid);
    const eid = request.query.eid.includes('/') ? parsed : { ...parsed, length: FAMILY_BITS[requireFamily(parsed)] };
    const base = { eid: request.query.eid, iid };
    const resolution = control.db.resolve(eid, control.now());
    switch (resolution.kind) {
      case 'registered': {
        const { record } = resolution.binding;
        return {
          ...base, kind: 'registered' as const, prefix: formatEidPrefix({ ...resolution.eid, iid: 0 }), ttl: record.ttl,
          action: actionName(record.action), rlocs: mappingToJson(record).rlocs,
          site: siteHolding(control.db, resolution.binding, control.now()) ?? resolution.site, registeredUnder: resolution.site,
          proxyReply: resolution.binding.proxyReply,
          ...(resolution.binding.proxyReply ? {} : { etr: resolution.binding.etr.address }),
        };
      }
      case 'static':
        return { ...base, kind: 'static' as const, prefix: formatEidPrefix({ ...resolution.record.eid, iid: 0 }), ttl: resolution.record.ttl, action: actionName(resolution.record.action), rlocs: mappingToJson(resolution.record).rlocs };
      case 'negative':
        return {
          ...base, kind: 'negative' as const, prefix: formatEidPrefix({ ...resolution.eid, iid: 0 }), ttl: resolution.ttl, action: actionName(resolution.action), rlocs: [],
          reason: resolution.reason, ...(resolution.site ? { site: resolution.site } : {}),
        };
    }
  });

  app.get('/registrations', {
    schema: { summary: 'Live registrations', tags: ['registrations'], response: { 200: Type.Object({ registrations: Type.Array(RegistrationJson) }) } },
  }, async () => ({ registrations: [...control.db.registrations()].map(registrationJson) }));
};


// /api/v1/sites: the sites that may register, their keys (write-only) and EID prefixes, and
// their status: which xTRs register them, from where, when last, and refused authentications.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { checkSiteOverlaps, checkMappingOverlapsSite, siteFromJson, siteToPublicJson } from '../../json/convert.js';
import { SiteJson } from '../../json/schema.js';
import { uncoveredRegistrations } from '../../authority/sites.js';
import type { Site, StateChange } from '../../db/model.js';
import { ApiError } from '../errors.js';
import { errorAnswer } from '../openapi.js';
import type { ApiContext } from '../app.js';
import type { SiteXtrs } from '../xtrs.js';

const XtrJson = Type.Object({
  etrId: Type.String({ description: '`rloc:<address>`, or `xtr:<hex>` when it sends an xTR-ID' }),
  source: Type.String({ description: 'address:port its latest Map-Register came from' }),
  lastRegisteredAt: Type.String({ format: 'date-time' }),
  registrations: Type.Integer({ description: 'live registrations its register bursts still list' }),
  left: Type.Integer({ description: 'live registrations its register bursts stopped listing' }),
  state: Type.Union([Type.Literal('registered'), Type.Literal('left'), Type.Literal('expired')], {
    description: 'registered: lists at least one prefix; left: lists none of its live ones any more; expired: none live (remembered since start)',
  }),
});
const PublicSite = Type.Object({
  name: Type.String(),
  description: Type.Optional(Type.String()),
  keys: Type.Array(Type.Object({ alg: Type.String() }), { description: 'algorithms only: secrets are never returned' }),
  prefixes: Type.Array(Type.Object({ eid: Type.String(), iid: Type.Integer(), acceptMoreSpecifics: Type.Boolean(), moreSpecificTtl: Type.Optional(Type.Integer()) })),
  registrations: Type.Integer({ description: 'live registrations of the site (operator moves included)' }),
  authFailures: Type.Integer({ description: 'Map-Registers for the site\'s prefixes refused for authentication since the server started' }),
  xtrs: Type.Array(XtrJson, { description: 'the xTRs that register the site\'s prefixes (operator moves are not xTRs)' }),
});
const NameParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }) });

export const sitesRoutes: FastifyPluginAsync<ApiContext> = async (app, { control, xtrs }) => {
  const publicSite = (site: Site, status: ReadonlyMap<string, SiteXtrs>) => {
    const own = status.get(site.name);
    return { ...siteToPublicJson(site), registrations: own?.registrations ?? 0, authFailures: control.metrics.authFailures(site.name), xtrs: own?.xtrs ?? [] };
  };

  app.get('/sites', {
    schema: { summary: 'List sites with their status (xTRs, registrations, refused authentications)', tags: ['sites'], response: { 200: Type.Object({ sites: Type.Array(PublicSite) }) } },
  }, async () => {
    const status = xtrs.bySite();
    return { sites: [...control.db.sites.values()].map((site) => publicSite(site, status)) };
  });

  app.get<{ Params: { name: string } }>('/sites/:name', {
    schema: { summary: 'One site with its status', tags: ['sites'], params: NameParams, response: { 200: PublicSite, 404: errorAnswer('no such site') } },
  }, async (request) => {
    const site = control.db.sites.get(request.params.name);
    if (!site) throw new ApiError(404, `no site '${request.params.name}'`);
    return publicSite(site, xtrs.bySite());
  });

  app.put<{ Params: { name: string }; Body: SiteJson }>('/sites/:name', {
    schema: {
      summary: 'Create or replace a site (takes effect at once on UDP 4342, durable before the reply)',
      tags: ['sites'],
      params: NameParams,
      body: SiteJson,
      response: { 200: PublicSite, 201: PublicSite, 400: errorAnswer('not a valid site, or its prefixes overlap another site or a static mapping') },
    },
  }, async (request, reply) => {
    const { name } = request.params;
    if (request.body.name !== name) throw new ApiError(400, `body.name '${request.body.name}' does not match the URL's site '${name}'`, 'body.name');
    const site = siteFromJson(request.body, 'body');
    checkSiteOverlaps(site, control.db.sites.values(), 'body');
    for (const mapping of control.db.staticMappings()) checkMappingOverlapsSite(mapping, site, 'body');
    const existed = control.db.sites.has(name);
    // Registrations the new prefixes no longer cover lose their authorisation.
    const changes: StateChange[] = [{ kind: 'put-site', site }, ...uncoveredRegistrations(control.db.registrations(), name, site)];
    await control.applyChanges(changes);
    request.log.info({ site: name, created: !existed }, 'site stored');
    return reply.status(existed ? 200 : 201).send(publicSite(site, xtrs.bySite()));
  });

  app.delete<{ Params: { name: string } }>('/sites/:name', {
    schema: { summary: 'Delete a site and its registrations', tags: ['sites'], params: NameParams, response: { 204: Type.Null(), 404: errorAnswer('no such site') } },
  }, async (request, reply) => {
    const { name } = request.params;
    if (!control.db.sites.has(name)) throw new ApiError(404, `no site '${name}'`);
    const changes: StateChange[] = [{ kind: 'delete-site', name }, ...uncoveredRegistrations(control.db.registrations(), name, undefined)];
    await control.applyChanges(changes);
    return reply.status(204).send();
  });
};

// /api/v1/mappings: static mappings, identified by instance ID + EID prefix.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { checkMappingOverlapsSite, mappingFromJson, mappingToJson } from '../../json/convert.js';
import { MappingJson } from '../../json/schema.js';
import { parseEidPrefix } from '../../codec/prefix.js';
import { ApiError } from '../errors.js';
import { errorAnswer } from '../openapi.js';
import type { ApiContext } from '../app.js';

const Identify = Type.Object({
  eid: Type.String({ minLength: 1, maxLength: 64, description: 'EID prefix, e.g. 198.51.100.0/24' }),
  iid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, default: 0 })),
}, { additionalProperties: false });

export const mappingsRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get('/mappings', {
    schema: { summary: 'List static mappings', tags: ['mappings'], response: { 200: Type.Object({ mappings: Type.Array(MappingJson) }) } },
  }, async () => ({ mappings: [...control.db.staticMappings()].map(mappingToJson) }));

  app.put<{ Body: MappingJson }>('/mappings', {
    schema: {
      summary: 'Create or replace the static mapping of body.iid + body.eid',
      tags: ['mappings'],
      body: MappingJson,
      response: { 200: MappingJson, 201: MappingJson, 400: errorAnswer('not a valid mapping, or it overlaps a site\'s prefix') },
    },
  }, async (request, reply) => {
    const mapping = mappingFromJson(request.body, 'body');
    for (const site of control.db.sites.values()) checkMappingOverlapsSite(mapping, site, 'body');
    const existed = control.db.staticMapping(mapping.eid) !== undefined;
    await control.applyChanges([{ kind: 'put-mapping', mapping }]);
    return reply.status(existed ? 200 : 201).send(mappingToJson(mapping));
  });

  app.delete<{ Querystring: { eid: string; iid?: number } }>('/mappings', {
    schema: { summary: 'Delete the static mapping of iid + eid', tags: ['mappings'], querystring: Identify, response: { 204: Type.Null(), 404: errorAnswer('no static mapping of that prefix') } },
  }, async (request, reply) => {
    const eid = parseEidPrefix(request.query.eid, request.query.iid ?? 0);
    if (!control.db.staticMapping(eid)) throw new ApiError(404, `no static mapping for ${request.query.eid} in instance ${request.query.iid ?? 0}`);
    await control.applyChanges([{ kind: 'delete-mapping', eid }]);
    return reply.status(204).send();
  });
};

// /api/v1/registrations: the live registrations, filtered and paged, and the operator's `clear`
// (IOS-XE's `clear lisp site`) that drops some of them as an expiry would.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { EidPrefix } from '../../codec/types.js';
import { mappingToJson } from '../../json/convert.js';
import { MappingJson } from '../../json/schema.js';
import type { Registration } from '../../db/model.js';
import { containsPrefix, eidFamily, formatBareEidPrefix, formatEidPrefix, parseEidPrefix, prefixBytes, requireFamily, samePrefix } from '../../codec/prefix.js';
import { ApiError } from '../errors.js';
import { endpointText } from '../format.js';
import { errorAnswer } from '../openapi.js';
import type { ApiContext } from '../app.js';

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

export function registrationJson(reg: Registration) {
  const mapping = mappingToJson(reg.record);
  return {
    site: reg.site,
    eid: formatBareEidPrefix(reg.record.eid),
    iid: reg.record.eid.iid,
    etrId: reg.etrId,
    source: endpointText(reg.source),
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

const SITE_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const EidFilter = Type.String({ minLength: 1, maxLength: 64, description: 'an EID prefix (or address): registrations of it or inside it' });
const IidFilter = Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'instance ID (default 0 with eid; alone: every registration in that instance)' });
const EtrFilter = Type.String({ minLength: 1, maxLength: 80, description: 'ETR id as listed (rloc:ADDR, xtr:HEX) or the xTR\'s address' });

const ListQuery = Type.Object({
  site: Type.Optional(Type.String({ pattern: SITE_NAME, description: 'registrations filed under this site' })),
  eid: Type.Optional(EidFilter),
  iid: Type.Optional(IidFilter),
  etr: Type.Optional(EtrFilter),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'nextCursor of the previous page' })),
}, { additionalProperties: false });
type ListQuery = Static<typeof ListQuery>;

const ClearQuery = Type.Object({
  eid: Type.String({ minLength: 1, maxLength: 64, description: 'the registered EID prefix (an address means its host prefix)' }),
  iid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, default: 0 })),
  etr: Type.Optional(EtrFilter),
}, { additionalProperties: false });
type ClearQuery = Static<typeof ClearQuery>;

/** Where a registration sits in the listing order: family, instance, address bits, length, ETR id. */
interface Position {
  readonly family: number;
  readonly iid: number;
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly etrId: string;
}

const FAMILY_ORDER = ['ipv4', 'ipv6', 'mac'] as const;

function positionOf(eid: EidPrefix, etrId: string): Position {
  return { family: FAMILY_ORDER.indexOf(requireFamily(eid)), iid: eid.iid, bytes: prefixBytes(eid), length: eid.length, etrId };
}

function compare(a: Position, b: Position): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.iid !== b.iid) return a.iid - b.iid;
  const bytes = Buffer.compare(a.bytes, b.bytes);
  if (bytes !== 0) return bytes;
  if (a.length !== b.length) return a.length - b.length;
  return a.etrId < b.etrId ? -1 : a.etrId > b.etrId ? 1 : 0;
}

/** A cursor is the last listed item's position: stable whatever is added or removed meanwhile. */
function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.family, p.iid, Buffer.from(p.bytes).toString('hex'), p.length, p.etrId])).toString('base64url');
}

function decodeCursor(text: string): Position {
  const bad = (): never => {
    throw new ApiError(400, 'querystring.cursor: not a cursor this API gave (pass nextCursor back unchanged)', 'querystring.cursor');
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) return bad();
  const [family, iid, hex, length, etrId] = parsed as unknown[];
  if (typeof family !== 'number' || typeof iid !== 'number' || typeof hex !== 'string' || typeof length !== 'number' || typeof etrId !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(hex)) return bad();
  return { family, iid, bytes: Buffer.from(hex as string, 'hex'), length, etrId };
}

/** The ETR filter: an ETR id as listed, or an address (its `rloc:` id, or the source of its registers). */
function etrMatcher(etr: string | undefined): (reg: Registration) => boolean {
  if (etr === undefined) return () => true;
  return (reg) => reg.etrId === etr || reg.etrId === `rloc:${etr}` || reg.source.address === etr;
}


export const registrationsRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.get<{ Querystring: ListQuery }>('/registrations', {
    schema: {
      summary: 'Live registrations, filtered, in a stable order (family, instance, prefix, ETR), a page at a time',
      tags: ['registrations'],
      querystring: ListQuery,
      response: {
        200: Type.Object({
          registrations: Type.Array(RegistrationJson),
          total: Type.Integer({ description: 'registrations matching the filter, all pages' }),
          nextCursor: Type.Optional(Type.String({ description: 'pass as cursor for the next page; absent on the last page' })),
        }),
        400: errorAnswer('a filter is not valid (bad prefix, unknown site, bad cursor)'),
      },
    },
  }, async (request) => {
    const q = request.query;
    if (q.site !== undefined && !control.db.sites.has(q.site)) throw new ApiError(400, `querystring.site: no site '${q.site}'`, 'querystring.site');
    const within = q.eid !== undefined ? parseEidPrefix(q.eid, q.iid ?? 0) : undefined;
    const limit = q.limit ?? 100;
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    const etrMatches = etrMatcher(q.etr);
    const matches = (reg: Registration): boolean =>
      (q.site === undefined || reg.site === q.site) &&
      (within !== undefined ? containsPrefix(within, reg.record.eid) : q.iid === undefined || reg.record.eid.iid === q.iid) &&
      etrMatches(reg);

    const page: Registration[] = [];
    let last: Position | undefined;
    let total = 0;
    /** Matching items after the page: there is a next page when there are any. */
    let beyond = 0;
    let passedCursor = after === undefined;
    // The database lists prefixes in family, instance, address, length order; the ETRs of one
    // prefix come together and are put in id order here.
    const flush = (group: Registration[]): void => {
      if (group.length === 0) return;
      group.sort((a, b) => (a.etrId < b.etrId ? -1 : a.etrId > b.etrId ? 1 : 0));
      const prefixPosition = eidFamily(group[0]!.record.eid) ? positionOf(group[0]!.record.eid, '') : undefined;
      for (const reg of group) {
        total++;
        if (!passedCursor) {
          if (!prefixPosition || compare({ ...prefixPosition, etrId: reg.etrId }, after!) <= 0) continue;
          passedCursor = true;
        }
        if (page.length < limit) {
          page.push(reg);
          if (prefixPosition) last = { ...prefixPosition, etrId: reg.etrId };
        } else beyond++;
      }
    };
    let group: Registration[] = [];
    for (const reg of control.db.registrations()) {
      if (!matches(reg)) continue;
      if (group.length > 0 && !samePrefix(group[0]!.record.eid, reg.record.eid)) {
        flush(group);
        group = [];
      }
      group.push(reg);
    }
    flush(group);
    return {
      registrations: page.map(registrationJson),
      total,
      ...(last && beyond > 0 ? { nextCursor: encodeCursor(last) } : {}),
    };
  });

  app.delete<{ Querystring: ClearQuery }>('/registrations', {
    schema: {
      summary: 'Clear live registrations of one prefix (all, or one ETR\'s), as IOS-XE\'s `clear lisp site`: the binding changes as on an expiry (SMRs if it moved)',
      tags: ['registrations'],
      querystring: ClearQuery,
      response: {
        200: Type.Object({ removed: Type.Integer() }),
        404: errorAnswer('no live registration of that prefix (by that ETR)'),
      },
    },
  }, async (request) => {
    const q = request.query;
    const eid = parseEidPrefix(q.eid, q.iid ?? 0);
    const removed = await control.clearRegistrations(eid, etrMatcher(q.etr));
    if (removed === 0) throw new ApiError(404, `no live registration of ${formatEidPrefix(eid)}${q.etr !== undefined ? ` by ETR ${q.etr}` : ''}`);
    request.log.info({ eid: formatEidPrefix(eid), etr: q.etr, removed }, 'registrations cleared');
    return { removed };
  });
};

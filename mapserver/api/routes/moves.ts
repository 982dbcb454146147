// /api/v1/moves: the migration tool tells the Map-Server at switchover where a VM now lives.
// A move is a switchover hint (authority/ownership.ts): it takes effect at once, and holds until
// an xTR's registration confirms it (registers its locators) or supersedes it (claims the prefix
// after it), its lifetime ends (default: the registration lifetime), or DELETE withdraws it.
import { LISP_CONTROL_PORT } from '../../codec/ports.js';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Locator } from '../../codec/types.js';
import { formatAddress } from '../../codec/text.js';
import { mappingFromJson } from '../../json/convert.js';
import { RlocJson } from '../../json/schema.js';
import { formatBareEidPrefix, formatEidPrefix, parseEidPrefix, samePrefix } from '../../codec/prefix.js';
import type { Registration } from '../../db/model.js';
import { OPERATOR_MOVE_ETR_ID } from '../../authority/ownership.js';
import { siteHolding, siteLocators } from '../../authority/sites.js';
import { ApiError } from '../errors.js';
import { errorAnswer } from '../openapi.js';
import type { ApiContext } from '../app.js';

const MoveBody = Type.Object({
  eid: Type.String({ minLength: 1, maxLength: 64, description: 'the VM\'s EID (host address) or prefix' }),
  iid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, default: 0 })),
  site: Type.Optional(Type.String({ description: 'destination site: its live registrations give the RLOCs' })),
  rlocs: Type.Optional(Type.Array(RlocJson, { minItems: 1, maxItems: 255, description: 'destination RLOCs (instead of site)' })),
  ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 1440, description: 'record TTL in minutes for replies (default: the current one, else 1)' })),
  lifetimeSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, description: 'how long the hint holds without an xTR confirming it (default: the registration lifetime)' })),
}, { additionalProperties: false });
type MoveBody = Static<typeof MoveBody>;

const MoveReply = Type.Object({
  eid: Type.String(),
  iid: Type.Integer(),
  from: Type.Array(Type.String()),
  to: Type.Array(Type.String()),
  smrs: Type.Integer({ description: 'ITRs solicited (SMR) to refresh their map-cache' }),
  notifies: Type.Integer({ description: 'Map-Notifies to old ETRs and subscribers' }),
  fanoutMs: Type.Number(),
  site: Type.Optional(Type.String({ description: 'the site whose xTRs the EID is bound to now' })),
  expiresAt: Type.String({ format: 'date-time', description: 'when the hint ends unless an xTR confirms or supersedes it first' }),
});

export const movesRoutes: FastifyPluginAsync<ApiContext> = async (app, { control }) => {
  app.post<{ Body: MoveBody }>('/moves', {
    schema: { summary: 'Move an EID to a site or a locator set, now', tags: ['mobility'], body: MoveBody, response: {
      200: MoveReply,
      400: errorAnswer('not a valid move: bad EID or RLOC, both or neither of site and rlocs, an EID inside no site, or an unknown site'),
      409: errorAnswer('the destination site has no live registration of its own prefixes to take RLOCs from: give rlocs'),
    } },
  }, async (request) => {
    const body = request.body;
    if ((body.site === undefined) === (body.rlocs === undefined)) throw new ApiError(400, 'give exactly one of body.site and body.rlocs', 'body');
    const iid = body.iid ?? 0;
    const eid = parseEidPrefix(body.eid, iid);
    const owner = control.db.siteFor(eid);
    if (!owner) throw new ApiError(400, `${formatEidPrefix(eid)} is inside no configured site`, 'body.eid');
    const now = control.now();

    let locators: readonly Locator[];
    if (body.rlocs) {
      locators = mappingFromJson({ eid: body.eid, iid, rlocs: body.rlocs }, 'body').locators;
    } else {
      if (!control.db.sites.has(body.site!)) throw new ApiError(400, `no site '${body.site}'`, 'body.site');
      locators = siteLocators(control.db, body.site!, now);
      if (locators.length === 0) throw new ApiError(409, `site '${body.site}' has no live registration of its own prefixes to take its xTRs' RLOCs from; give body.rlocs`, 'body.site');
    }

    const current = control.db.resolve(eid, now);
    const currentTtl = current.kind === 'registered' ? current.binding.record.ttl : 1;
    const registration: Registration = {
      site: owner.site.name,
      etrId: OPERATOR_MOVE_ETR_ID,
      source: { address: formatAddress(locators[0]!.rloc), port: LISP_CONTROL_PORT },
      proxyReply: true,
      merge: false,
      record: { eid, ttl: body.ttl ?? currentTtl, action: 0, authoritative: true, mapVersion: 0, locators },
      claimedAt: now,
      lastRefreshed: now,
      expiresAt: now + (body.lifetimeSeconds ?? control.registrationTtlSeconds) * 1000,
    };
    // Replacing the previous operator move: the newest hint claims from now.
    const moves = await control.applyChanges([{ kind: 'delete-registration', eid, etrId: OPERATOR_MOVE_ETR_ID }, { kind: 'put-registration', registration }]);
    const event = moves.find((m) => samePrefix(m.eid, eid));
    const site = event ? event.site : siteHolding(control.db, control.db.bindingAt(eid, control.now()), control.now());
    return {
      eid: formatBareEidPrefix(eid),
      iid,
      from: event?.from ?? (current.kind === 'registered' ? current.binding.record.locators.map((l) => formatAddress(l.rloc)) : []),
      to: locators.map((l) => formatAddress(l.rloc)),
      smrs: event?.smrs ?? 0,
      notifies: event?.notifies ?? 0,
      fanoutMs: event?.fanoutMs ?? 0,
      ...(site ? { site } : {}),
      expiresAt: new Date(registration.expiresAt).toISOString(),
    };
  });

  app.delete<{ Querystring: { eid: string; iid?: number } }>('/moves', {
    schema: {
      summary: 'Withdraw an operator move: the ETRs\' own registrations decide again',
      tags: ['mobility'],
      querystring: Type.Object({ eid: Type.String({ minLength: 1, maxLength: 64 }), iid: Type.Optional(Type.Integer({ minimum: 0, default: 0 })) }, { additionalProperties: false }),
      response: { 204: Type.Null(), 404: errorAnswer('no operator move of that EID is in force') },
    },
  }, async (request, reply) => {
    const eid = parseEidPrefix(request.query.eid, request.query.iid ?? 0);
    if (!control.db.registered(eid)?.byEtr.has(OPERATOR_MOVE_ETR_ID)) throw new ApiError(404, `no operator move for ${formatEidPrefix(eid)}`);
    await control.applyChanges([{ kind: 'delete-registration', eid, etrId: OPERATOR_MOVE_ETR_ID }]);
    return reply.status(204).send();
  });
};

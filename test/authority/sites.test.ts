// The rule PUT/DELETE /sites and a config reload share: which of a site's live registrations
// its (new) prefixes no longer authorise.
import t from 'tap';
import { uncoveredRegistrations } from '../../mapserver/authority/sites.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import type { Site } from '../../mapserver/db/model.js';
import { INTEROP_KEY, record, registration } from '../helpers/fixtures.js';

const keys = [{ alg: 'hmac-sha1' as const, secret: INTEROP_KEY }];
const narrowed: Site = { name: 'local', keys, prefixes: [{ eid: parseEidPrefix('10.16.10.0/25'), acceptMoreSpecifics: true }] };
const inside = registration('local', '127.0.0.1', record('10.16.10.50/32', ['127.0.0.1']), 0);
const outside = registration('local', '127.0.0.2', record('10.16.10.200/32', ['127.0.0.2']), 0);
const otherSite = registration('cloud', '127.0.0.3', record('10.16.10.201/32', ['127.0.0.3']), 0);
const all = [inside, outside, otherSite];

t.test('a changed site loses only the registrations none of its prefixes contain', async (t) => {
  t.same(uncoveredRegistrations(all, 'local', narrowed), [{ kind: 'delete-registration', eid: outside.record.eid, etrId: outside.etrId }]);
});

t.test('a deleted site loses all its registrations, other sites none', async (t) => {
  t.same(uncoveredRegistrations(all, 'local', undefined), [
    { kind: 'delete-registration', eid: inside.record.eid, etrId: inside.etrId },
    { kind: 'delete-registration', eid: outside.record.eid, etrId: outside.etrId },
  ]);
});

t.test('a prefix in another instance does not cover', async (t) => {
  const otherIid: Site = { ...narrowed, prefixes: [{ eid: parseEidPrefix('10.16.10.0/24', 7), acceptMoreSpecifics: true }] };
  t.equal(uncoveredRegistrations([inside], 'local', otherIid).length, 1);
});

t.test('a prefix that stops accepting more-specifics drops them and keeps its own registration', async (t) => {
  const strict: Site = { ...narrowed, prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: false }] };
  const whole = registration('local', '127.0.0.4', record('10.16.10.0/24', ['127.0.0.4']), 0);
  t.same(uncoveredRegistrations([inside, whole], 'local', strict), [{ kind: 'delete-registration', eid: inside.record.eid, etrId: inside.etrId }]);
});

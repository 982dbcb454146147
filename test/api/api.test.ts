// The operator API over a real Map-Server (loopback UDP, LevelDB), mostly through fastify's
// inject, plus real HTTP for the event stream and a restart.
import t, { type Test } from 'tap';
import { request as httpRequest } from 'node:http';
import type { InjectOptions } from 'fastify';
import { pino } from 'pino';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { EncapsulatedControl, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import { resolveApiToken } from '../../mapserver/api/auth.js';
import { checkOorXtrFile } from '../../xtr-config/oor-conf-reader.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { startService, type Service } from '../../mapserver/compose/service.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';
import { controlFrames, frame } from '../helpers/vectors.js';

const TOKEN = 'api-test-token-1';
const auth = { authorization: `Bearer ${TOKEN}` };
const v01 = controlFrames('01-register-notify.pcap');
const v02 = controlFrames('02-resolve-ping.pcap');

async function start(t: Test, dataDir = t.testdir()): Promise<Service> {
  const base = labConfig(dataDir, { sites: [] });
  const service = await startService({ ...base, api: { listen: { host: '127.0.0.1', port: 0, family: 4 }, token: TOKEN } }, { logger: pino({ level: 'silent' }) });
  return service;
}

const siteB = {
  name: 'cloud',
  description: 'cloud site',
  keys: [{ alg: 'hmac-sha1', secret: 'lisp-interop-key' }],
  prefixes: [{ eid: '192.168.20.0/24', iid: 0, acceptMoreSpecifics: true }],
};

function requestFor(eid: string, itr: string): Buffer {
  const ecm = decode(frame(v02, 1).bytes) as EncapsulatedControl;
  const req = ecm.message as MapRequest;
  return encode({ ...ecm, message: { ...req, itrRlocs: [{ afi: 'ipv4', ip: itr }], records: [{ iid: 0, address: { afi: 'ipv4', ip: eid }, length: 32 }] } });
}

t.test('open endpoints, token required elsewhere', async (t) => {
  const s = await start(t);
  t.teardown(() => s.close());
  const health = await s.api.inject({ method: 'GET', url: '/healthz' });
  t.equal(health.statusCode, 200);
  t.equal(health.json().status, 'ok');
  const metrics = await s.api.inject({ method: 'GET', url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.body, /livmap_messages_received_total/);
  t.match(metrics.headers['content-type'], /text\/plain/);
  const noToken = await s.api.inject({ method: 'GET', url: '/api/v1/sites' });
  t.equal(noToken.statusCode, 401);
  t.match(noToken.json().message, /missing Authorization/);
  const badToken = await s.api.inject({ method: 'GET', url: '/api/v1/sites', headers: { authorization: 'Bearer nope' } });
  t.equal(badToken.statusCode, 401);
  t.match(badToken.json().message, /not valid/);
  const docs = await s.api.inject({ method: 'GET', url: '/docs/json' });
  t.equal(docs.statusCode, 200);
  t.equal(docs.json().openapi.slice(0, 2), '3.');
  t.ok(docs.json().paths['/api/v1/sites/{name}'], 'the OpenAPI document lists the routes');
  const page = await s.api.inject({ method: 'GET', url: '/docs/' });
  t.equal(page.statusCode, 200, 'browsable docs page');
  t.equal((await s.api.inject({ method: 'GET', url: '/api/v1/nothing', headers: auth })).statusCode, 404);
});

t.test('a site created through the API accepts Map-Registers at once; secrets never come back', async (t) => {
  const s = await start(t);
  t.teardown(() => s.close());
  const created = await s.api.inject({ method: 'PUT', url: '/api/v1/sites/cloud', headers: auth, payload: siteB });
  t.equal(created.statusCode, 201);
  t.notMatch(created.body, /lisp-interop-key/, 'no secret in the response');
  t.same(created.json().keys, [{ alg: 'hmac-sha1' }]);
  const again = await s.api.inject({ method: 'PUT', url: '/api/v1/sites/cloud', headers: auth, payload: siteB });
  t.equal(again.statusCode, 200, 'replace answers 200');

  const [ms] = s.lisp.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.0.9');
  const itr = await UdpPeer.bind('127.0.0.10', 4342);
  t.teardown(async () => { await etr.close(); await itr.close(); });
  await etr.send(frame(v01, 1).bytes, ms);
  t.equal(decode((await etr.receive()).bytes).type, 'map-notify', 'registered without a restart');

  const regs = await s.api.inject({ method: 'GET', url: '/api/v1/registrations', headers: auth });
  const [reg] = regs.json().registrations;
  t.equal(reg.eid, '192.168.20.0/24');
  t.equal(reg.site, 'cloud');
  t.equal(reg.etrId, 'rloc:127.0.0.9');
  t.same(reg.rlocs.map((r: { address: string }) => r.address), ['10.99.0.4']);
  t.ok(Date.parse(reg.expiresAt) > Date.parse(reg.lastRefreshed));

  const lookup = await s.api.inject({ method: 'GET', url: '/api/v1/lookup?eid=192.168.20.10', headers: auth });
  t.match(lookup.json(), { kind: 'registered', prefix: '192.168.20.0/24', ttl: 10, site: 'cloud', proxyReply: true });
  const negative = await s.api.inject({ method: 'GET', url: '/api/v1/lookup?eid=10.16.99.1&iid=0', headers: auth });
  t.match(negative.json(), { kind: 'negative', prefix: '0.0.0.0/1', ttl: 15, action: 'natively-forward', reason: 'no-site' });

  const list = await s.api.inject({ method: 'GET', url: '/api/v1/sites', headers: auth });
  t.equal(list.json().sites[0].registrations, 1);
  const deleted = await s.api.inject({ method: 'DELETE', url: '/api/v1/sites/cloud', headers: auth });
  t.equal(deleted.statusCode, 204);
  t.equal(s.lisp.db.liveRegistrations, 0, "the site's registrations go with it");
  await etr.send(frame(v01, 1).bytes, ms);
  t.ok(await etr.silentFor(300), 'a deleted site can no longer register');
  t.equal((await s.api.inject({ method: 'GET', url: '/api/v1/sites/cloud', headers: auth })).statusCode, 404);
  t.equal((await s.api.inject({ method: 'DELETE', url: '/api/v1/sites/cloud', headers: auth })).statusCode, 404);
});

t.test('static mappings: put, answered on UDP, listed, deleted', async (t) => {
  const s = await start(t);
  t.teardown(() => s.close());
  const mapping = { eid: '198.51.100.0/24', iid: 0, ttl: 10, rlocs: [{ address: '203.0.113.9', priority: 1, weight: 100 }] };
  const put = await s.api.inject({ method: 'PUT', url: '/api/v1/mappings', headers: auth, payload: mapping });
  t.equal(put.statusCode, 201);
  const [ms] = s.lisp.addresses() as [Endpoint];
  const itr = await UdpPeer.bind('127.0.0.11', 4342);
  t.teardown(() => itr.close());
  await itr.send(requestFor('198.51.100.7', '127.0.0.11'), ms);
  const reply = decode((await itr.receive()).bytes) as MapReply;
  t.equal(formatEidPrefix(reply.records[0]!.eid), '198.51.100.0/24');
  const list = await s.api.inject({ method: 'GET', url: '/api/v1/mappings', headers: auth });
  t.match(list.json().mappings[0], { eid: '198.51.100.0/24', iid: 0, ttl: 10, rlocs: [{ address: '203.0.113.9', priority: 1, weight: 100 }] });
  const del = await s.api.inject({ method: 'DELETE', url: '/api/v1/mappings?eid=198.51.100.0/24&iid=0', headers: auth });
  t.equal(del.statusCode, 204);
  t.equal((await s.api.inject({ method: 'DELETE', url: '/api/v1/mappings?eid=198.51.100.0/24', headers: auth })).statusCode, 404);
});

t.test('bad input gets a 400 naming the field, never a 500', async (t) => {
  const s = await start(t);
  t.teardown(() => s.close());
  await s.api.inject({ method: 'PUT', url: '/api/v1/sites/cloud', headers: auth, payload: siteB });
  const cases: Array<[string, { method: 'PUT' | 'GET' | 'DELETE'; url: string; payload?: unknown; headers?: Record<string, string> }, number, RegExp]> = [
    ['prefix /33', { method: 'PUT', url: '/api/v1/sites/x', payload: { ...siteB, name: 'x', prefixes: [{ eid: '10.0.0.0/33' }] } }, 400, /body\.prefixes\[0\]\.eid: .*33/],
    ['unknown algorithm', { method: 'PUT', url: '/api/v1/sites/x', payload: { ...siteB, name: 'x', keys: [{ alg: 'md5', secret: 'k' }] } }, 400, /body\.keys\[0\]\.alg: is not one of the allowed values/],
    ['overlap with another site', { method: 'PUT', url: '/api/v1/sites/x', payload: { ...siteB, name: 'x', prefixes: [{ eid: '192.168.0.0/16' }] } }, 400, /overlaps 192\.168\.20\.0\/24 of site 'cloud'/],
    ['unknown field', { method: 'PUT', url: '/api/v1/sites/x', payload: { ...siteB, name: 'x', colour: 'blue' } }, 400, /body\.colour: is not a known field/],
    ['name mismatch', { method: 'PUT', url: '/api/v1/sites/x', payload: siteB }, 400, /does not match/],
    ['bad JSON', { method: 'PUT', url: '/api/v1/sites/x', payload: '{"name": ', headers: { 'content-type': 'application/json' } }, 400, /not valid JSON/],
    ['oversized body', { method: 'PUT', url: '/api/v1/sites/x', payload: { ...siteB, description: 'x'.repeat(2 << 20) } }, 413, /too large/],
    ['bad RLOC address', { method: 'PUT', url: '/api/v1/mappings', payload: { eid: '198.51.100.0/24', rlocs: [{ address: '1.2.3' }] } }, 400, /body\.rlocs\[0\]\.address: '1\.2\.3' is not an IPv4 or IPv6 address/],
    ['mapping inside a site', { method: 'PUT', url: '/api/v1/mappings', payload: { eid: '192.168.20.128/25', rlocs: [] } }, 400, /overlaps .* site 'cloud'/],
    ['lookup without eid', { method: 'GET', url: '/api/v1/lookup' }, 400, /querystring\.eid: is required/],
    ['lookup of garbage', { method: 'GET', url: '/api/v1/lookup?eid=banana' }, 400, /banana/],
    ['bad site name', { method: 'GET', url: '/api/v1/sites/bad%20name' }, 400, /params\.name/],
  ];
  for (const [name, req, status, message] of cases) {
    const res = await s.api.inject({ ...req, headers: { ...auth, ...(req.headers ?? {}) } } as InjectOptions);
    t.equal(res.statusCode, status, `${name}: status`);
    t.match(res.json().message, message, `${name}: ${res.json().message}`);
    t.notMatch(res.body, /lisp-interop-key/, `${name}: no secret in the error`);
  }
  t.equal(s.lisp.db.sites.size, 1, 'nothing half-applied');
});

t.test('the event stream over real HTTP shows registrations and refusals', async (t) => {
  const s = await start(t);
  t.teardown(() => s.close());
  await s.api.inject({ method: 'PUT', url: '/api/v1/sites/cloud', headers: auth, payload: siteB });
  const url = new URL('/api/v1/events', s.apiUrl);
  const chunks: string[] = [];
  const req = httpRequest(url, { headers: auth });
  const opened = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      t.equal(res.statusCode, 200);
      t.match(res.headers['content-type'], /text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (c: string) => chunks.push(c));
      resolve();
    });
    req.on('error', reject);
  });
  req.end();
  await opened;
  const [ms] = s.lisp.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.0.12');
  t.teardown(() => etr.close());
  await etr.send(frame(v01, 1).bytes, ms);
  await etr.receive();
  const forged = Buffer.from(frame(v01, 1).bytes);
  forged[20] ^= 1;
  await etr.send(forged, ms);
  for (let i = 0; i < 50 && !chunks.join('').includes('event: refused'); i++) await new Promise((r) => setTimeout(r, 20));
  req.destroy();
  const text = chunks.join('');
  t.match(text, /event: registered\ndata: \{"type":"registered","site":"cloud","eid":"192\.168\.20\.0\/24"/);
  t.match(text, /event: refused\ndata: \{"type":"refused",.*"reason":"auth"/);
});

t.test('API changes are durable: they survive a restart on the same data directory', async (t) => {
  const dir = t.testdir();
  let s = await start(t, dir);
  await s.api.inject({ method: 'PUT', url: '/api/v1/sites/cloud', headers: auth, payload: siteB });
  await s.api.inject({ method: 'PUT', url: '/api/v1/mappings', headers: auth, payload: { eid: '2001:db8::/32', rlocs: [{ address: '2001:db8:ffff::1' }] } });
  await s.close();
  s = await start(t, dir);
  t.teardown(() => s.close());
  t.same((await s.api.inject({ method: 'GET', url: '/api/v1/sites', headers: auth })).json().sites.map((x: { name: string }) => x.name), ['cloud']);
  t.match((await s.api.inject({ method: 'GET', url: '/api/v1/lookup?eid=2001:db8::1', headers: auth })).json(), { kind: 'static', prefix: '2001:db8::/32' });
});

t.test('API token: config, then environment, then generated once and kept', async (t) => {
  const dir = t.testdir();
  t.same(await resolveApiToken('from-config', dir, {}), { token: 'from-config' });
  t.same(await resolveApiToken(undefined, dir, { LIVMAP_API_TOKEN: 'from-env' }), { token: 'from-env' });
  const generated = await resolveApiToken(undefined, dir, {});
  t.ok(generated.file && generated.token.length >= 24);
  t.equal(generated.created, true, 'generated on the first start');
  t.same(await resolveApiToken(undefined, dir, {}), { token: generated.token, file: generated.file }, 'the same token after a restart, not created again');
});

t.test('GET /api/v1/sites/{name}/xtr-config: an OOR config that checks out, or a clear refusal', async (t) => {
  const s = await start(t);
  t.teardown(() => s.close());
  await s.api.inject({ method: 'PUT', url: '/api/v1/sites/cloud', headers: auth, payload: siteB });
  const res = await s.api.inject({ method: 'GET', url: '/api/v1/sites/cloud/xtr-config?ms=172.30.0.2&rloc=172.20.20.1&proxyReply=true', headers: auth });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.headers['content-type'], /text\/plain/);
  const { conf, problems } = checkOorXtrFile(res.body);
  t.same(problems, [], 'passes the OOR 1.3 grammar and option checks');
  t.equal(conf?.mapServers[0]?.address, '172.30.0.2');
  t.equal(conf?.mapServers[0]?.key, 'REPLACE-WITH-THE-SITE-KEY', 'no key unless asked for');
  t.notMatch(res.body, /lisp-interop-key/);
  t.match(res.body, /includeKeys=true/, 'the placeholder is explained');
  t.equal(conf?.mapServers[0]?.proxyReply, true);
  const withKey = await s.api.inject({ method: 'GET', url: '/api/v1/sites/cloud/xtr-config?ms=172.30.0.2&rloc=172.20.20.1&proxyReply=true&includeKeys=true', headers: auth });
  const keyed = checkOorXtrFile(withKey.body);
  t.same(keyed.problems, []);
  t.equal(keyed.conf?.mapServers[0]?.key, 'lisp-interop-key', 'the key when asked for explicitly');
  t.same(conf?.databaseMappings.map((d) => d.eidPrefix), ['192.168.20.0/24']);
  t.match(res.body, /address\s+= 172\.20\.20\.1/);

  const both = await s.api.inject({ method: 'GET', url: '/api/v1/sites/cloud/xtr-config?ms=172.30.0.2', headers: auth });
  t.equal(both.statusCode, 400);
  t.match(both.json().message, /exactly one of querystring\.rloc and querystring\.iface/);
  const badMs = await s.api.inject({ method: 'GET', url: '/api/v1/sites/cloud/xtr-config?ms=nope&rloc=172.20.20.1', headers: auth });
  t.equal(badMs.statusCode, 400);
  t.match(badMs.json().message, /ms/);
  await s.api.inject({ method: 'PUT', url: '/api/v1/sites/sha', headers: auth, payload: { ...siteB, name: 'sha', keys: [{ alg: 'hmac-sha256', secret: 'k' }], prefixes: [{ eid: '172.16.30.0/24' }] } });
  const sha = await s.api.inject({ method: 'GET', url: '/api/v1/sites/sha/xtr-config?ms=172.30.0.2&iface=eth0', headers: auth });
  t.equal(sha.statusCode, 409);
  t.match(sha.json().message, /supports only HMAC-SHA-1/);
  t.equal((await s.api.inject({ method: 'GET', url: '/api/v1/sites/none/xtr-config?ms=1.2.3.4&iface=eth0', headers: auth })).statusCode, 404);
});

// The operator's day two through the API (issue #17): site status with xTRs and auth failures,
// filtered and paged registrations, clearing registrations, event ids, history and resume, SSE
// streams that end when the API closes, OpenAPI answers and security, /version, request logs.
// A real service: loopback UDP (127.0.77.x), LevelDB, fastify (inject, and real HTTP for SSE).
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { decode } from '../../mapserver/codec/index.js';
import type { MapRequest } from '../../mapserver/codec/types.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { startService, type Service } from '../../mapserver/compose/service.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';

const TOKEN = 'day-two-token-1';
const auth = { authorization: `Bearer ${TOKEN}` };
const key = (name: string, eid: string, more = false) => ({ name, keys: [{ alg: 'hmac-sha1' as const, secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix(eid), acceptMoreSpecifics: more }] });
const SITES = [key('local', '10.16.10.0/24'), key('cloud', '192.168.20.0/24'), key('vm', '10.16.50.0/24', true)];
const A = '127.0.77.1';
const B = '127.0.77.2';
const ITR = '127.0.77.9';

interface Harness {
  readonly s: Service;
  readonly ms: Endpoint;
  /** Moves the server's clock forward (registrations expire on it). */
  advance(ms: number): void;
  readonly logs: Array<Record<string, unknown>>;
  /** Closes the service (once, whoever asks first: the test or its teardown). */
  close(): Promise<void>;
}

async function start(t: Test, dataDir = t.testdir()): Promise<Harness> {
  let offset = 0;
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>); done(); } });
  const base = labConfig(dataDir, { sites: SITES });
  const s = await startService({ ...base, api: { listen: { host: '127.0.0.1', port: 0, family: 4 }, token: TOKEN } }, {
    logger: pino({ level: 'debug' }, sink),
    now: () => Date.now() + offset,
    sendFilter: (to) => to.address.startsWith('127.0.77.'),
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= s.close());
  t.teardown(close);
  return { s, ms: s.lisp.addresses()[0]!, advance: (ms) => { offset += ms; }, logs, close };
}

async function peer(t: Test, address: string): Promise<UdpPeer> {
  const p = await UdpPeer.bind(address, 4342);
  t.teardown(() => p.close());
  return p;
}

/**
 * A register burst as OOR sends it: one Map-Register per mapping, back to back; each is waited
 * for its Map-Notify (stored then). A wrong `secret` is not answered: nothing is waited for.
 */
async function register(etr: UdpPeer, ms: Endpoint, eid: string, also: string[] = [], secret = INTEROP_KEY): Promise<void> {
  for (const one of [eid, ...also]) {
    await etr.send(mapRegisterBytes({ eid: one, rlocs: [etr.local.address], secret }), ms);
    if (secret !== INTEROP_KEY) continue;
    for (;;) if (decode((await etr.receive()).bytes).type === 'map-notify') break;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const get = async (s: Service, url: string) => {
  const res = await s.api.inject({ method: 'GET', url, headers: auth });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
};

t.test('GET /sites: each xTR with its source, last registration and state; auth failures per site', async (t) => {
  const { s, ms, advance } = await start(t);
  const a = await peer(t, A);
  const b = await peer(t, B);
  await register(a, ms, '10.16.10.0/24', ['10.16.50.7/32']);
  await register(b, ms, '192.168.20.0/24');
  // Two forged Map-Registers for cloud's prefix (wrong key), one unsigned-for-the-site one for local.
  const forger = await peer(t, '127.0.77.3');
  await register(forger, ms, '192.168.20.0/24', [], 'not-the-key');
  await register(forger, ms, '192.168.20.0/24', [], 'still-not-the-key');
  await register(forger, ms, '10.16.10.0/24', [], 'nope');
  await until('three refusals', async () => (await s.lisp.metrics.value('livmap_messages_dropped_total', { reason: 'auth' })) === 3);

  const { status, body } = await get(s, '/api/v1/sites');
  t.equal(status, 200);
  const byName = Object.fromEntries((body.sites as Array<Record<string, any>>).map((site) => [site.name, site]));
  t.equal(byName.cloud.authFailures, 2, 'cloud: two refused for authentication');
  t.equal(byName.local.authFailures, 1);
  t.equal(byName.vm.authFailures, 0);
  t.match(byName.local.xtrs, [{ etrId: `rloc:${A}`, source: `${A}:4342`, registrations: 1, left: 0, state: 'registered' }]);
  t.equal(byName.local.xtrs.length, 1, 'the forger is no xTR of the site');
  t.match(byName.cloud.xtrs, [{ etrId: `rloc:${B}`, source: `${B}:4342`, state: 'registered' }]);
  t.match(byName.vm.xtrs, [{ etrId: `rloc:${A}`, registrations: 1, state: 'registered' }]);
  t.ok(Math.abs(Date.parse(byName.local.xtrs[0].lastRegisteredAt) - Date.now()) < 5000, 'lastRegisteredAt is now');
  t.same(byName.local.keys, [{ alg: 'hmac-sha1' }], 'algorithms only');
  t.notMatch(JSON.stringify(body), new RegExp(INTEROP_KEY), 'no secret');
  t.match((await s.api.inject({ method: 'GET', url: '/metrics' })).body, /livmap_register_auth_failures_total\{site="cloud"\} 2/);

  // A's next register burst (bursts are registers < 250 ms apart) no longer lists the VM: it left it.
  await new Promise((r) => setTimeout(r, 300));
  await register(a, ms, '10.16.10.0/24');
  await until('the VM left', async () => (await get(s, '/api/v1/sites/vm')).body.xtrs[0]?.state === 'left');
  t.match((await get(s, '/api/v1/sites/vm')).body.xtrs, [{ etrId: `rloc:${A}`, registrations: 0, left: 1, state: 'left' }]);
  t.match((await get(s, '/api/v1/sites/local')).body.xtrs, [{ state: 'registered', registrations: 1 }]);

  // Past the lifetime: expired, still listed with where and when it last registered.
  const last = (await get(s, '/api/v1/sites/local')).body.xtrs[0].lastRegisteredAt;
  advance(181_000);
  s.lisp.sweep();
  await s.lisp.settled();
  const local = (await get(s, '/api/v1/sites/local')).body;
  t.match(local.xtrs, [{ etrId: `rloc:${A}`, source: `${A}:4342`, registrations: 0, left: 0, state: 'expired', lastRegisteredAt: last }]);
  t.equal(local.registrations, 0);
  t.equal((await get(s, '/api/v1/sites/nowhere')).status, 404);
});

t.test('GET /registrations: filters really filter; cursor paging is complete, ordered and stable', async (t) => {
  const { s, ms } = await start(t);
  const a = await peer(t, A);
  const b = await peer(t, B);
  const vms = Array.from({ length: 23 }, (_, i) => `10.16.50.${i + 1}/32`);
  await register(a, ms, '10.16.10.0/24', vms.slice(0, 15));
  await register(b, ms, '192.168.20.0/24', vms.slice(10));
  // 1 + 15 from A, 1 + 13 from B (10.16.50.11..15 registered by both).
  const all = await get(s, '/api/v1/registrations?limit=1000');
  t.equal(all.body.total, 30);
  t.equal(all.body.registrations.length, 30);
  t.notOk(all.body.nextCursor, 'one page holds everything: no cursor');

  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await get(s, `/api/v1/registrations?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(page.status, 200);
    t.equal(page.body.total, 30, 'total counts every page');
    t.ok(page.body.registrations.length <= 7);
    seen.push(...page.body.registrations.map((r: { eid: string; etrId: string }) => `${r.eid} ${r.etrId}`));
    cursor = page.body.nextCursor;
    pages++;
  } while (cursor);
  t.equal(pages, 5);
  t.same(seen, all.body.registrations.map((r: { eid: string; etrId: string }) => `${r.eid} ${r.etrId}`), 'the pages are the whole list, in its order');
  t.equal(new Set(seen).size, 30, 'no duplicates');
  const order = seen.map((x) => x.split(' ')[0]!);
  t.equal(order[0], '10.16.10.0/24', 'address order');
  t.equal(order.at(-1), '192.168.20.0/24');
  t.same(seen.filter((x) => x.startsWith('10.16.50.11/32 ')), [`10.16.50.11/32 rloc:${A}`, `10.16.50.11/32 rloc:${B}`], 'ETRs of one prefix in id order');

  // Stable: removing what the first page listed does not shift the second page.
  const first = await get(s, '/api/v1/registrations?limit=7');
  const second = await get(s, `/api/v1/registrations?limit=7&cursor=${first.body.nextCursor}`);
  await s.api.inject({ method: 'DELETE', url: '/api/v1/registrations?eid=10.16.50.2', headers: auth });
  const secondAgain = await get(s, `/api/v1/registrations?limit=7&cursor=${first.body.nextCursor}`);
  t.same(secondAgain.body.registrations, second.body.registrations, 'the same second page after a deletion before it');

  const bySite = await get(s, '/api/v1/registrations?site=cloud');
  t.same(bySite.body.registrations.map((r: { eid: string }) => r.eid), ['192.168.20.0/24']);
  const inside = await get(s, '/api/v1/registrations?eid=10.16.50.8/29');
  const twice = (eid: string) => [eid, eid];
  t.same(inside.body.registrations.map((r: { eid: string }) => r.eid), ['10.16.50.8/32', '10.16.50.9/32', '10.16.50.10/32', ...['11', '12', '13', '14', '15'].flatMap((x) => twice(`10.16.50.${x}/32`))], 'equal to or inside the prefix');
  t.equal(inside.body.total, 13);
  t.equal((await get(s, '/api/v1/registrations?eid=10.16.50.12')).body.total, 2, 'an address is its host prefix');
  t.equal((await get(s, `/api/v1/registrations?etr=${B}`)).body.total, 14, 'etr by address');
  t.equal((await get(s, `/api/v1/registrations?etr=rloc:${B}&eid=10.16.50.0/24`)).body.total, 13, 'etr by id, with eid');
  t.equal((await get(s, '/api/v1/registrations?iid=7')).body.total, 0, 'another instance');
  t.equal((await get(s, '/api/v1/registrations?site=vm&etr=127.0.77.200')).body.total, 0);

  for (const [url, message] of [
    ['/api/v1/registrations?eid=10.16.50.1/24', /host bits/],
    ['/api/v1/registrations?eid=banana', /banana/],
    ['/api/v1/registrations?site=nowhere', /querystring\.site: no site 'nowhere'/],
    ['/api/v1/registrations?cursor=garbage', /querystring\.cursor/],
    ['/api/v1/registrations?limit=0', /querystring\.limit/],
    ['/api/v1/registrations?limit=1001', /querystring\.limit/],
    ['/api/v1/registrations?colour=red', /colour/],
  ] as const) {
    const res = await get(s, url);
    t.equal(res.status, 400, url);
    t.match(res.body.message, message, `${url}: ${res.body.message}`);
  }
});

t.test('DELETE /registrations: drops as an expiry would (store, SMRs, events)', async (t) => {
  const dir = t.testdir();
  let h = await start(t, dir);
  const a = await peer(t, A);
  const b = await peer(t, B);
  const itr = await peer(t, ITR);
  await register(a, h.ms, '10.16.10.0/24', ['10.16.50.7/32']);
  await register(b, h.ms, '192.168.20.0/24');
  // An ITR asks for the VM: it is answered, so it is solicited when the binding moves.
  await itr.send(ecmRequestBytes({ eid: '10.16.50.7', sourceEid: '10.16.99.1', itr: ITR }), h.ms);
  t.equal(decode((await itr.receive()).bytes).type, 'map-reply');
  // The VM moves to the cloud: B claims it.
  await register(b, h.ms, '192.168.20.0/24', ['10.16.50.7/32']);
  t.ok((decode((await itr.receive()).bytes) as MapRequest).smr, 'SMR for the move to B');
  t.match((await get(h.s, '/api/v1/lookup?eid=10.16.50.7')).body, { rlocs: [{ address: B }] });

  const events: Array<Record<string, unknown>> = [];
  h.s.lisp.events.on('event', (e) => events.push({ ...e }));
  const cleared = await h.s.api.inject({ method: 'DELETE', url: `/api/v1/registrations?eid=10.16.50.7&etr=${B}`, headers: auth });
  t.equal(cleared.statusCode, 200, cleared.body);
  t.same(cleared.json(), { removed: 1 });
  t.match(events, [{ type: 'withdrawn', site: 'vm', etrId: `rloc:${B}` }, { type: 'moved', from: [B], to: [A], site: 'local', smrs: 1 }]);
  t.ok((decode((await itr.receive()).bytes) as MapRequest).smr, 'SMR: the binding went back to A');
  t.match((await get(h.s, '/api/v1/lookup?eid=10.16.50.7')).body, { rlocs: [{ address: A }], site: 'local' });
  t.equal((await get(h.s, '/api/v1/registrations?eid=10.16.50.7')).body.total, 1);
  const history = (await get(h.s, '/api/v1/events/history?type=withdrawn&type=moved')).body;
  t.match(history.events.slice(-2), [{ type: 'withdrawn', eid: '10.16.50.7/32' }, { type: 'moved', eid: '10.16.50.7/32' }]);

  const none = await h.s.api.inject({ method: 'DELETE', url: `/api/v1/registrations?eid=10.16.50.7&etr=${B}`, headers: auth });
  t.equal(none.statusCode, 404);
  t.match(none.json().message, /no live registration of 10\.16\.50\.7\/32 by ETR 127\.0\.77\.2/);
  t.equal((await h.s.api.inject({ method: 'DELETE', url: '/api/v1/registrations?eid=10.16.50.9', headers: auth })).statusCode, 404);
  t.equal((await h.s.api.inject({ method: 'DELETE', url: '/api/v1/registrations', headers: auth })).statusCode, 400);
  t.equal((await h.s.api.inject({ method: 'DELETE', url: '/api/v1/registrations?eid=10.16.50.7' })).statusCode, 401);

  // All of a prefix's registrations, and the store forgets them: not back after a restart.
  const all = await h.s.api.inject({ method: 'DELETE', url: '/api/v1/registrations?eid=192.168.20.0/24', headers: auth });
  t.same(all.json(), { removed: 1 });
  await h.close();
  h = await start(t, dir);
  const left = (await get(h.s, '/api/v1/registrations')).body.registrations.map((r: { eid: string; etrId: string }) => `${r.eid} ${r.etrId}`);
  t.same(left, [`10.16.10.0/24 rloc:${A}`, `10.16.50.7/32 rloc:${A}`], 'cleared registrations stay gone after a restart');
});

/** Opens /api/v1/events over real HTTP; collects the text. */
function openStream(s: Service, path: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const chunks: string[] = [];
    const req = httpRequest(new URL(path, s.apiUrl), { headers: { ...auth, ...headers } });
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => chunks.push(c));
      const ended = new Promise<void>((done) => { res.on('end', done); res.on('close', done); });
      resolve({ res, text: () => chunks.join(''), ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

interface Frame { id: number; event: string; data: Record<string, unknown> }
function frames(text: string): Frame[] {
  return text.split('\n\n').filter((block) => block.includes('data: ')).map((block) => {
    const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
    return { id: Number(field('id')), event: field('event'), data: JSON.parse(field('data')) as Record<string, unknown> };
  });
}

t.test('events: ids, history, Last-Event-ID and ?after= resume', async (t) => {
  const { s, ms } = await start(t);
  const a = await peer(t, A);
  await register(a, ms, '10.16.10.0/24');
  await register(a, ms, '10.16.10.0/24'); // a refresh: streamed live, not kept
  await register(a, ms, '10.16.10.0/24', ['10.16.50.3/32']);
  await register(a, ms, '10.16.10.0/24', [], 'bad-key');
  await until('the refusal', async () => (await get(s, '/api/v1/events/history?type=refused')).body.events.length === 1);

  const history = (await get(s, '/api/v1/events/history')).body;
  const ids = history.events.map((e: { id: number }) => e.id);
  t.same(ids, [...ids].sort((x: number, y: number) => x - y), 'oldest first');
  t.ok(ids.every((id: number, i: number) => i === 0 || id > ids[i - 1]), 'ids increase');
  t.equal(history.lastId, ids.at(-1));
  // Kept: the first registration, the VM's, the refusal; the two refreshes of 10.16.10.0/24 were streamed only.
  t.match(history.events, [{ type: 'registered', eid: '10.16.10.0/24', refresh: false }, { type: 'registered', eid: '10.16.50.3/32' }, { type: 'refused', reason: 'auth', from: `${A}:4342` }]);
  t.equal(history.events.length, 3);
  t.equal(ids[1] - ids[0], 3, 'the refreshes had ids of their own');
  t.ok(Date.parse(history.events[0].at) > 0);

  const afterFirst = (await get(s, `/api/v1/events/history?after=${ids[0]}&limit=2`)).body.events;
  t.same(afterFirst.map((e: { id: number }) => e.id), [ids[1], ids[2]], 'after + limit: the oldest after it');
  t.same((await get(s, '/api/v1/events/history?limit=1')).body.events.map((e: { id: number }) => e.id), [ids[2]], 'no after: the newest');
  t.same((await get(s, '/api/v1/events/history?type=refused')).body.events.map((e: { type: string }) => e.type), ['refused']);
  const badType = await get(s, '/api/v1/events/history?type=party');
  t.equal(badType.status, 400);
  t.match(badType.body.message, /querystring\.type/);
  t.equal((await get(s, '/api/v1/events/history?limit=10001')).status, 400);

  // Resume with Last-Event-ID: what came after it first, then live.
  const resumed = await openStream(s, '/api/v1/events', { 'last-event-id': String(ids[0]) });
  t.teardown(resumed.close);
  await until('the replay', () => frames(resumed.text()).length >= 2);
  t.same(frames(resumed.text()).map((f) => f.id), [ids[1], ids[2]], 'replayed the kept events after Last-Event-ID');
  await register(a, ms, '10.16.10.0/24', ['10.16.50.4/32']);
  await until('a live event', () => frames(resumed.text()).some((f) => f.data.eid === '10.16.50.4/32'));
  const live = frames(resumed.text());
  t.ok(live.every((f, i) => i === 0 || f.id > live[i - 1]!.id), 'ids keep increasing across replay and live');
  t.equal(live.at(-1)!.data.id, live.at(-1)!.id, 'data carries the id too');
  t.equal(live.at(-1)!.event, live.at(-1)!.data.type);

  const byQuery = await openStream(s, `/api/v1/events?after=${ids[1]}`);
  t.teardown(byQuery.close);
  await until('the replay by ?after', () => frames(byQuery.text()).length >= 1);
  t.equal(frames(byQuery.text())[0]!.id, ids[2]);

  const fromBeforeRestart = await openStream(s, '/api/v1/events?after=999999');
  t.teardown(fromBeforeRestart.close);
  await until('everything kept', () => frames(fromBeforeRestart.text()).length >= 3);
  t.equal(frames(fromBeforeRestart.text())[0]!.id, ids[0], 'an id from before a restart: everything kept');

  const bad = await s.api.inject({ method: 'GET', url: '/api/v1/events', headers: { ...auth, 'last-event-id': 'yesterday' } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /last-event-id/);
});

t.test('the event history is bounded and says when a resume reaches past it', async (t) => {
  const { EventLog } = await import('../../mapserver/api/event-log.js');
  const { EventEmitter } = await import('node:events');
  const source = new EventEmitter<{ event: [import('../../mapserver/control/types.js').ServerEvent] }>();
  const log = new EventLog(source, () => 0, 5);
  for (let i = 0; i < 12; i++) source.emit('event', { type: 'expired', site: 's', eid: parseEidPrefix(`10.0.0.${i}`), etrId: 'rloc:x' });
  t.equal(log.lastId, 12);
  t.equal(log.oldestId, 8, 'only the last 5 kept');
  t.same(log.after(0).map((e) => e.id), [8, 9, 10, 11, 12]);
  t.same(log.latest(2).map((e) => e.id), [11, 12]);
  log.close();
  t.equal(source.listenerCount('event'), 0, 'close detaches');

  const { s } = await start(t);
  for (let i = 0; i < 10_050; i++) s.lisp.events.emit('event', { type: 'expired', site: 'vm', eid: parseEidPrefix('10.16.50.9'), etrId: 'rloc:x' });
  const history = (await get(s, '/api/v1/events/history?after=0&limit=10000')).body;
  t.equal(history.events.length, 10_000, 'the ring keeps 10k');
  t.equal(history.events[0].id, 51);
  const stream = await openStream(s, '/api/v1/events?after=3');
  t.teardown(stream.close);
  await until('the replay', () => stream.text().includes('id: 10050\n'), 10_000);
  t.equal(frames(stream.text()).length, 10_000);
  t.match(stream.text(), /: history starts at id 51; earlier events are no longer kept/);
});

t.test('closing the API ends every open event stream at once', async (t) => {
  const { s, close } = await start(t);
  const streams = await Promise.all([openStream(s, '/api/v1/events'), openStream(s, '/api/v1/events?after=0')]);
  const started = Date.now();
  await close();
  const took = Date.now() - started;
  await Promise.all(streams.map((x) => x.ended));
  t.ok(took < 2000, `closed in ${took} ms with two clients connected`);
});

t.test('OpenAPI: only /api/v1 is marked protected; every answer is documented', async (t) => {
  const { s } = await start(t);
  const doc = (await s.api.inject({ method: 'GET', url: '/docs/json' })).json() as { security?: unknown; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> };
  t.notOk(doc.security, 'no global requirement');
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (path.startsWith('/api/v1/')) {
        t.same(op.security, [{ bearer: [] }], `${method} ${path} needs the token`);
        t.ok(op.responses['401'], `${method} ${path} documents 401`);
      } else {
        t.notOk(op.security, `${method} ${path} is open`);
        t.notOk(op.responses['401'], `${method} ${path} has no 401`);
      }
    }
  }
  for (const path of ['/healthz', '/metrics', '/version']) t.ok(doc.paths[path], `${path} documented`);
  t.notOk(doc.paths['/app.js'], 'the status page files are not API');
  const answers = (path: string, method: string) => Object.keys(doc.paths[path]![method]!.responses).sort();
  t.same(answers('/api/v1/moves', 'post'), ['200', '400', '401', '409']);
  t.same(answers('/api/v1/moves', 'delete'), ['204', '400', '401', '404']);
  t.same(answers('/api/v1/lookup', 'get'), ['200', '400', '401']);
  t.same(answers('/api/v1/registrations', 'delete'), ['200', '400', '401', '404']);
  t.same(answers('/api/v1/sites/{name}/xtr-config', 'get'), ['200', '400', '401', '404', '409']);
  t.same(answers('/api/v1/events/history', 'get'), ['200', '400', '401']);

  const version = await s.api.inject({ method: 'GET', url: '/version' });
  t.equal(version.statusCode, 200, 'open');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.same(version.json(), { version: pkg.version, node: process.version });
  for (const asset of ['/', '/app.js', '/style.css']) {
    const res = await s.api.inject({ method: 'GET', url: asset });
    t.equal(res.statusCode, 200, `${asset} is open`);
  }
  t.match((await s.api.inject({ method: 'GET', url: '/' })).headers['content-type'], /text\/html/);
});

t.test('one log line per request; scrapes and probes at debug', async (t) => {
  const h = await start(t);
  h.logs.length = 0;
  await h.s.api.inject({ method: 'GET', url: '/api/v1/sites', headers: auth });
  await h.s.api.inject({ method: 'GET', url: '/metrics' });
  await h.s.api.inject({ method: 'GET', url: '/healthz' });
  const requestLines = h.logs.filter((l) => l.reqId !== undefined);
  t.equal(requestLines.length, 3, 'one line per request');
  t.match(requestLines[0], { level: 30, msg: 'request', method: 'GET', url: '/api/v1/sites', statusCode: 200 });
  t.match(requestLines.slice(1), [{ level: 20, url: '/metrics' }, { level: 20, url: '/healthz' }]);
});

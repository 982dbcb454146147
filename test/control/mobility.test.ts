// A VM moves from the local xTR to the cloud xTR while a correspondent's ITR has it cached:
// the Map-Server SMRs that ITR as OOR expects, Map-Notifies the old ETR, notifies subscribers,
// and does not let the old ETR's refreshes take the EID back.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decode, verifyMessage } from '../../mapserver/codec/index.js';
import type { MapNotify, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import type { ServerEvent } from '../../mapserver/control/types.js';
import type { Endpoint, Site } from '../../mapserver/db/model.js';
import { formatEidPrefix, parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { startService } from '../../mapserver/compose/service.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { ecmRequestBytes, mapRegisterBytes, notifyAckBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { tsharkSkip, assertNoMalformed, deepField, field, tsharkDecode } from '../helpers/tshark.js';
import { UdpPeer, toPcapDatagrams } from '../helpers/udp.js';
import { writePcap } from '../../mapserver/pcap/write.js';

const key = [{ alg: 'hmac-sha1' as const, secret: INTEROP_KEY }];
const SITES: Site[] = [
  { name: 'local', keys: key, prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] },
  { name: 'cloud', keys: key, prefixes: [{ eid: parseEidPrefix('192.168.20.0/24'), acceptMoreSpecifics: true }] },
  { name: 'corr', keys: key, prefixes: [{ eid: parseEidPrefix('172.16.30.0/24'), acceptMoreSpecifics: true }] },
];
const VM = '10.16.10.50';

interface Lab {
  server: LispServer;
  ms: Endpoint;
  timers: FakeTimers;
  local: UdpPeer; cloud: UdpPeer; corr: UdpPeer;
  events: ServerEvent[];
}

/** local xTR 127.0.1.1, cloud xTR 127.0.1.2, correspondent's ITR 127.0.1.3 — all on port 4342. */
async function lab(t: Test, mobility = true, base = '127.0.1'): Promise<Lab> {
  const timers = new FakeTimers();
  const dir = mkdtempSync(join(tmpdir(), 'livmap-mobility-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await LispServer.start(labConfig(dir, { sites: SITES, host: '127.0.0.1' }), { timers, mobility: { enabled: mobility } });
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const local = await UdpPeer.bind(`${base}.1`, 4342);
  const cloud = await UdpPeer.bind(`${base}.2`, 4342);
  const corr = await UdpPeer.bind(`${base}.3`, 4342);
  t.teardown(async () => { await local.close(); await cloud.close(); await corr.close(); });
  const events: ServerEvent[] = [];
  server.events.on('event', (e) => events.push(e));
  // Before the move: the local xTR registers its site and the VM's own /32 (TTL 1, as OOR's vm config).
  await local.send(mapRegisterBytes({ eid: '10.16.10.0/24', rlocs: [`${base}.1`] }), ms);
  await local.receive();
  await local.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: [`${base}.1`], ttl: 1 }), ms);
  await local.receive();
  // The correspondent's ITR resolves the VM and caches 10.16.10.50/32.
  await corr.send(ecmRequestBytes({ eid: VM, sourceEid: '172.16.30.10', itr: `${base}.3` }), ms);
  const reply = decode((await corr.receive()).bytes) as MapReply;
  if (formatEidPrefix(reply.records[0]!.eid) !== `${VM}/32`) throw new Error('setup: the VM is not answered as its /32');
  return { server, ms, timers, local, cloud, corr, events };
}

async function nextOfType<T>(peer: UdpPeer, type: string, timeoutMs = 2000): Promise<{ message: T; from: Endpoint; bytes: Uint8Array }> {
  for (;;) {
    const d = await peer.receive(timeoutMs);
    const message = decode(d.bytes);
    if (message.type === type) return { message: message as T, from: d.from, bytes: d.bytes };
  }
}

t.test('a VM move: SMR to the ITR that cached it, Map-Notify to the old ETR, no flip-back', async (t) => {
  const { server, ms, timers, local, cloud, corr, events } = await lab(t);
  await cloud.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.1.2'], ttl: 1 }), ms);
  await nextOfType(cloud, 'map-notify');

  const smr = await nextOfType<MapRequest>(corr, 'map-request');
  t.ok(smr.message.smr, 'S bit set');
  t.equal(smr.bytes[0], 0x11, 'first byte 0x11: type 1 with only the S bit (the mobility bench counts SMRs by it)');
  t.notOk(smr.message.smrInvoked);
  t.same(smr.message.sourceEid, { afi: 'ipv4', ip: VM }, 'source EID = the moved EID');
  t.equal(formatEidPrefix(smr.message.records[0]!), '172.16.30.10/32', "record = the ITR's own EID");
  t.same(smr.message.itrRlocs, [{ afi: 'ipv4', ip: '127.0.0.1' }], 'ITR-RLOC = the Map-Server');
  t.same(smr.from, ms, 'a plain Map-Request from the Map-Server, to port 4342');

  const moved = events.find((e) => e.type === 'moved');
  t.match(moved, { type: 'moved', from: ['127.0.1.1'], to: ['127.0.1.2'], smrs: 1, notifies: 1 });

  const notify = await nextOfType<MapNotify>(local, 'map-notify');
  t.same(notify.message.records[0]!.locators.map((l) => l.rloc), [{ afi: 'ipv4', ip: '127.0.1.2' }], 'the old ETR learns the new mapping');

  // Nothing answered yet: the SMR is sent again after 1 s, and so is the Map-Notify.
  timers.advance(1000);
  t.ok((await nextOfType<MapRequest>(corr, 'map-request')).message.smr, 'SMR retransmitted after 1 s');
  const again = await nextOfType<MapNotify>(local, 'map-notify');
  t.equal(again.message.nonce, notify.message.nonce, 'Map-Notify retransmitted with the same nonce');
  await local.send(notifyAckBytes(again.message), ms);

  // The ITR reacts as OOR does: an SMR-invoked Map-Request for its cached prefix, via ECM.
  await corr.send(ecmRequestBytes({ eid: `${VM}/32`, sourceEid: '172.16.30.10', itr: '127.0.1.3', smrInvoked: true }), ms);
  const fresh = await nextOfType<MapReply>(corr, 'map-reply');
  t.same(fresh.message.records[0]!.locators.map((l) => l.rloc), [{ afi: 'ipv4', ip: '127.0.1.2' }], 'the refreshed answer points at the cloud');
  await new Promise((r) => setTimeout(r, 50));
  timers.advance(10_000);
  t.ok(await corr.silentFor(200), 'no more SMRs once the SMR-invoked request arrived');
  t.ok(await local.silentFor(200), 'no more Map-Notifies once acknowledged');
  t.equal(await server.metrics.value('livmap_smrs_sent_total'), 2);
  t.equal(await server.metrics.value('livmap_smr_invoked_requests_total'), 1);
  t.equal(await server.metrics.value('livmap_moves_total'), 1);

  await t.test('the SMRs, Map-Notifies and replies decode in tshark without errors', { skip: tsharkSkip() }, async (t) => {
    const sent = [...corr.log, ...local.log, ...cloud.log];
    const frames = await tsharkDecode(writePcap(toPcapDatagrams(sent)), ['-d', `udp.port==${ms.port},lisp`]);
    assertNoMalformed(frames);
    const smrs = frames.filter((f) => field(f.lisp[0], 'lisp.type') === '1');
    t.equal(smrs.length, 2, 'the SMR and its retransmission');
    t.equal(deepField(smrs[0]!.lisp[0], 'lisp.mreq.flags.smr'), '1', 'tshark reads the S bit');
  });

  // The old ETR refreshes the VM on its 60 s timer (its config still lists it): the binding
  // stays with the cloud, and the old ETR is not told its stale registration holds.
  await local.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.1.1'], ttl: 1 }), ms);
  t.ok(await local.silentFor(200), 'no Map-Notify for a stale claim');
  t.ok(await corr.silentFor(200), 'a refresh of the old registration is not a move');
  t.match(events.filter((e) => e.type === 'contested'), [{ claimant: 'rloc:127.0.1.1', holders: ['rloc:127.0.1.2'] }]);
  t.equal(await server.metrics.value('livmap_stale_claims_total', { eid: `${VM}/32`, claimant: 'rloc:127.0.1.1', holder: 'rloc:127.0.1.2' }), 1);
  const r = server.db.resolve(parseEidPrefix(`${VM}/32`), server.now());
  t.same(r.kind === 'registered' && r.binding.record.locators.map((l) => l.rloc), [{ afi: 'ipv4', ip: '127.0.1.2' }]);
});

t.test('SMRs give up after 3 retransmissions; mobility off sends nothing', async (t) => {
  const on = await lab(t, true, '127.0.2');
  await on.cloud.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.2.2'], ttl: 1 }), on.ms);
  await nextOfType(on.cloud, 'map-notify');
  await nextOfType(on.corr, 'map-request');
  for (let i = 0; i < 5; i++) on.timers.advance(1000);
  let smrs = 1;
  while (!(await on.corr.silentFor(100))) smrs++;
  t.equal(smrs, 4, 'one SMR and 3 retransmissions');

  const off = await lab(t, false, '127.0.3');
  await off.cloud.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.3.2'], ttl: 1 }), off.ms);
  await nextOfType(off.cloud, 'map-notify');
  t.ok(await off.corr.silentFor(300), 'with mobility off the ITR waits for its TTL, as with OOR\'s Map-Server');
  t.match(off.events.find((e) => e.type === 'moved'), { smrs: 0 }, 'the move is still an event');
});

t.test('RFC 9437 subscribers: the subscription is answered with a Map-Notify, a move with another (nonce + 1, signed, acked)', async (t) => {
  const { ms, cloud, corr, server, timers } = await lab(t, true, '127.0.4');
  const xtrId = new Uint8Array(16).fill(7);
  const requestNonce = 0x0102030405060708n;
  await corr.send(ecmRequestBytes({ eid: VM, sourceEid: '172.16.30.10', itr: '127.0.4.3', nonce: requestNonce, subscribe: { xtrId } }), ms);
  // RFC 9437 §5 / lispers.net: a Map-Notify (not a Map-Reply) acknowledges the subscription.
  const ack = await corr.receive();
  const first = decode(ack.bytes) as MapNotify;
  t.equal(first.type, 'map-notify', 'the subscription is answered with a Map-Notify');
  t.equal(first.nonce, requestNonce, "with the Map-Request's nonce");
  t.ok(verifyMessage(ack.bytes, INTEROP_KEY), "signed with the key of the subscriber's site (its source EID's)");
  await corr.send(notifyAckBytes(first, INTEROP_KEY), ms);
  t.equal(server.subscriptions.size, 1, 'kept in the subscription table');
  await cloud.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.4.2'], ttl: 1 }), ms);
  // This ITR also asked once without subscribing (lab()): that answer gets its SMR as well.
  const both = [await corr.receive(), await corr.receive()];
  t.same(both.map((x) => decode(x.bytes).type).sort(), ['map-notify', 'map-request']);
  const d = both.find((x) => decode(x.bytes).type === 'map-notify')!;
  const notify = decode(d.bytes) as MapNotify;
  t.equal(notify.nonce, requestNonce + 1n, "the subscription's nonce + 1 (RFC 9437: a new nonce per notification)");
  t.ok(notify.xtrIdPresent, 'I bit with the subscriber xTR-ID and site-ID (its own RFC layout)');
  t.same(notify.xtrId, xtrId);
  t.equal(notify.records[0]?.locators[0]?.rloc.afi === 'ipv4' && notify.records[0].locators[0].rloc.ip, '127.0.4.2', 'the new mapping');
  t.ok(verifyMessage(d.bytes, INTEROP_KEY), "signed with the subscriber's site key");
  timers.advance(1000);
  const again = [await corr.receive(), await corr.receive()].map((x) => decode(x.bytes)).find((m) => m.type === 'map-notify') as MapNotify;
  t.same(again.nonce, notify.nonce, 'retransmitted (same nonce) while not acknowledged (beside the SMR retransmission)');
  await corr.send(notifyAckBytes(notify, INTEROP_KEY), ms);
  await server.settled();
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = 0; i < 4; i++) {
    timers.advance(1000);
    while (!(await corr.silentFor(100))) { /* drain the SMR retransmissions */ }
  }
  const notifies = corr.log.filter((x) => decode(x.bytes).type === 'map-notify').length;
  t.equal(notifies, 3, 'acknowledged: no more Map-Notify retransmissions (subscription ack, notify, one retransmission)');
});

t.test('listening on 0.0.0.0, SMRs carry an ITR-RLOC the ITR reaches the Map-Server on (not 0.0.0.0)', async (t) => {
  const dir = t.testdir();
  const server = await LispServer.start(labConfig(dir, { sites: SITES, host: '0.0.0.0' }), { sendFilter: (to) => to.address.startsWith('127.0.61.') });
  t.teardown(() => server.close());
  const port = server.addresses()[0]!.port;
  const ms = { address: '127.0.0.1', port };
  const local = await UdpPeer.bind('127.0.61.1', 4342);
  const cloud = await UdpPeer.bind('127.0.61.2', 4342);
  const corr = await UdpPeer.bind('127.0.61.3', 4342);
  t.teardown(async () => { await local.close(); await cloud.close(); await corr.close(); });
  await local.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.61.1'], ttl: 1 }), ms);
  await local.receive();
  await corr.send(ecmRequestBytes({ eid: VM, sourceEid: '172.16.30.10', itr: '127.0.61.3' }), ms);
  await nextOfType(corr, 'map-reply');
  await new Promise((resolve) => setTimeout(resolve, 100)); // the kernel's source address toward the ITR is learnt
  await cloud.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.61.2'], ttl: 1 }), ms);
  const { message: smr } = await nextOfType<MapRequest>(corr, 'map-request');
  const itrRloc = smr.itrRlocs[0]!;
  t.ok(itrRloc.afi === 'ipv4' && itrRloc.ip !== '0.0.0.0', `ITR-RLOC ${itrRloc.afi === 'ipv4' ? itrRloc.ip : itrRloc.afi}`);
  // The SMR-invoked Map-Request goes to that ITR-RLOC, and is answered from there.
  const invoked = ecmRequestBytes({ eid: VM, sourceEid: '172.16.30.10', itr: '127.0.61.3', smrInvoked: true });
  await corr.send(invoked, { address: itrRloc.afi === 'ipv4' ? itrRloc.ip : '', port });
  const { message: reply } = await nextOfType<MapReply>(corr, 'map-reply');
  t.equal(reply.records[0]?.locators[0]?.rloc.afi === 'ipv4' && reply.records[0].locators[0].rloc.ip, '127.0.61.2', 'reached: answered with the new mapping');
});

t.test('POST /api/v1/moves moves the VM at once and SMRs the ITRs', async (t) => {
  const dir = t.testdir();
  const service = await startService(
    { ...labConfig(dir, { sites: SITES, host: '127.0.0.1' }), api: { listen: { host: '127.0.0.1', port: 0, family: 4 }, token: 'move-token-1' } },
    { logger: pino({ level: 'silent' }) },
  );
  t.teardown(() => service.close());
  const [ms] = service.lisp.addresses() as [Endpoint];
  const local = await UdpPeer.bind('127.0.5.1', 4342);
  const cloud = await UdpPeer.bind('127.0.5.2', 4342);
  const corr = await UdpPeer.bind('127.0.5.3', 4342);
  t.teardown(async () => { await local.close(); await cloud.close(); await corr.close(); });
  await local.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.5.1'], ttl: 1 }), ms);
  await local.receive();
  await cloud.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.5.2'] }), ms);
  await cloud.receive();
  await corr.send(ecmRequestBytes({ eid: VM, sourceEid: '172.16.30.10', itr: '127.0.5.3' }), ms);
  await corr.receive();

  const auth = { authorization: 'Bearer move-token-1' };
  const res = await service.api.inject({ method: 'POST', url: '/api/v1/moves', headers: auth, payload: { eid: VM, site: 'cloud' } });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), { eid: `${VM}/32`, from: ['127.0.5.1'], to: ['127.0.5.2'], smrs: 1 });
  const smr = decode((await corr.receive()).bytes) as MapRequest;
  t.ok(smr.smr);
  // The old ETR's refresh does not take it back.
  await local.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.5.1'], ttl: 1 }), ms);
  await nextOfType(local, 'map-notify');
  const lookup = await service.api.inject({ method: 'GET', url: `/api/v1/lookup?eid=${VM}`, headers: auth });
  t.match(lookup.json(), { kind: 'registered', prefix: `${VM}/32`, rlocs: [{ address: '127.0.5.2' }] });

  const bad = await service.api.inject({ method: 'POST', url: '/api/v1/moves', headers: auth, payload: { eid: VM } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /exactly one of body\.site and body\.rlocs/);
  const outside = await service.api.inject({ method: 'POST', url: '/api/v1/moves', headers: auth, payload: { eid: '8.8.8.8', rlocs: [{ address: '127.0.5.2' }] } });
  t.equal(outside.statusCode, 400);
  t.match(outside.json().message, /inside no configured site/);
  const withdraw = await service.api.inject({ method: 'DELETE', url: `/api/v1/moves?eid=${VM}`, headers: auth });
  t.equal(withdraw.statusCode, 204);
  t.match((await service.api.inject({ method: 'GET', url: `/api/v1/lookup?eid=${VM}`, headers: auth })).json(), { rlocs: [{ address: '127.0.5.1' }] }, 'withdrawn: the ETR registration answers again');
});

t.test('a flood of requests from spoofed ITR-RLOCs fills the requester table but cannot push out a registered xTR', async (t) => {
  const dir = t.testdir();
  const server = await LispServer.start(labConfig(dir, { sites: SITES, host: '127.0.0.1' }), { mobility: { enabled: true, requesterCapacity: 20 } });
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const local = await UdpPeer.bind('127.0.6.1', 4342);
  const cloud = await UdpPeer.bind('127.0.6.2', 4342);
  const xtr = await UdpPeer.bind('127.0.6.3', 4342);
  const pitr = await UdpPeer.bind('127.0.6.4', 4342);
  const attacker = await UdpPeer.bind('127.0.6.5');
  t.teardown(async () => { for (const p of [local, cloud, xtr, pitr, attacker]) await p.close(); });
  await local.send(mapRegisterBytes({ eid: '10.16.10.0/24', rlocs: ['127.0.6.1'] }), ms);
  await local.receive();
  await local.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.6.1'], ttl: 1 }), ms);
  await local.receive();
  // The correspondent site's xTR registers its own EIDs, so its address is a registered xTR's.
  await xtr.send(mapRegisterBytes({ eid: '172.16.30.0/24', rlocs: ['127.0.6.3'] }), ms);
  await xtr.receive();
  // Both it and an unregistered ITR (a PITR, say) resolve the VM.
  for (const itr of [xtr, pitr]) {
    await itr.send(ecmRequestBytes({ eid: VM, sourceEid: '172.16.30.10', itr: itr.local.address }), ms);
    await nextOfType(itr, 'map-reply');
  }
  // 100 requests for other hosts, each naming another ITR-RLOC: five times the table's capacity.
  for (let i = 0; i < 100; i++) {
    await attacker.send(ecmRequestBytes({ eid: `10.16.10.${100 + i}`, sourceEid: '172.16.30.10', itr: `127.0.7.${i + 1}` }), ms);
  }
  for (let i = 0; i < 100 && (await server.metrics.value('livmap_map_replies_total', { kind: 'negative' })) + (await server.metrics.value('livmap_map_replies_total', { kind: 'positive' })) < 102; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(server.requesters.size, 20, 'the table is full and bounded');

  await cloud.send(mapRegisterBytes({ eid: `${VM}/32`, rlocs: ['127.0.6.2'], ttl: 1 }), ms);
  await nextOfType(cloud, 'map-notify');
  const smr = await nextOfType<MapRequest>(xtr, 'map-request');
  t.ok(smr.message.smr, 'the registered xTR still gets the SMR');
  t.ok(await pitr.silentFor(300), 'the unregistered ITR was pushed out by the flood, oldest first (no SMR)');
});

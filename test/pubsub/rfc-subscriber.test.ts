// An RFC 9437 subscriber (I bit, xTR-ID + site-ID; built from the RFC 9437 §5 vector in
// test/vectors/interop.ts, ITR-RLOC rewritten to loopback): its subscription survives a flood
// of plain Map-Requests that overflows the requester table, and an unsubscribe (N bit with
// ITR-RLOC-AFI 0, RFC 9437 §5) ends it. Real UDP on 127.0.62.0/24, real LevelDB.
import t from 'tap';
import { createHmac } from 'node:crypto';
import type { Endpoint, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';
import { REQUEST_VECTORS } from '../vectors/interop.js';

const BLOCK = '127.0.62';
const KEY = 'rfc-pubsub-key';
const SITES: Site[] = [
  { name: 'vm', keys: [{ alg: 'hmac-sha1', secret: KEY }], prefixes: [{ eid: parseEidPrefix('10.16.50.0/24'), acceptMoreSpecifics: true }] },
  { name: 'corr', keys: [{ alg: 'hmac-sha1', secret: KEY }], prefixes: [{ eid: parseEidPrefix('172.16.30.0/24'), acceptMoreSpecifics: true }] },
];

const RFC = REQUEST_VECTORS.find((v) => v.name === 'RFC 9437 subscription')!.bytes;

/** The RFC vector with its ITR-RLOC (bytes 20..23) set to `itr`. */
function subscribe(itr: string): Buffer {
  const bytes = Buffer.from(RFC);
  Buffer.from(itr.split('.').map(Number)).copy(bytes, 20);
  return bytes;
}

/** The same request with ITR-RLOC-AFI 0 and no address (RFC 9437 §5: unsubscribe). */
function unsubscribe(): Buffer {
  return Buffer.concat([RFC.subarray(0, 18), Buffer.from([0, 0]), RFC.subarray(24)]);
}

function ack(notify: Buffer): Buffer {
  const a = Buffer.from(notify);
  a[0] = 0x50 | (a[0]! & 0x0f);
  const length = a.readUInt16BE(14);
  a.fill(0, 16, 16 + length);
  createHmac('sha1', KEY).update(a).digest().copy(a, 16);
  return a;
}

t.test('an RFC 9437 subscription outlives a requester flood and ends with an unsubscribe', async (t) => {
  const server = await LispServer.start(labConfig(t.testdir(), { sites: SITES, host: `${BLOCK}.100` }), {
    sendFilter: (to) => to.address.startsWith(`${BLOCK}.`),
    mobility: { enabled: true, requesterCapacity: 20 },
  });
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const etrA = await UdpPeer.bind(`${BLOCK}.1`, 4342);
  const etrB = await UdpPeer.bind(`${BLOCK}.2`, 4342);
  const sub = await UdpPeer.bind(`${BLOCK}.6`);
  const flood = await UdpPeer.bind(`${BLOCK}.7`);
  t.teardown(async () => { await etrA.close(); await etrB.close(); await sub.close(); await flood.close(); });

  await etrA.send(mapRegisterBytes({ eid: '10.16.50.50/32', rlocs: [`${BLOCK}.1`], ttl: 1, secret: KEY }), ms);
  await etrA.receive();
  await sub.send(subscribe(`${BLOCK}.6`), ms);
  const first = await sub.receive();
  t.equal(first.bytes[0]! >> 4, 4, 'subscription answered with a Map-Notify');
  t.equal(first.bytes[0]! & 0x08, 0x08, 'I bit: the subscriber used the RFC layout, the notify carries its xTR-ID + site-ID');
  t.equal(first.bytes.subarray(first.bytes.length - 24).toString('hex'), RFC.subarray(RFC.length - 24).toString('hex'), 'its xTR-ID and site-ID end the Map-Notify');
  await sub.send(ack(first.bytes), ms);

  // 200 plain requesters from other ITR-RLOCs (all answered to 127.0.62.7): the 20-entry requester table overflows.
  for (let i = 0; i < 200; i++) {
    await flood.send(ecmRequestBytes({ eid: '10.16.50.50', sourceEid: `172.16.30.${(i % 200) + 20}`, itr: `${BLOCK}.${8 + (i % 40)}`, port: flood.local.port }), ms);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.ok(server.requesters.size <= 20, `requester table bounded (${server.requesters.size})`);
  t.equal(server.subscriptions.size, 1, 'the subscription is not in it and not evicted');

  await etrB.send(mapRegisterBytes({ eid: '10.16.50.50/32', rlocs: [`${BLOCK}.2`], ttl: 1, secret: KEY }), ms);
  const moved = await sub.receive();
  t.equal(moved.bytes[0]! >> 4, 4, 'the move is notified');
  await sub.send(ack(moved.bytes), ms);
  t.ok(await sub.silentFor(1200), 'acknowledged');

  await sub.send(unsubscribe(), ms);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(server.subscriptions.size, 0, 'unsubscribed (ITR-RLOC-AFI 0)');
  await etrA.send(mapRegisterBytes({ eid: '10.16.50.50/32', rlocs: [`${BLOCK}.1`], ttl: 1, secret: KEY }), ms);
  await etrA.receive();
  t.ok(await sub.silentFor(800), 'no Map-Notify after the unsubscribe');
});

t.test('a subscriber of a prefix nobody registered yet is told of its first registration', async (t) => {
  const server = await LispServer.start(labConfig(t.testdir(), { sites: SITES, host: `${BLOCK}.101` }), { sendFilter: (to) => to.address.startsWith(`${BLOCK}.`) });
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind(`${BLOCK}.11`, 4342);
  const sub = await UdpPeer.bind(`${BLOCK}.16`);
  t.teardown(async () => { await etr.close(); await sub.close(); });
  const request = subscribe(`${BLOCK}.16`);
  t.equal(request.readUInt32BE(28), 0x0a103232, 'vector layout: the record EID at offset 28');
  request.writeUInt32BE(0x0a10323c, 28); // 10.16.50.60
  await sub.send(request, ms);
  const first = await sub.receive();
  t.equal(first.bytes[0]! >> 4, 4, 'answered with a Map-Notify');
  const record = 16 + first.bytes.readUInt16BE(14);
  t.equal(first.bytes[record + 4], 0, 'no locator yet (negative: inside the site, nothing registered)');
  await sub.send(ack(first.bytes), ms);
  await etr.send(mapRegisterBytes({ eid: '10.16.50.60/32', rlocs: [`${BLOCK}.11`], ttl: 1, secret: KEY }), ms);
  await etr.receive();
  const notified = await sub.receive();
  const at = 16 + notified.bytes.readUInt16BE(14);
  t.equal(notified.bytes[at + 4], 1, 'the first registration is notified: one locator');
  t.equal([...notified.bytes.subarray(at + 24, at + 28)].join('.'), `${BLOCK}.11`, "the ETR's RLOC");
  await sub.send(ack(notified.bytes), ms);
});

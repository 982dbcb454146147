// End to end, RFC 9437 pub/sub with a subscriber that speaks lispers.net's encoding: its
// subscription is issue #16's lispers.net vector (test/vectors/interop.ts) with only the
// ITR-RLOC rewritten to a loopback address; the Map-Notifies are parsed, verified (node:crypto
// HMAC) and acknowledged by hand, as lispers.net's lisp_process_map_notify does, never through
// livmap's codec. Real UDP on 127.0.60.0/24, real LevelDB, real timers; livmap restarts on the
// same data directory between two moves.
import t from 'tap';
import { createHmac } from 'node:crypto';
import type { Endpoint, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { LispServer } from '../../mapserver/compose/server.js';
import { mapRegisterBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';
import { REQUEST_VECTORS } from '../vectors/interop.js';

const BLOCK = '127.0.60';
const VM_KEY = 'vm-site-key';
const CORR_KEY = 'correspondent-site-key';
const SITES: Site[] = [
  { name: 'vm', keys: [{ alg: 'hmac-sha1', secret: VM_KEY }], prefixes: [{ eid: parseEidPrefix('10.16.50.0/24'), acceptMoreSpecifics: true }] },
  // The subscriber's source EID (172.16.30.10) is in this site: its key signs the notifies.
  { name: 'corr', keys: [{ alg: 'hmac-sha1', secret: CORR_KEY }], prefixes: [{ eid: parseEidPrefix('172.16.30.0/24'), acceptMoreSpecifics: true }] },
];

/** lispers.net's subscription with the ITR-RLOC (bytes 20..23, after AFI 1 at 18) set to `itr`. */
function lispersSubscription(itr: string): Buffer {
  const vector = REQUEST_VECTORS.find((v) => v.name === 'lispers.net subscription')!;
  const bytes = Buffer.from(vector.bytes);
  if (bytes.readUInt16BE(18) !== 1) throw new Error('vector layout changed: ITR-RLOC AFI not at offset 18');
  Buffer.from(itr.split('.').map(Number)).copy(bytes, 20);
  return bytes;
}

interface ParsedNotify {
  readonly type: number;
  readonly nonce: string;
  readonly keyId: number;
  readonly algId: number;
  readonly authData: Buffer;
  readonly eid: string;
  readonly rloc: string;
}

/** RFC 9301 §5.7 Map-Notify, parsed by offset (one IPv4 record with one IPv4 locator). */
function parseNotify(bytes: Buffer): ParsedNotify {
  const authLength = bytes.readUInt16BE(14);
  const record = 16 + authLength;
  const maskLen = bytes[record + 5]!;
  const eidAfi = bytes.readUInt16BE(record + 10);
  if (eidAfi !== 1) throw new Error(`EID AFI ${eidAfi}`);
  const eid = `${[...bytes.subarray(record + 12, record + 16)].join('.')}/${maskLen}`;
  const locator = record + 16;
  const rloc = [...bytes.subarray(locator + 8, locator + 12)].join('.');
  return {
    type: bytes[0]! >> 4,
    nonce: bytes.subarray(4, 12).toString('hex'),
    keyId: bytes[12]!,
    algId: bytes[13]!,
    authData: bytes.subarray(16, 16 + authLength),
    eid,
    rloc,
  };
}

function hmacSha1(bytes: Buffer, key: string, authLength: number): Buffer {
  const zeroed = Buffer.from(bytes);
  zeroed.fill(0, 16, 16 + authLength);
  return createHmac('sha1', key).update(zeroed).digest();
}

/** What lispers.net's xTR sends back: the Map-Notify as type 5, re-signed with its Map-Server key. */
function lispersAck(notify: Buffer, key: string): Buffer {
  const ack = Buffer.from(notify);
  ack[0] = 0x50 | (ack[0]! & 0x0f);
  const authLength = ack.readUInt16BE(14);
  if (authLength) hmacSha1(ack, key, authLength).copy(ack, 16);
  return ack;
}

t.test('a lispers.net subscriber: subscribe, move, signed Map-Notify, Ack, restart, move again', async (t) => {
  const dir = t.testdir();
  const options = { sendFilter: (to: Endpoint) => to.address.startsWith(`${BLOCK}.`) };
  const config = labConfig(dir, { sites: SITES, host: `${BLOCK}.100` });
  let server = await LispServer.start(config, options);
  t.teardown(() => server.close());
  const [ms] = server.addresses() as [Endpoint];
  const etrA = await UdpPeer.bind(`${BLOCK}.1`, 4342);
  const etrB = await UdpPeer.bind(`${BLOCK}.2`, 4342);
  const etrC = await UdpPeer.bind(`${BLOCK}.3`, 4342);
  // An ephemeral port: the notifies must come to the port the subscription came from.
  const subscriber = await UdpPeer.bind(`${BLOCK}.6`);
  t.teardown(async () => { await etrA.close(); await etrB.close(); await etrC.close(); await subscriber.close(); });
  t.not(subscriber.local.port, 4342);

  await etrA.send(mapRegisterBytes({ eid: '10.16.50.50/32', rlocs: [`${BLOCK}.1`], ttl: 1, secret: VM_KEY }), ms);
  await etrA.receive();

  // 1. Subscribe: answered with a Map-Notify carrying the request's nonce bytes as sent.
  await subscriber.send(lispersSubscription(`${BLOCK}.6`), ms);
  const first = await subscriber.receive();
  const ack1 = parseNotify(first.bytes);
  t.equal(ack1.type, 4, 'the subscription is answered with a Map-Notify (RFC 9437 §5, lispers.net)');
  t.equal(ack1.nonce, '8877665544332211', 'its nonce: the request nonce bytes echoed (lispers.net writes them in host order)');
  t.same([ack1.keyId, ack1.algId, ack1.authData.length], [0, 1, 20], 'key ID 0, HMAC-SHA-1, full digest');
  t.same(ack1.authData, hmacSha1(first.bytes, CORR_KEY, 20), "signed with the key of the subscriber's site");
  t.same([ack1.eid, ack1.rloc], ['10.16.50.50/32', `${BLOCK}.1`], 'the current mapping');
  await subscriber.send(lispersAck(first.bytes, CORR_KEY), ms);

  // 2. The VM moves to ETR B: the subscriber is notified (nonce + 1), verifies, acks.
  await etrB.send(mapRegisterBytes({ eid: '10.16.50.50/32', rlocs: [`${BLOCK}.2`], ttl: 1, secret: VM_KEY }), ms);
  const moved = await subscriber.receive();
  const n1 = parseNotify(moved.bytes);
  t.equal(n1.type, 4);
  t.equal(n1.nonce, '8877665544332212', "the subscription's nonce + 1");
  t.same(n1.authData, hmacSha1(moved.bytes, CORR_KEY, 20), 'signed: the subscriber can verify it');
  t.same([n1.eid, n1.rloc], ['10.16.50.50/32', `${BLOCK}.2`], 'the new mapping');
  t.equal(moved.from.port, ms.port, 'from the Map-Server port');
  await subscriber.send(lispersAck(moved.bytes, CORR_KEY), ms);
  t.ok(await subscriber.silentFor(1500), 'acknowledged: not retransmitted');

  // 3. Restart livmap on the same data directory.
  await server.close();
  server = await LispServer.start(config, options);
  const [ms2] = server.addresses() as [Endpoint];
  t.equal(server.subscriptions.size, 1, 'the subscription came back from the store');

  // 4. The VM moves again (to ETR C): the subscriber is notified again, nonce + 2.
  await etrC.send(mapRegisterBytes({ eid: '10.16.50.50/32', rlocs: [`${BLOCK}.3`], ttl: 1, secret: VM_KEY }), ms2);
  const again = await subscriber.receive(4000);
  const n2 = parseNotify(again.bytes);
  t.equal(n2.nonce, '8877665544332213', 'the stored nonce went on');
  t.same(n2.authData, hmacSha1(again.bytes, CORR_KEY, 20), 'signed');
  t.same([n2.eid, n2.rloc], ['10.16.50.50/32', `${BLOCK}.3`], 'the new mapping after the restart');
  // Not acknowledged at first: retransmitted, then acknowledged.
  const resent = await subscriber.receive(2500);
  t.same(resent.bytes, again.bytes, 'an unacknowledged Map-Notify is retransmitted unchanged');
  await subscriber.send(lispersAck(again.bytes, CORR_KEY), ms2);
  t.ok(await subscriber.silentFor(1500), 'acknowledged: retransmission stops');
});

// The emulated xTR against a live livmap on loopback, and against scripted peers where the exact
// packets matter (ECM Map-Requests, SMR handling as in OOR vector 04 frames 42-44).
import t from 'tap';
import { decode, encode, signMessage } from '../../mapserver/codec/index.js';
import type { EncapsulatedControl, LispMessage, MapNotify, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import { formatEidPrefix, parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { startLabServer } from '../helpers/server.js';
import { INTEROP_KEY, record } from '../helpers/fixtures.js';
import { UdpPeer, type Datagram } from '../helpers/udp.js';
import { controlFrames, frame } from '../helpers/vectors.js';
import { buildUdpPacket, parseUdpPacket } from '../../simulations/inner.js';
import { EmulatedXtr, type XtrConfig } from '../../simulations/xtr.js';

/** A /24 of loopback of our own, so parallel test files never share 4342/4341. */
function block(): string {
  return `127.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
}

async function until(check: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

/** The next datagram whose message is of `type` (Map-Registers etc. in between are skipped). */
async function receiveType(peer: UdpPeer, type: LispMessage['type'], ms = 2000): Promise<{ d: Datagram; m: LispMessage }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const d = await peer.receive(Math.max(1, deadline - Date.now()));
    const m = decode(d.bytes);
    if (m.type === type) return { d, m };
  }
}

function xtrConfig(name: string, rloc: string, eid: string, ms: { address: string; port: number }, extra: Partial<XtrConfig> = {}): XtrConfig {
  return { name, rloc, eidPrefixes: [eid], mapServer: ms, key: INTEROP_KEY, proxyReply: false, registerIntervalMs: 60_000, ...extra };
}

t.test('registers, resolves through livmap and carries data end to end', async (t) => {
  const server = await startLabServer(t);
  const ms = server.addresses()[0]!;
  const b = block();
  const a = await EmulatedXtr.start(xtrConfig('a', `${b}.1`, '10.16.10.0/24', ms));
  const bx = await EmulatedXtr.start(xtrConfig('b', `${b}.2`, '192.168.20.0/24', ms, { proxyReply: true }));
  t.teardown(async () => { await a.close(); await bx.close(); });

  t.ok(await until(() => a.stats.notifiesAccepted === 1 && bx.stats.notifiesAccepted === 1), 'both registrations acknowledged by Map-Notify');
  t.equal(server.db.liveRegistrations, 2);

  const atB: Buffer[] = [];
  const atA: Buffer[] = [];
  bx.attachHost('192.168.20.10', (p) => atB.push(p), { register: false });
  a.attachHost('10.16.10.10', (p) => atA.push(p), { register: false });
  const ping = buildUdpPacket({ source: '10.16.10.10', destination: '192.168.20.10', sourcePort: 1000, destinationPort: 2000, payload: Buffer.from('ping') });

  a.send(ping);
  t.equal(a.stats.dropUnresolved, 1, 'the first packet is dropped while unresolved, as OOR does');
  t.equal(a.stats.mapRequestsSent, 1, 'one ECM Map-Request');
  a.send(ping);
  t.equal(a.stats.mapRequestsSent, 1, 'no second Map-Request while one is pending');
  t.ok(await until(() => a.lookupCache('192.168.20.10') !== undefined), 'map-cache filled from the proxy Map-Reply');
  const entry = a.lookupCache('192.168.20.10')!;
  t.equal(formatEidPrefix(entry.prefix), '192.168.20.0/24');
  t.same(entry.locators.map((l) => l.rloc), [{ afi: 'ipv4', ip: `${b}.2` }]);

  a.send(ping);
  t.ok(await until(() => atB.length === 1), 'decapsulated and delivered at B');
  t.same(parseUdpPacket(atB[0]!)?.payload, Buffer.from('ping'));

  // The answer needs B to resolve A's EID: livmap forwards the ECM to A (P=0), A's ETR replies.
  const pong = buildUdpPacket({ source: '192.168.20.10', destination: '10.16.10.10', sourcePort: 2000, destinationPort: 1000, payload: Buffer.from('pong') });
  bx.send(pong);
  t.ok(await until(() => bx.lookupCache('10.16.10.10') !== undefined), 'B resolved A through the forwarded Map-Request');
  t.equal(a.stats.etrRepliesSent, 1, "A's ETR answered");
  t.equal(formatEidPrefix(bx.lookupCache('10.16.10.10')!.prefix), '10.16.10.0/24');
  bx.send(pong);
  t.ok(await until(() => atA.length === 1), 'the answer came back');
  t.same(parseUdpPacket(atA[0]!)?.payload, Buffer.from('pong'));
});

t.test('hosted EIDs come and go at runtime: registered at once, then no more (or for a while)', async (t) => {
  const b = block();
  const msPeer = await UdpPeer.bind(`${b}.9`);
  const a = await EmulatedXtr.start(xtrConfig('a', `${b}.1`, '10.16.10.0/24', msPeer.local, { registerIntervalMs: 40 }));
  t.teardown(async () => { await a.close(); await msPeer.close(); });

  const registers = async (ms: number): Promise<string[]> => {
    const seen: string[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      try {
        const d = await msPeer.receive(Math.max(1, end - Date.now()));
        const m = decode(d.bytes);
        if (m.type === 'map-register') seen.push(`${formatEidPrefix(m.records[0]!.eid)} ttl ${m.records[0]!.ttl}`);
      } catch { /* quiet period */ }
    }
    return seen;
  };

  const first = await receiveType(msPeer, 'map-register');
  const reg = first.m as Extract<LispMessage, { type: 'map-register' }>;
  t.ok(reg.wantMapNotify, 'M bit (want Map-Notify)');
  t.equal(reg.records.length, 1, 'one record per Map-Register');
  t.same({ keyId: reg.auth.keyId, algId: reg.auth.algId, length: reg.auth.authData.length }, { keyId: 0, algId: 1, length: 20 }, 'key field 0x0001, full 20-byte HMAC-SHA-1');
  t.equal(Buffer.from(first.d.bytes).equals(signMessage(reg, INTEROP_KEY)), true, 'HMAC verifies with the shared key');
  t.same(reg.records[0]!.locators[0]!.rloc, { afi: 'ipv4', ip: `${b}.1` });

  a.attachHost('10.16.10.50', () => {}, { ttlMinutes: 1 });
  const burst = await registers(30);
  t.ok(burst.includes('10.16.10.50/32 ttl 1'), 'the new /32 is registered at once');
  t.ok(burst.some((s) => s.startsWith('10.16.10.0/24')), '... in a burst with every other mapping, as OOR sends on a change');

  a.detachHost('10.16.10.50');
  let seen = await registers(150);
  // A burst the xTR sent just before the detach may still be read here (a loaded machine reads
  // late): what must hold is that no withdrawal is ever sent and that the bursts go on without it.
  t.notOk(seen.some((s) => s.startsWith('10.16.10.50/32 ttl 0')), 'never a TTL-0 withdrawal');
  const lastOfHost = seen.map((s) => s.startsWith('10.16.10.50/32')).lastIndexOf(true);
  const afterLast = seen.slice(lastOfHost + 1);
  t.ok(afterLast.filter((s) => s.startsWith('10.16.10.0/24')).length >= 2, `no longer registered after it left: bursts of the site prefix go on without it (${seen.join(', ')})`);

  a.attachHost('10.16.10.51', () => {});
  a.detachHost('10.16.10.51', { keepRegisteringMs: 120 });
  seen = await registers(100);
  t.ok(seen.includes('10.16.10.51/32 ttl 1'), 'a stale xTR keeps re-registering for a while');
  await registers(60);
  seen = await registers(150);
  t.notOk(seen.some((s) => s.startsWith('10.16.10.51/32')), '...and then stops');
});

t.test('ECM Map-Requests, the data header, and SMRs handled as OOR does (vector 04 frames 42-44)', async (t) => {
  const v04 = controlFrames('04-smr-rloc-change.pcap');
  const smr42 = frame(v04, 42).message as MapRequest;
  const ecm43 = frame(v04, 43).message as EncapsulatedControl;
  const reply44 = frame(v04, 44).message as MapReply;
  t.ok(smr42.smr && !smr42.smrInvoked, 'frame 42 is an SMR');

  const b = block();
  const mr = await UdpPeer.bind(`${b}.9`);
  const oldEtr = await UdpPeer.bind(`${b}.4`, 4341);
  const newEtr = await UdpPeer.bind(`${b}.5`, 4341);
  const smrSender = await UdpPeer.bind(`${b}.5`, 4342);
  const a = await EmulatedXtr.start(xtrConfig('a', `${b}.3`, '10.16.10.0/24', mr.local));
  t.teardown(async () => { await a.close(); await mr.close(); await oldEtr.close(); await newEtr.close(); await smrSender.close(); });
  const data = buildUdpPacket({ source: '10.16.10.10', destination: '192.168.20.10', sourcePort: 5, destinationPort: 6, payload: Buffer.from('x') });

  // A miss: ECM Map-Request as OOR sends it (vector 02 frame 1).
  a.send(data);
  const miss = await receiveType(mr, 'ecm');
  const ecm = miss.m as EncapsulatedControl;
  const request = ecm.message as MapRequest;
  t.match(ecm.inner, { version: 4, source: '10.16.10.10', destination: '192.168.20.10', sourcePort: 4342, destinationPort: 4342, ttl: 255, ipFlags: 2 });
  t.match(request, { smr: false, smrInvoked: false, probe: false, sourceEid: { afi: 'ipv4', ip: '10.16.10.10' }, itrRlocs: [{ afi: 'ipv4', ip: `${b}.3` }] });
  t.same(request.records.map(formatEidPrefix), ['192.168.20.10/32']);

  // A reply with another nonce is ignored; the right one installs 192.168.20.0/24 -> old ETR.
  const old = record('192.168.20.0/24', [`${b}.4`], 10);
  await mr.send(encode({ ...reply44, nonce: request.nonce ^ 1n, records: [old] }), { address: `${b}.3`, port: 4342 });
  await mr.send(encode({ ...reply44, nonce: request.nonce, records: [old] }), { address: `${b}.3`, port: 4342 });
  t.ok(await until(() => a.lookupCache('192.168.20.10') !== undefined), 'cache installed');
  t.equal(a.stats.mapRepliesIgnored, 1, 'the reply with a foreign nonce was ignored');

  a.send(data);
  const encapsulated = await oldEtr.receive();
  t.same([...encapsulated.bytes.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 0], 'LISP data header with every flag 0, as OOR sends');
  t.ok(encapsulated.bytes.subarray(8).equals(data), 'the inner packet follows unchanged');
  t.equal(encapsulated.from.port, 4341, 'sent from the data port');

  // Ignored SMRs: a record that is not our EID, and a source EID we do not cache.
  const withLoopback = (m: MapRequest): MapRequest => ({ ...m, itrRlocs: [{ afi: 'ipv4', ip: `${b}.5` }] });
  await smrSender.send(encode(withLoopback({ ...smr42, records: [parseEidPrefix('10.99.0.0/24')] })), { address: `${b}.3`, port: 4342 });
  await smrSender.send(encode(withLoopback({ ...smr42, sourceEid: { afi: 'ipv4', ip: '172.16.0.1' } })), { address: `${b}.3`, port: 4342 });
  t.ok(await until(() => a.stats.smrsIgnored === 2), 'two SMRs ignored');
  t.ok(await mr.silentFor(50), 'and no SMR-invoked Map-Request for them');

  // Frame 42 itself (ITR-RLOC on loopback): the SMR-invoked ECM has frame 43's structure.
  await smrSender.send(encode(withLoopback(smr42)), { address: `${b}.3`, port: 4342 });
  const invoked = (await receiveType(mr, 'ecm')).m as EncapsulatedControl;
  const invokedRequest = invoked.message as MapRequest;
  const expected = ecm43.message as MapRequest;
  const { ipId: _ours, ...ourInner } = invoked.inner;
  const { ipId: _oors, ...oorInner } = ecm43.inner;
  t.same(
    { inner: ourInner, smrInvoked: invokedRequest.smrInvoked, smr: invokedRequest.smr, sourceEid: invokedRequest.sourceEid, records: invokedRequest.records },
    { inner: oorInner, smrInvoked: true, smr: false, sourceEid: expected.sourceEid, records: expected.records },
    'inner 10.16.10.0 -> 192.168.20.0, UDP 4342 -> 4342, s=1, source EID 10.16.10.0, record 192.168.20.0/24 (frame 43)',
  );
  t.same(invokedRequest.itrRlocs, [{ afi: 'ipv4', ip: `${b}.3` }], 'our RLOC as ITR-RLOC');
  t.ok(await smrSender.silentFor(30), 'no Map-Reply to the SMR itself');

  // A reply for a prefix that is not exactly the cached one changes nothing...
  await mr.send(encode({ ...reply44, nonce: invokedRequest.nonce, records: [record('192.168.20.0/25', [`${b}.5`], 10)] }), { address: `${b}.3`, port: 4342 });
  t.ok(await until(() => a.stats.mapRepliesIgnored === 2), 'reply for 192.168.20.0/25 ignored');
  t.same(a.lookupCache('192.168.20.10')!.locators[0]!.rloc, { afi: 'ipv4', ip: `${b}.4` }, 'still the old RLOC');

  // ...and frame 44 (the MS proxy reply with the new RLOC) updates the entry.
  await smrSender.send(encode(withLoopback(smr42)), { address: `${b}.3`, port: 4342 });
  const again = ((await receiveType(mr, 'ecm')).m as EncapsulatedControl).message as MapRequest;
  const newRecord = { ...reply44.records[0]!, locators: reply44.records[0]!.locators.map((l) => ({ ...l, rloc: { afi: 'ipv4' as const, ip: `${b}.5` } })) };
  await mr.send(encode({ ...reply44, nonce: again.nonce, records: [newRecord] }), { address: `${b}.3`, port: 4342 });
  t.ok(await until(() => a.lookupCache('192.168.20.10')?.locators[0]?.rloc.afi === 'ipv4' && (a.lookupCache('192.168.20.10')!.locators[0]!.rloc as { ip: string }).ip === `${b}.5`), 'cache entry now points at the new RLOC');
  a.send(data);
  const moved = await newEtr.receive();
  t.ok(moved.bytes.subarray(8).equals(data), 'traffic follows to the new RLOC');
});

t.test('a Map-Notify whose nonce the xTR did not send is ignored (as OOR does)', async (t) => {
  const b = block();
  const msPeer = await UdpPeer.bind(`${b}.9`);
  const a = await EmulatedXtr.start(xtrConfig('a', `${b}.1`, '10.16.10.0/24', msPeer.local));
  t.teardown(async () => { await a.close(); await msPeer.close(); });
  const reg = (await receiveType(msPeer, 'map-register')).m as Extract<LispMessage, { type: 'map-register' }>;
  const notify = (nonce: bigint, key = INTEROP_KEY): Buffer => {
    const n: MapNotify = { type: 'map-notify', xtrIdPresent: false, rtr: false, nonce, auth: reg.auth, records: reg.records };
    return signMessage(n, key);
  };
  await msPeer.send(notify(reg.nonce + 1n), { address: `${b}.1`, port: 4342 });
  await msPeer.send(notify(reg.nonce, 'wrong-key'), { address: `${b}.1`, port: 4342 });
  t.ok(await until(() => a.stats.notifiesIgnored === 2), 'unsolicited and badly signed Map-Notifies ignored');
  await msPeer.send(notify(reg.nonce), { address: `${b}.1`, port: 4342 });
  t.ok(await until(() => a.stats.notifiesAccepted === 1), 'the answer to our Map-Register accepted');
});

// Golden vectors: every LISP control message OOR sent in test/vectors/oor decodes to the fields
// the README lists, re-encodes byte-identical, and every Map-Register/Map-Notify HMAC verifies.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { readCapture, type CaptureFrame } from '../../mapserver/pcap/read.js';
import {
  decode,
  encode,
  encodingLength,
  verifyMessage,
  signMessage,
  type EncapsulatedControl,
  type LispMessage,
  type MapRequest,
  type MappingRecord,
} from '../../mapserver/codec/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors', 'oor');
const KEY = 'lisp-interop-key';
const FILES = [
  '01-register-notify',
  '02-resolve-ping',
  '03-negative-map-reply',
  '04-smr-rloc-change',
  '05-mobility-ttl-expiry',
  '06-mobility-smr-assisted',
  '07-iid-lcaf',
] as const;

interface Control {
  readonly frame: CaptureFrame;
  readonly payload: Uint8Array;
  readonly msg: LispMessage;
}

function controlMessages(file: string, ext: 'pcap' | 'pcapng'): Control[] {
  const path = ext === 'pcap' ? join(dir, `${file}.pcap`) : join(dir, 'pcapng', `${file}.pcapng`);
  const out: Control[] = [];
  for (const frame of readCapture(readFileSync(path))) {
    const udp = frame.udp;
    if (!udp || (udp.sourcePort !== 4342 && udp.destinationPort !== 4342)) continue;
    out.push({ frame, payload: udp.payload, msg: decode(udp.payload) });
  }
  return out;
}

const byFile = new Map<string, Control[]>();
for (const f of FILES) byFile.set(f, controlMessages(f, 'pcap'));

function at(file: string, index: number): LispMessage {
  const c = byFile.get(file)!.find((x) => x.frame.index === index);
  if (!c) throw new Error(`${file}: no control frame ${index}`);
  return c.msg;
}
/** The message interface whose `type` union contains T (MapNotify covers two types). */
type MessageOf<T, M = LispMessage> = M extends LispMessage ? (T extends M['type'] ? M : never) : never;
function as<T extends LispMessage['type']>(m: LispMessage, type: T): MessageOf<T> {
  if (m.type !== type) throw new Error(`expected ${type}, got ${m.type}`);
  return m as MessageOf<T>;
}
const v4 = (ip: string) => ({ afi: 'ipv4', ip }) as const;
const eid = (ip: string, length: number, iid = 0) => ({ iid, address: v4(ip), length });

function siteRecord(ip: string, length: number, ttl: number, rloc: string, local: boolean, authoritative = true): MappingRecord {
  return {
    eid: eid(ip, length),
    ttl,
    action: 0,
    authoritative,
    mapVersion: 0,
    locators: [{ priority: 1, weight: 100, mPriority: 255, mWeight: 0, local, probed: false, reachable: true, rloc: v4(rloc) }],
  };
}

t.test('every control message re-encodes byte-identical, in both capture formats', async (t) => {
  let total = 0;
  for (const f of FILES) {
    const msgs = byFile.get(f)!;
    t.ok(msgs.length > 0, `${f} has control messages`);
    for (const c of msgs) {
      const again = encode(c.msg);
      t.equal(encodingLength(c.msg), c.payload.length, `${f} frame ${c.frame.index} encodingLength`);
      t.ok(again.equals(c.payload), `${f} frame ${c.frame.index} (${c.msg.type}) re-encodes byte-identical`);
      t.same(decode(again), c.msg, `${f} frame ${c.frame.index} decode(encode) is stable`);
      total++;
    }
    const fromNg = controlMessages(f, 'pcapng');
    t.same(fromNg.map((c) => c.msg), msgs.map((c) => c.msg), `${f}.pcapng decodes to the same messages`);
  }
  // 4 + 5 + 6 + 5 + 22 + 17 + 12 control frames (data frames on 4341 excluded).
  t.equal(total, 71, 'control messages decoded');
});

t.test('all 40 Map-Register/Map-Notify HMAC-SHA-1 authentications verify', async (t) => {
  let verified = 0;
  for (const f of FILES) {
    for (const c of byFile.get(f)!) {
      if (c.msg.type !== 'map-register' && c.msg.type !== 'map-notify') continue;
      t.equal(c.msg.auth.keyId, 0, 'key ID byte 0');
      t.equal(c.msg.auth.algId, 1, 'algorithm 1 (OOR key id 0x0001)');
      t.equal(c.msg.auth.authData.length, 20, 'full 20-byte HMAC-SHA-1');
      t.ok(verifyMessage(c.payload, KEY), `${f} frame ${c.frame.index} verifies`);
      t.notOk(verifyMessage(c.payload, 'wrong-key'), `${f} frame ${c.frame.index} fails with a wrong key`);
      t.ok(signMessage(c.msg, KEY).equals(c.payload), `${f} frame ${c.frame.index} signMessage reproduces OOR's bytes`);
      verified++;
    }
  }
  t.equal(verified, 40);
});

t.test('each Map-Notify answers a Map-Register: same nonce, same records (MS sends L=0)', async (t) => {
  let pairs = 0;
  for (const f of FILES) {
    const msgs = byFile.get(f)!.map((c) => c.msg);
    for (const n of msgs) {
      if (n.type !== 'map-notify') continue;
      const reg = msgs.find((m): m is Extract<LispMessage, { type: 'map-register' }> => m.type === 'map-register' && m.nonce === n.nonce);
      if (!reg) {
        t.fail(`${f}: no Map-Register with nonce ${n.nonce.toString(16)}`);
        continue;
      }
      const expected = reg.records.map((r) => ({ ...r, locators: r.locators.map((l) => ({ ...l, local: false })) }));
      t.same(n.records, expected, `${f} nonce ${n.nonce.toString(16)}`);
      pairs++;
    }
  }
  t.equal(pairs, 20);
});

t.test('01 register/notify', async (t) => {
  const reg = as(at('01-register-notify', 1), 'map-register');
  t.match(reg, { proxyReply: true, wantMapNotify: true, security: false, xtrIdPresent: false, rtr: false, merge: false, nonce: 0xffd90d6f762919dcn });
  t.same(reg.records, [siteRecord('192.168.20.0', 24, 10, '10.99.0.4', true)]);
  const notify = as(at('01-register-notify', 2), 'map-notify');
  t.match(notify, { xtrIdPresent: false, rtr: false, nonce: 0xffd90d6f762919dcn });
  // The MS repeats the record but sends locator flags R only (L=0).
  t.same(notify.records, [siteRecord('192.168.20.0', 24, 10, '10.99.0.4', false)]);
  const reg3 = as(at('01-register-notify', 3), 'map-register');
  t.match(reg3, { proxyReply: false, wantMapNotify: true, nonce: 0xffea1f6f763b22ban });
  t.same(reg3.records, [siteRecord('10.16.10.0', 24, 10, '10.99.0.3', true)]);
  t.equal(as(at('01-register-notify', 4), 'map-notify').nonce, 0xffea1f6f763b22ban);
});

function checkRequestEcm(t: Test, e: EncapsulatedControl, inner: Partial<EncapsulatedControl['inner']>, req: Partial<MapRequest>): MapRequest {
  t.match(e, { security: false, ddt: false });
  t.notOk(e.toEtr);
  t.notOk(e.toMs);
  t.match(e.inner, { version: 4, sourcePort: 4342, destinationPort: 4342, ttl: 255, ipFlags: 2, ...inner });
  t.notOk(e.inner.badIpChecksum, 'inner IPv4 checksum is valid');
  t.notOk(e.inner.badUdpChecksum, 'inner UDP checksum is valid');
  t.notOk(e.inner.udpChecksumZero, 'OOR computes the inner UDP checksum over IPv4');
  const m = as(e.message, 'map-request');
  t.match(m, req);
  return m;
}

t.test('02 resolve: ECM Map-Request, proxy and ETR Map-Replies', async (t) => {
  const e = as(at('02-resolve-ping', 1), 'ecm');
  const req = checkRequestEcm(t, e, { source: '10.16.10.10', destination: '192.168.20.10', ipId: 2 }, {
    authoritative: false, mapDataPresent: false, probe: false, smr: false, pitr: false, smrInvoked: false,
    notifyRequested: false, localXtr: false, dontMapReply: false, nonce: 0x8ff9656b4945b08fn,
  });
  t.same(req.sourceEid, v4('10.16.10.10'));
  t.same(req.itrRlocs, [v4('10.99.0.3')]);
  t.same(req.records, [eid('192.168.20.10', 32)]);
  t.equal(req.xtrId, undefined);
  t.equal(req.mapReply, undefined);

  const proxy = as(at('02-resolve-ping', 2), 'map-reply');
  t.match(proxy, { probe: false, echoNonce: false, security: false, nonce: 0x8ff9656b4945b08fn });
  t.same(proxy.records, [siteRecord('192.168.20.0', 24, 10, '10.99.0.4', false, false)]);

  const e4 = as(at('02-resolve-ping', 4), 'ecm');
  const req4 = checkRequestEcm(t, e4, { source: '192.168.20.10', destination: '10.16.10.10' }, { nonce: 0xbdebb76b69966bbdn });
  t.same(req4.itrRlocs, [v4('10.99.0.4')]);
  t.same(req4.records, [eid('10.16.10.10', 32)]);
  t.same(at('02-resolve-ping', 5), e4, 'the MS forwards the ECM unchanged');

  const etr = as(at('02-resolve-ping', 6), 'map-reply');
  t.equal(etr.nonce, 0xbdebb76b69966bbdn);
  t.same(etr.records, [siteRecord('10.16.10.0', 24, 10, '10.99.0.3', true)]);
});

t.test('03 negative Map-Replies', async (t) => {
  const req = checkRequestEcm(t, as(at('03-negative-map-reply', 1), 'ecm'), { destination: '10.16.99.1' }, { nonce: 0x5bdd1f7b5f3f1549n });
  t.same(req.records, [eid('10.16.99.1', 32)]);
  for (const [frame, nonce] of [[2, 0x5bdd1f7b5f3f1549n], [4, 0xfdddb77f78975ce9n]] as const) {
    const rep = as(at('03-negative-map-reply', frame), 'map-reply');
    t.equal(rep.nonce, nonce);
    // OOR bug kept as captured: 11.16.64.0/18 instead of 10.16.64.0/18.
    t.same(rep.records, [{ eid: eid('11.16.64.0', 18), ttl: 15, action: 1, authoritative: true, mapVersion: 0, locators: [] }]);
  }
  const rep6 = as(at('03-negative-map-reply', 6), 'map-reply');
  t.same(rep6.records, [{ eid: eid('172.31.250.5', 32), ttl: 1, action: 1, authoritative: true, mapVersion: 0, locators: [] }]);
});

t.test('04 SMR and SMR-invoked request', async (t) => {
  const reg = as(at('04-smr-rloc-change', 40), 'map-register');
  t.same(reg.records, [siteRecord('192.168.20.0', 24, 10, '10.99.0.5', true)]);
  t.equal(as(at('04-smr-rloc-change', 41), 'map-notify').nonce, reg.nonce);
  const smr = as(at('04-smr-rloc-change', 42), 'map-request');
  t.match(smr, { smr: true, smrInvoked: false, probe: false, nonce: 0n });
  t.same(smr.sourceEid, v4('192.168.20.0'));
  t.same(smr.itrRlocs, [v4('10.99.0.5')]);
  t.same(smr.records, [eid('10.16.10.0', 24)]);
  const invoked = checkRequestEcm(t, as(at('04-smr-rloc-change', 43), 'ecm'), { source: '10.16.10.0', destination: '192.168.20.0' }, {
    smr: false, smrInvoked: true, nonce: 0xfdd9e76fa8c210fdn,
  });
  t.same(invoked.sourceEid, v4('10.16.10.0'));
  t.same(invoked.records, [eid('192.168.20.0', 24)]);
  const rep = as(at('04-smr-rloc-change', 44), 'map-reply');
  t.equal(rep.nonce, invoked.nonce);
  t.same(rep.records, [siteRecord('192.168.20.0', 24, 10, '10.99.0.5', false, false)]);
});

t.test('05 mobility with TTL expiry', async (t) => {
  const f = '05-mobility-ttl-expiry';
  const req = checkRequestEcm(t, as(at(f, 1), 'ecm'), { source: '172.16.30.10', destination: '10.16.50.50' }, {});
  t.same(req.records, [eid('10.16.50.50', 32)]);
  t.same(as(at(f, 3), 'map-reply').records, [siteRecord('10.16.50.50', 32, 1, '10.99.0.3', true)]);
  t.same(as(at(f, 5), 'map-register').records, [siteRecord('10.16.50.50', 32, 1, '10.99.0.4', true)]);
  t.match(as(at(f, 5), 'map-register'), { proxyReply: true });
  t.same(as(at(f, 8), 'map-register').records, [siteRecord('10.16.10.0', 24, 10, '10.99.0.3', true)]);
  t.same(as(at(f, 13), 'map-reply').records, [siteRecord('10.16.50.50', 32, 1, '10.99.0.4', false, false)]);
  t.same(as(at(f, 16), 'map-reply').records, [siteRecord('172.16.30.0', 24, 10, '10.99.0.6', true)]);
});

t.test('06 SMR-assisted move', async (t) => {
  const f = '06-mobility-smr-assisted';
  for (const [frame, source] of [[11, '192.168.20.0'], [13, '10.16.50.50']] as const) {
    const smr = as(at(f, frame), 'map-request');
    t.match(smr, { smr: true, nonce: 0n });
    t.same(smr.sourceEid, v4(source));
    t.same(smr.itrRlocs, [v4('10.99.0.14')]);
    t.same(smr.records, [eid('172.16.30.0', 24)]);
  }
  const invoked = checkRequestEcm(t, as(at(f, 14), 'ecm'), { source: '172.16.30.0', destination: '10.16.50.50' }, { smrInvoked: true });
  t.same(invoked.records, [eid('10.16.50.50', 32)]);
  t.same(as(at(f, 17), 'map-reply').records, [siteRecord('10.16.50.50', 32, 1, '10.99.0.14', false, false)]);
});

t.test('07 Instance-ID LCAF', async (t) => {
  const f = '07-iid-lcaf';
  const c8 = byFile.get(f)!.find((c) => c.frame.index === 8)!;
  const lcafAt = Buffer.from(c8.payload).indexOf(Buffer.from([0x40, 0x03, 0x00, 0x00, 0x02, 0x20, 0x00, 0x0a]));
  t.ok(lcafAt > 0, 'LCAF header bytes 00 00 02 20 00 0a are on the wire');
  const reg = as(c8.msg, 'map-register');
  t.same(reg.records[0]!.eid, eid('172.16.31.0', 24, 7));
  t.same(reg.records[0]!.locators[0]!.rloc, v4('10.99.0.6'));
  t.same(as(at(f, 10), 'map-notify').records[0]!.eid, eid('172.16.31.0', 24, 7));
  const req = checkRequestEcm(t, as(at(f, 11), 'ecm'), { source: '172.16.31.10', destination: '10.16.10.10' }, {});
  t.same(req.sourceEid, { afi: 'lcaf-iid', iid: 7, maskLen: 32, flags: 0, address: v4('172.16.31.10') });
  t.same(req.itrRlocs, [v4('10.99.0.6')]);
  t.same(req.records, [eid('10.16.10.10', 32, 7)]);
  const neg = as(at(f, 12), 'map-reply');
  t.same(neg.records, [{ eid: eid('0.0.0.0', 1, 7), ttl: 15, action: 0, authoritative: true, mapVersion: 0, locators: [] }]);
});

t.test('message type counts', async (t) => {
  const counts: Record<string, number> = {};
  for (const f of FILES) for (const c of byFile.get(f)!) counts[c.msg.type] = (counts[c.msg.type] ?? 0) + 1;
  t.same(counts, { 'map-register': 20, 'map-notify': 20, ecm: 16, 'map-reply': 12, 'map-request': 3 });
});

// The pure handlers replayed against OOR's captures: what livmap sends must equal what OOR's
// Map-Server sent, byte for byte, except where the vectors' README says OOR is wrong.
import t from 'tap';
import { encode, signMessage, verifyMessage } from '../../mapserver/codec/index.js';
import type { MapNotify, MapRegister, MapReply, MapRequest } from '../../mapserver/codec/types.js';
import { handleMapRegister } from '../../mapserver/control/map-server.js';
import { handleMapRequest } from '../../mapserver/control/map-resolver.js';
import type { HandlerResult, Outbound } from '../../mapserver/control/types.js';
import { MappingDatabase } from '../../mapserver/db/database.js';
import { formatEidPrefix } from '../../mapserver/codec/prefix.js';
import { INTEROP_KEY, OOR_LAB_SITES } from '../helpers/fixtures.js';
import { controlFrames, frame, type ControlFrame } from '../helpers/vectors.js';

const NOW = 1_700_000_000_000;
const families = new Set<'ipv4' | 'ipv6'>(['ipv4', 'ipv6']);

function labDb(): MappingDatabase {
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  db.apply(OOR_LAB_SITES.map((site) => ({ kind: 'put-site' as const, site })));
  return db;
}

function register(db: MappingDatabase, f: ControlFrame): HandlerResult {
  const result = handleMapRegister(db, { registrationTtlMs: 180_000 }, f.message as MapRegister, f.bytes, f.from, NOW);
  db.apply(result.changes);
  return result;
}

function request(db: MappingDatabase, f: ControlFrame): HandlerResult {
  const m = f.message;
  if (m.type === 'ecm') return handleMapRequest(db, { families }, m.message as MapRequest, { ecm: m, bytes: f.bytes }, f.from, NOW);
  return handleMapRequest(db, { families }, m as MapRequest, undefined, f.from, NOW);
}

function wire(out: Outbound): Buffer {
  if (out.kind === 'raw') return Buffer.from(out.bytes);
  if (out.secret !== undefined && out.message.type === 'map-notify') return signMessage(out.message, out.secret);
  return encode(out.message);
}

function registeredLab(): MappingDatabase {
  const db = labDb();
  const v01 = controlFrames('01-register-notify.pcap');
  register(db, frame(v01, 1));
  register(db, frame(v01, 3));
  return db;
}

t.test('vector 01: Map-Register -> Map-Notify identical to OOR, verifying with the interop key', async (t) => {
  const v01 = controlFrames('01-register-notify.pcap');
  const db = labDb();
  for (const [reg, notify] of [[1, 2], [3, 4]] as const) {
    const result = register(db, frame(v01, reg));
    t.notOk(result.drop, `frame ${reg} accepted`);
    t.equal(result.outbound.length, 1, 'one Map-Notify (M bit set)');
    const out = result.outbound[0]!;
    t.same(out.to, frame(v01, reg).from, 'sent to the registering ETR address and port');
    const bytes = wire(out);
    t.ok(verifyMessage(bytes, INTEROP_KEY), 'our Map-Notify verifies with lisp-interop-key');
    t.ok(bytes.equals(Buffer.from(frame(v01, notify).bytes)), `Map-Notify byte-identical to OOR frame ${notify}`);
    const sent = out.kind === 'message' ? (out.message as MapNotify) : undefined;
    t.equal(sent?.nonce, (frame(v01, reg).message as MapRegister).nonce, 'same nonce as the Map-Register');
  }
  t.equal(db.liveRegistrations, 2);
});

t.test('a forged or mismatched Map-Register is refused and changes nothing', async (t) => {
  const v01 = controlFrames('01-register-notify.pcap');
  const f = frame(v01, 1);
  const tampered = Buffer.from(f.bytes);
  tampered[tampered.length - 1] ^= 1; // flip a bit of the locator: the HMAC no longer matches
  const db = labDb();
  const bad = handleMapRegister(db, { registrationTtlMs: 180_000 }, { ...(f.message as MapRegister) }, tampered, f.from, NOW);
  t.equal(bad.drop?.reason, 'auth');
  t.equal(bad.changes.length, 0);
  t.equal(bad.outbound.length, 0, 'silent on the wire');
  t.equal(bad.events[0]?.type, 'refused', 'visible on the event stream');

  const otherKey = labDb();
  otherKey.apply([{ kind: 'put-site', site: { ...OOR_LAB_SITES[1]!, keys: [{ alg: 'hmac-sha1', secret: 'rotated' }] } }]);
  t.equal(register(otherKey, f).drop?.reason, 'auth', 'replay after key rotation');

  const wrongAlg = labDb();
  wrongAlg.apply([{ kind: 'put-site', site: { ...OOR_LAB_SITES[1]!, keys: [{ alg: 'hmac-sha256', secret: INTEROP_KEY }] } }]);
  t.equal(register(wrongAlg, f).drop?.reason, 'auth', 'a SHA-1 register against a SHA-256-only site');

  const noSite = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  t.equal(register(noSite, f).drop?.reason, 'out-of-site');

  const strict = labDb();
  strict.apply([{ kind: 'put-site', site: { ...OOR_LAB_SITES[1]!, prefixes: [{ eid: OOR_LAB_SITES[1]!.prefixes[0]!.eid, acceptMoreSpecifics: false }] } }]);
  const v05 = controlFrames('05-mobility-ttl-expiry.pcap');
  const vmRegister = v05.find((x) => x.message.type === 'map-register' && formatEidPrefix((x.message as MapRegister).records[0]!.eid) === '10.16.50.50/32')!;
  const vmStrict = labDb();
  vmStrict.apply([{ kind: 'put-site', site: { ...OOR_LAB_SITES[3]!, prefixes: [{ eid: OOR_LAB_SITES[3]!.prefixes[0]!.eid, acceptMoreSpecifics: false }] } }]);
  t.equal(register(vmStrict, vmRegister).drop?.reason, 'more-specific');
  t.notOk(register(labDb(), vmRegister).drop, 'accepted where more-specifics are allowed');
});

t.test('vector 02: proxy Map-Reply identical to OOR frame 2; P=0 ETR gets the ECM forwarded unchanged', async (t) => {
  const v02 = controlFrames('02-resolve-ping.pcap');
  const db = registeredLab();
  const proxied = request(db, frame(v02, 1));
  t.same(proxied.replies, ['positive']);
  const reply = proxied.outbound[0]!;
  t.same(reply.to, { address: '10.99.0.3', port: 4342 }, 'to the ITR-RLOC at the inner UDP source port');
  t.ok(wire(reply).equals(Buffer.from(frame(v02, 2).bytes)), 'byte-identical to OOR frame 2');

  const forwarded = request(db, frame(v02, 4));
  t.same(forwarded.replies, ['forwarded']);
  const fwd = forwarded.outbound[0]!;
  t.same(fwd.to, { address: '10.99.0.3', port: 4342 }, "to ETR A's RLOC, port 4342");
  t.ok(wire(fwd).equals(Buffer.from(frame(v02, 5).bytes)), 'the ECM unchanged, as OOR frame 5');
});

t.test('vector 03: negative Map-Replies, with the covering prefix OOR gets wrong', async (t) => {
  const v03 = controlFrames('03-negative-map-reply.pcap');
  const db = registeredLab();
  const outside = request(db, frame(v03, 1));
  t.same(outside.replies, ['negative']);
  const reply = (outside.outbound[0] as Extract<Outbound, { kind: 'message' }>).message as MapReply;
  const oor = frame(v03, 2).message as MapReply;
  t.equal(formatEidPrefix(oor.records[0]!.eid), '11.16.64.0/18', "OOR's buggy prefix, as documented");
  t.equal(formatEidPrefix(reply.records[0]!.eid), '10.16.64.0/18', 'ours covers the requested 10.16.99.1');
  t.same({ ...reply.records[0]!, eid: null }, { ...oor.records[0]!, eid: null }, 'every other field as OOR: TTL 15, natively-forward, A=1, no locators');
  t.equal(reply.nonce, oor.nonce);

  const inSite = request(db, frame(v03, 5));
  t.ok(wire(inSite.outbound[0]!).equals(Buffer.from(frame(v03, 6).bytes)), 'configured-but-unregistered site: identical to OOR frame 6');
});

t.test('vector 07: instance-ID request gets [7] 0.0.0.0/1, No-Action, as OOR', async (t) => {
  const v07 = controlFrames('07-iid-lcaf.pcap');
  const db = labDb();
  for (const f of v07) if (f.message.type === 'map-register') t.notOk(register(db, f).drop, `frame ${f.index} registers`);
  const result = request(db, frame(v07, 11));
  t.ok(wire(result.outbound[0]!).equals(Buffer.from(frame(v07, 12).bytes)), 'byte-identical to OOR frame 12');
  const notify = register(labDb(), frame(v07, 8));
  t.ok(wire(notify.outbound[0]!).equals(Buffer.from(frame(v07, 10).bytes)), 'IID Map-Notify identical to OOR frame 10');
});

t.test('requests the resolver must not answer', async (t) => {
  const v04 = controlFrames('04-smr-rloc-change.pcap');
  const smr = frame(v04, 42);
  const db = registeredLab();
  t.equal(request(db, smr).drop?.reason, 'unexpected', 'an SMR addressed to us is dropped');
  const invoked = request(db, frame(v04, 43));
  t.same(invoked.replies, ['positive'], 'the SMR-invoked request is answered');
});

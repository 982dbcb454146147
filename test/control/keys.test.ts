// Keys (RFC 9301 §5.6): the Key ID selects the site key; RFC 9301's truncated digests
// (HMAC-SHA-1-96: 12 bytes, HMAC-SHA-256-128: 16 bytes) are accepted beside the full ones OOR
// sends under the same algorithm ids; a Map-Notify goes back signed the way the ETR signed.
// Digests here are computed with node:crypto directly, not with livmap's auth code.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { decode, encode, signMessage } from '../../mapserver/codec/index.js';
import type { MapNotify, MapRegister } from '../../mapserver/codec/types.js';
import { handleMapRegister } from '../../mapserver/control/map-server.js';
import { etrNotify } from '../../mapserver/control/mobility.js';
import { MappingDatabase } from '../../mapserver/db/database.js';
import type { Registration, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { locator } from '../helpers/fixtures.js';

const T0 = 1_700_000_000_000;
const SITE: Site = {
  name: 'local',
  keys: [{ alg: 'hmac-sha1', secret: 'old-key' }, { alg: 'hmac-sha1', secret: 'new-key' }, { alg: 'hmac-sha256', secret: 'sha256-key' }],
  prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }],
};

function db(): MappingDatabase {
  const d = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  d.apply([{ kind: 'put-site', site: SITE }]);
  return d;
}

const hashOf = (algId: number): string => (algId === 1 ? 'sha1' : 'sha256');

/** A Map-Register whose auth field is Key ID `keyId`, algorithm `algId`, a `length`-byte digest with `secret`. */
function register(keyId: number, algId: number, length: number, secret: string): Buffer {
  const m: MapRegister = {
    type: 'map-register', proxyReply: true, security: false, xtrIdPresent: false, rtr: false, wantMapNotify: true, merge: false,
    nonce: 0x1234n, auth: { keyId, algId, authData: new Uint8Array(length) },
    records: [{ eid: parseEidPrefix('10.16.10.50/32'), ttl: 1, action: 0, authoritative: true, mapVersion: 0, locators: [locator('127.0.9.1')] }],
  };
  const bytes = Buffer.from(encode(m));
  createHmac(hashOf(algId), secret).update(bytes).digest().subarray(0, length).copy(bytes, 16);
  return bytes;
}

/** Whether `bytes` (a Map-Notify / -Ack) carries a correct `length`-byte digest with `secret`. */
function verifies(bytes: Uint8Array, secret: string): boolean {
  const b = Buffer.from(bytes);
  const algId = b[13]!;
  const length = b.readUInt16BE(14);
  const got = Buffer.from(b.subarray(16, 16 + length));
  b.fill(0, 16, 16 + length);
  return createHmac(hashOf(algId), secret).update(b).digest().subarray(0, length).equals(got);
}

function handle(d: MappingDatabase, bytes: Buffer) {
  const result = handleMapRegister(d, { registrationTtlMs: 180_000 }, decode(bytes) as MapRegister, bytes, { address: '127.0.9.1', port: 4342 }, T0);
  d.apply(result.changes);
  return result;
}

t.test('the Key ID selects the site key (0 also tries the others, for OOR key rollover)', async (t) => {
  const d = db();
  const selected = handle(d, register(1, 1, 20, 'new-key'));
  t.notOk(selected.drop, 'key ID 1 with keys[1] accepted');
  t.same(d.registered(parseEidPrefix('10.16.10.50/32'))?.byEtr.get('rloc:127.0.9.1')?.auth, { keyId: 1, algId: 1, length: 20, keyIndex: 1 }, 'the registration remembers how it was signed');
  t.match(handle(db(), register(1, 1, 20, 'old-key')).drop, { reason: 'auth' }, 'key ID 1 signed with keys[0]: refused');
  t.match(handle(db(), register(2, 1, 20, 'new-key')).drop, { reason: 'auth' }, 'key ID 2 names a SHA-256 key: a SHA-1 register is refused');
  const rollover = db();
  t.notOk(handle(rollover, register(0, 1, 20, 'new-key')).drop, "key ID 0 (OOR's) with the site's second key: accepted");
  t.equal(rollover.registered(parseEidPrefix('10.16.10.50/32'))?.byEtr.get('rloc:127.0.9.1')?.auth?.keyIndex, 1);
});

t.test('RFC 9301 truncated digests are accepted and the Map-Notify is signed the same way', async (t) => {
  for (const [keyId, algId, length, secret] of [[0, 1, 12, 'old-key'], [2, 2, 16, 'sha256-key'], [0, 1, 20, 'old-key'], [2, 2, 32, 'sha256-key']] as const) {
    const result = handle(db(), register(keyId, algId, length, secret));
    t.notOk(result.drop, `algorithm ${algId}, ${length}-byte digest accepted`);
    const out = result.outbound[0];
    t.ok(out?.kind === 'message' && out.secret === secret, 'answered with a Map-Notify signed with the same key');
    if (out?.kind !== 'message' || !out.secret) continue;
    const bytes = signMessage(out.message as MapNotify, out.secret);
    t.same([bytes[12], bytes[13], bytes.readUInt16BE(14)], [keyId, algId, length], 'same key ID, algorithm and digest length');
    t.ok(verifies(bytes, secret), 'the digest verifies');
  }
  t.match(handle(db(), register(0, 1, 12, 'wrong')).drop, { reason: 'auth' }, 'a wrong truncated digest is refused');
});

t.test('a Map-Notify to an ETR that lost a binding is signed as that ETR registered', async (t) => {
  const record = { eid: parseEidPrefix('10.16.10.50/32'), ttl: 1, action: 0, authoritative: true, mapVersion: 0, locators: [locator('127.0.9.2')] };
  const base: Registration = {
    site: 'local', etrId: 'rloc:127.0.9.1', source: { address: '127.0.9.1', port: 4342 }, proxyReply: true, merge: false, record,
    claimedAt: T0, lastRefreshed: T0, expiresAt: T0 + 1000,
  };
  const signed = etrNotify(record, { ...base, auth: { keyId: 2, algId: 2, length: 16, keyIndex: 2 } }, SITE)!;
  const bytes = signMessage(signed.notify, signed.secret);
  t.same([bytes[12], bytes[13], bytes.readUInt16BE(14)], [2, 2, 16], 'key ID 2, HMAC-SHA-256-128');
  t.ok(verifies(bytes, 'sha256-key'), 'with the key that ETR used');
  const legacy = etrNotify(record, base, SITE)!;
  const legacyBytes = signMessage(legacy.notify, legacy.secret);
  t.same([legacyBytes[12], legacyBytes[13], legacyBytes.readUInt16BE(14)], [0, 1, 20], 'a registration stored before keys were remembered: first key, key ID 0');
  t.ok(verifies(legacyBytes, 'old-key'));
});

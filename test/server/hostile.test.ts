// Hostile input at a live server: fuzzed datagrams, forged registrations, reflection floods.
// Nothing crashes, every drop is counted by reason, the database does not change, and a
// legitimate client keeps getting answers.
import t from 'tap';
import { decode, encode, signMessage, verifyMessage } from '../../mapserver/codec/index.js';
import type { MapRegister, MappingRecord } from '../../mapserver/codec/types.js';
import type { Endpoint, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { startLabServer } from '../helpers/server.js';
import { CLOUD_SITE, fuzzServer, hostileCorpus, loopbackOnly, startFuzzLab } from '../helpers/server-fuzz.js';
import { UdpPeer } from '../helpers/udp.js';

const SITES: Site[] = [
  CLOUD_SITE,
  { name: 'local', keys: [{ alg: 'hmac-sha1', secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix('10.16.10.0/24'), acceptMoreSpecifics: true }] },
];

const recordKey = (record: MappingRecord): string => JSON.stringify(record);

async function dropped(server: Awaited<ReturnType<typeof startLabServer>>, reason: string): Promise<number> {
  return server.metrics.value('livmap_messages_dropped_total', { reason });
}

t.test('a few thousand fuzzed datagrams: no crash, drops counted, valid requests still answered', async (t) => {
  const { server, attacker, itr } = await startFuzzLab(t, '127.0.6', SITES);

  const iterations = Number(process.env.SERVER_FUZZ_ITERATIONS ?? 4000);
  const stats = await fuzzServer({ server, iterations, seed: 4342, validEvery: 100, attacker, itr, validEid: '192.168.20.10' });
  t.equal(stats.answered, stats.valid, `all ${stats.valid} interleaved valid requests answered`);
  t.equal(stats.read + stats.kernelDrops, stats.hostile + stats.valid,
    `every datagram sent was read by the server (${stats.read}) or counted as a kernel drop (${stats.kernelDrops})`);
  const malformed = await dropped(server, 'malformed');
  t.ok(malformed > iterations / 4, `${malformed} malformed datagrams counted`);
  t.equal(await dropped(server, 'internal'), 0, 'no handler ever threw');
  // An unmodified golden Map-Register is a valid replay (LISP has no replay protection);
  // anything else fails its HMAC. So every registration holds an authentic record.
  const authentic = new Set(hostileCorpus(4342).flatMap((bytes) => {
    try {
      const m = decode(bytes);
      return m.type === 'map-register' && verifyMessage(bytes, INTEROP_KEY) ? m.records.map(recordKey) : [];
    } catch { return []; }
  }));
  authentic.add(recordKey((decode(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.6.2'] })) as MapRegister).records[0]!));
  const stored = [...server.db.registrations()].map((r) => recordKey(r.record));
  t.ok(stored.every((k) => authentic.has(k)), `all ${stored.length} registrations hold authentic records`);
  t.ok(stats.rssAfterMb - stats.rssBeforeMb < 100, `RSS ${stats.rssBeforeMb.toFixed(0)} -> ${stats.rssAfterMb.toFixed(0)} MB`);
});

t.test('forged registrations are refused, counted, announced, and change nothing', async (t) => {
  const server = await startLabServer(t, { sendFilter: loopbackOnly }, { sites: SITES });
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.6.4');
  t.teardown(() => etr.close());
  const refused: string[] = [];
  server.events.on('event', (e) => { if (e.type === 'refused') refused.push(e.reason); });

  const good = decode(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.6.4'], secret: 'cloud-secret' })) as MapRegister;
  const valid = mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.6.4'], secret: 'cloud-secret', alg: 'hmac-sha256' });
  const sha256 = decode(valid) as MapRegister;
  const cases: Array<[string, Uint8Array, string]> = [
    ['wrong key', signMessage(sha256, 'not-the-secret'), 'auth'],
    ['SHA-1 against a SHA-256-only site', signMessage(good, 'cloud-secret'), 'auth'],
    ['unknown key id / algorithm 7', Buffer.concat([valid.subarray(0, 12), Buffer.from([0x00, 0x07]), valid.subarray(14)]), 'malformed'],
    // 24 bytes: neither SHA-256's full digest (32) nor RFC 9301's HMAC-SHA-256-128 (16).
    ['auth data of a length no algorithm has', Buffer.concat([valid.subarray(0, 14), Buffer.from([0x00, 0x18]), valid.subarray(16, 40), valid.subarray(48)]), 'malformed'],
    ['oversized auth data', Buffer.concat([valid.subarray(0, 14), Buffer.from([0x00, 0x40]), valid.subarray(16)]), 'malformed'],
    ['auth length 20 with SHA-256', Buffer.concat([valid.subarray(0, 14), Buffer.from([0x00, 0x14]), valid.subarray(16, 36), valid.subarray(48)]), 'malformed'],
    ['no authentication', encode({ ...good, auth: { keyId: 0, algId: 0, authData: new Uint8Array(0) } }), 'auth'],
    ['EID outside every site', signMessage({ ...sha256, records: [{ ...sha256.records[0]!, eid: parseEidPrefix('8.8.8.0/24') }] }, 'cloud-secret'), 'out-of-site'],
    ['more-specific where not allowed', signMessage({ ...sha256, records: [{ ...sha256.records[0]!, eid: parseEidPrefix('192.168.20.50/32') }] }, 'cloud-secret'), 'more-specific'],
    ["another site's prefix with this key", mapRegisterBytes({ eid: '10.16.10.0/24', rlocs: ['127.0.6.4'], secret: 'cloud-secret' }), 'auth'],
  ];
  for (const [name, bytes, reason] of cases) {
    const before = await dropped(server, reason);
    await etr.send(bytes, ms);
    t.ok(await etr.silentFor(150), `${name}: no Map-Notify`);
    t.equal(await dropped(server, reason), before + 1, `${name}: counted as ${reason}`);
  }
  t.equal(server.db.liveRegistrations, 0, 'the database is unchanged');
  t.same(refused, ['auth', 'auth', 'auth', 'out-of-site', 'more-specific', 'auth'], 'refusals (not malformed packets) are on the event stream');

  // An authentic register whose nonce an authentic (if refused) register used is a replay.
  await etr.send(valid, ms);
  t.ok(await etr.silentFor(150), 'a nonce already accepted: refused as a replay');
  t.equal(refused.at(-1), 'replay');
  // A valid one with its own nonce is accepted; replaying it after the key rotated is refused.
  const fresh = signMessage({ ...sha256, nonce: sha256.nonce ^ 1n }, 'cloud-secret');
  await etr.send(fresh, ms);
  t.equal(decode((await etr.receive()).bytes).type, 'map-notify');
  server.db.apply([{ kind: 'put-site', site: { ...SITES[0]!, keys: [{ alg: 'hmac-sha256', secret: 'rotated' }] } }]);
  await etr.send(fresh, ms);
  t.ok(await etr.silentFor(150), 'a replay after key rotation gets nothing');
  t.equal(refused.at(-1), 'auth');
});

t.test('reflection: Map-Replies to one ITR-RLOC are rate-limited; other clients are still answered', async (t) => {
  // The clock stands still, so the bucket never refills: exactly `burst` answers get through.
  const now = Date.now();
  const server = await startLabServer(t, { sendFilter: loopbackOnly, now: () => now }, { sites: SITES, rateLimit: { perSecond: 100, burst: 50, maxAddresses: 1000 } });
  const [ms] = server.addresses() as [Endpoint];
  const attacker = await UdpPeer.bind('127.0.6.5');
  const victim = await UdpPeer.bind('127.0.6.66', 4342);
  const client = await UdpPeer.bind('127.0.6.7', 4342);
  t.teardown(async () => { await attacker.close(); await victim.close(); await client.close(); });
  const spoofed = ecmRequestBytes({ eid: '10.16.10.10', sourceEid: '10.16.10.9', itr: '127.0.6.66' });
  for (let i = 0; i < 2000; i++) await attacker.send(spoofed, ms);
  await client.send(ecmRequestBytes({ eid: '10.16.10.10', sourceEid: '172.16.30.10', itr: '127.0.6.7' }), ms);
  t.equal(decode((await client.receive()).bytes).type, 'map-reply', 'a legitimate client is answered during the flood');
  let reflected = 0;
  while (!(await victim.silentFor(200))) reflected++;
  t.equal(reflected, 50, 'only the burst of 50 of 2000 spoofed requests is reflected');
  t.equal(await dropped(server, 'rate'), 1950, 'every refused answer counted as rate');
});

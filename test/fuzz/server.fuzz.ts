// Long hostile-datagram run against a live server (`npm run fuzz:server`): SERVER_FUZZ_ITERATIONS
// (default 1,000,000) mutated and random datagrams with a valid Map-Request every 1000.
import t from 'tap';
import { decode, signMessage } from '../../mapserver/codec/index.js';
import type { MapRegister } from '../../mapserver/codec/types.js';
import type { Endpoint, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/db/prefix.js';
import { mapRegisterBytes } from '../helpers/lisp.js';
import { startLabServer } from '../helpers/server.js';
import { fuzzServer, loopbackOnly } from '../helpers/server-fuzz.js';
import { UdpPeer } from '../helpers/udp.js';

const iterations = Number(process.env.SERVER_FUZZ_ITERATIONS ?? 1_000_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff);
const SITES: Site[] = [{ name: 'cloud', keys: [{ alg: 'hmac-sha256', secret: 'cloud-secret' }], prefixes: [{ eid: parseEidPrefix('192.168.20.0/24'), acceptMoreSpecifics: false }] }];

t.test(`server fuzz: ${iterations} datagrams, seed ${seed}`, async (t) => {
  const server = await startLabServer(t, { sendFilter: loopbackOnly }, { sites: SITES, rateLimit: { perSecond: 0, burst: 1, maxAddresses: 1 } });
  const [ms] = server.addresses() as [Endpoint];
  const etr = await UdpPeer.bind('127.0.7.2');
  const attacker = await UdpPeer.bind('127.0.7.3');
  const itr = await UdpPeer.bind('127.0.7.1', 4342);
  t.teardown(async () => { await etr.close(); await attacker.close(); await itr.close(); });
  const cloud = decode(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.7.2'] })) as MapRegister;
  await etr.send(signMessage({ ...cloud, auth: { keyId: 0, algId: 2, authData: new Uint8Array(32) } }, 'cloud-secret'), ms);
  await etr.receive();
  const started = Date.now();
  const stats = await fuzzServer({
    server, iterations, seed, validEvery: 1000, attacker, itr, validEid: '192.168.20.10',
    onProgress: (done) => t.comment(`${done} / ${iterations} in ${((Date.now() - started) / 1000).toFixed(0)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`),
  });
  t.equal(stats.answered, stats.valid, `${stats.answered} of ${stats.valid} valid requests answered`);
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'internal' }), 0, 'no handler threw');
  t.comment(await server.metrics.registry.getSingleMetricAsString('livmap_messages_dropped_total'));
  t.comment(`RSS ${stats.rssBeforeMb.toFixed(0)} -> ${stats.rssAfterMb.toFixed(0)} MB`);
});

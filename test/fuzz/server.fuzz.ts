// Long hostile-datagram run against a live server (`npm run fuzz:server`): SERVER_FUZZ_ITERATIONS
// (default 1,000,000) mutated and random datagrams with a valid Map-Request every 1000.
import t from 'tap';
import { CLOUD_SITE, fuzzServer, startFuzzLab } from '../helpers/server-fuzz.js';

const iterations = Number(process.env.SERVER_FUZZ_ITERATIONS ?? 1_000_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff);
const SITES = [CLOUD_SITE];

t.test(`server fuzz: ${iterations} datagrams, seed ${seed}`, async (t) => {
  const { server, attacker, itr } = await startFuzzLab(t, '127.0.7', SITES, { perSecond: 0, burst: 1, maxAddresses: 1 });
  const started = Date.now();
  const rssMb: number[] = [];
  const stats = await fuzzServer({
    server, iterations, seed, validEvery: 1000, attacker, itr, validEid: '192.168.20.10',
    onProgress: (done) => {
      rssMb.push(process.memoryUsage().rss / 2 ** 20);
      t.comment(`${done} / ${iterations} in ${((Date.now() - started) / 1000).toFixed(0)} s, RSS ${rssMb[rssMb.length - 1]!.toFixed(0)} MB`);
    },
  });
  t.equal(stats.answered, stats.valid, `${stats.answered} of ${stats.valid} valid requests answered`);
  t.equal(stats.read + stats.kernelDrops, stats.hostile + stats.valid,
    `every datagram sent was read by the server (${stats.read}) or counted as a kernel drop (${stats.kernelDrops})`);
  t.equal(await server.metrics.value('livmap_messages_dropped_total', { reason: 'internal' }), 0, 'no handler threw');
  t.comment(await server.metrics.registry.getSingleMetricAsString('livmap_messages_dropped_total'));
  t.comment(`RSS ${stats.rssBeforeMb.toFixed(0)} -> ${stats.rssAfterMb.toFixed(0)} MB`);
  // RSS saws up and down with the collector; a leak shows as a higher peak in the second half.
  const half = Math.floor(rssMb.length / 2);
  const peak = (samples: number[]): number => Math.max(...samples);
  if (half > 0) {
    t.ok(peak(rssMb.slice(half)) < peak(rssMb.slice(0, half)) + 100,
      `RSS flat: peak ${peak(rssMb.slice(0, half)).toFixed(0)} MB in the first half, ${peak(rssMb.slice(half)).toFixed(0)} MB in the second`);
  }
});

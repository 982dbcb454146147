// Overload: a flood at three times the capacity measured a moment before, from an ITR-RLOC the
// per-ITR reply limit lets through (as a flood from many ITRs would be). The server keeps
// answering, a steady legitimate client keeps getting answers, memory stays bounded, and every
// datagram is accounted for: read and answered or dropped by reason, or dropped by the kernel
// (receive buffer full) and counted in livmap_udp_receive_buffer_drops_total. No speed is asserted.
import t from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import type { LispServer } from '../../mapserver/compose/server.js';
import { compileLoadgen, payloadFile, runLoad } from '../../bench/lib/loadgen.js';
import { ECM_CHECKSUM_OFFSET, ECM_NONCE_OFFSET, ECM_PORT_OFFSET, NONCE_OFFSET, mapRequestPayloads } from '../../bench/lib/payloads.js';
import { ecmRequestBytes } from '../helpers/lisp.js';
import { readWhenDrained, startLabServer } from '../helpers/server.js';
import { CLOUD_SITE, loopbackOnly } from '../helpers/server-fuzz.js';
import { UdpPeer } from '../helpers/udp.js';

const dir = t.testdir();
const compiled = compileLoadgen(dir);
const skip = compiled.binary === undefined ? `no C compiler for the load generator (${compiled.reason.split('\n')[0]})` : false;

async function total(server: LispServer, name: string): Promise<number> {
  const metric = server.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

t.test('3× measured capacity: answers keep coming, memory bounded, every datagram accounted for', { skip }, async (t) => {
  const binary = compiled.binary!;
  const server = await startLabServer(t, { sendFilter: loopbackOnly }, { sites: [CLOUD_SITE], rateLimit: { perSecond: 1e9, burst: 1e9, maxAddresses: 10_000 } });
  const [ms] = server.addresses() as [Endpoint];
  const client = await UdpPeer.bind('127.0.9.7', 4342);
  t.teardown(() => client.close());
  const file = payloadFile(dir, 'flood', mapRequestPayloads({ payloads: 20_000, registered: 1000 }).payloads);
  const shape = {
    target: { host: ms.address, port: ms.port }, payloadFile: file,
    requestNonceOffset: ECM_NONCE_OFFSET, replyNonceOffset: NONCE_OFFSET, portOffset: ECM_PORT_OFFSET, checksumOffset: ECM_CHECKSUM_OFFSET,
  };
  const capacity = await runLoad(binary, { ...shape, window: 64, durationMs: 500, warmupMs: 200 });
  t.ok(capacity.rps > 0, `capacity: ${capacity.rps.toFixed(0)} answers/s (closed loop)`);

  // Counted once the server has read everything queued for it (the capacity run may leave some).
  const counters = async (): Promise<{ read: number; answered: number; dropped: number; kernel: number; rss: number }> => ({
    read: await readWhenDrained(server, 300),
    answered: await total(server, 'livmap_map_replies_total'),
    dropped: await total(server, 'livmap_messages_dropped_total'),
    kernel: await total(server, 'livmap_udp_receive_buffer_drops_total'),
    rss: process.memoryUsage().rss,
  });
  const before = await counters();

  // The legitimate client asks every 20 ms while the flood runs, like an ITR with traffic.
  let clientSent = 0;
  const floodStart = Date.now();
  const asking = setInterval(() => {
    clientSent++;
    void client.send(ecmRequestBytes({ eid: '192.168.20.10', sourceEid: '172.16.30.10', itr: '127.0.9.7' }), ms);
  }, 20);
  const flood = await runLoad(binary, { ...shape, rate: Math.round(3 * capacity.rps), window: 16_384, timeoutMs: 50, durationMs: 1000, warmupMs: 0 });
  clearInterval(asking);
  const floodEnd = Date.now();

  const after = await counters();
  const readCount = after.read - before.read;
  const kernelDrops = after.kernel - before.kernel;
  t.comment(`flood: ${flood.sent} sent at ${(3 * capacity.rps).toFixed(0)}/s, ${flood.received} answered (${(flood.received / flood.duration_s).toFixed(0)}/s); kernel dropped ${kernelDrops}`);
  t.ok(flood.sent > 2 * capacity.rps * 0.5, `the generator offered well over capacity (${flood.sent} in ${flood.duration_s} s)`);
  t.equal(readCount + kernelDrops, flood.sent + clientSent, `every datagram sent was read (${readCount}) or dropped by the kernel (${kernelDrops})`);
  t.equal(
    after.answered - before.answered + (after.dropped - before.dropped), readCount,
    'every datagram read was answered or dropped with a counted reason',
  );
  t.ok(flood.received > 0, 'the flood itself keeps being answered');

  const answers = client.log.filter((d) => decode(d.bytes).type === 'map-reply').map((d) => d.at);
  const mid = (floodStart + floodEnd) / 2;
  t.ok(answers.some((at) => at < mid) && answers.some((at) => at >= mid && at <= floodEnd + 200),
    `the client was answered in both halves of the flood (${answers.length} of ${clientSent})`);
  t.ok(after.rss - before.rss < 100 * 2 ** 20, `RSS grew ${((after.rss - before.rss) / 2 ** 20).toFixed(0)} MB (bound 100 MB)`);
});

// The bench's lab (bench/lib/lab.ts) with the real peers: OOR's own Map-Server and `livmap serve`,
// each in its own network namespace, registered by the same Map-Register from the generator's
// namespace and asked the same ECM Map-Request; both answers are decoded and compared, and the
// lab leaves no namespace, process or directory behind. Runs the build in dist/ (npm test builds it).
// Without root, `ip`, unshare or OOR it skips with the reason, except under CI=true, where that fails.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { MapReply } from '../../mapserver/codec/types.js';
import { createLab, LAB, labUnavailable, LISP_PORT, oorMsConfig } from '../../bench/lib/lab.js';
import { ECM_CHECKSUM_OFFSET, ECM_NONCE_OFFSET, ECM_PORT_OFFSET, NONCE_OFFSET, ecmMapRequest, nonceOf, prefixRecord, signedRegister } from '../../bench/lib/payloads.js';
import { startLivmap, stop } from '../../bench/lib/server.js';
import { fieldDifferences, LAB_SITE } from '../../bench/lib/vs-oor.js';
import { ciMustRun } from '../helpers/netns.js';

const reply = (ttl: number): MapReply => ({
  type: 'map-reply', probe: false, echoNonce: false, security: false, nonce: 7n,
  records: [{ ...prefixRecord('10.16.10.0/24', LAB.gen), ttl, authoritative: false }],
});

t.test('fieldDifferences names each differing field, and nothing for the same message', async (t) => {
  t.same(fieldDifferences(reply(10), reply(10)), []);
  t.same(fieldDifferences(reply(10), reply(1)), ['records[0].ttl: 10 ≠ 1']);
  // Decoded back from the wire, the same message is still the same.
  t.same(fieldDifferences(decode(encode(reply(10))), decode(encode(reply(10)))), []);
});

t.test("OOR's MS configuration: one lisp-site with the bench's prefix and HMAC-SHA-1 key", async (t) => {
  const conf = oorMsConfig(LAB_SITE);
  t.match(conf, /^operating-mode = MS$/m);
  t.match(conf, new RegExp(`^\\s+eid-prefix = ${LAB_SITE.prefix.replace(/\./g, '\\.').replace('/', '\\/')}$`, 'm'));
  t.match(conf, /^\s+key-type = 1$/m);
  t.match(conf, new RegExp(`^\\s+key = ${LAB_SITE.key}$`, 'm'));
  t.match(conf, /^\s+accept-more-specifics = true$/m);
});

const missing = labUnavailable() ?? (existsSync(new URL('../../dist/bench/lab-probe.js', import.meta.url)) ? undefined : 'dist/ is missing: run `npm run build`');
if (missing && ciMustRun()) {
  t.fail(`the lab must run under CI=true: ${missing}`);
} else {
  t.test('OOR and livmap in the lab answer the same Map-Register and Map-Request alike; the lab cleans up', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'livmap-lab-test-'));
    const lab = createLab(120);
    const namespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`lvb${process.pid}-`));
    let livmap: Awaited<ReturnType<typeof startLivmap>> | undefined;
    try {
      t.equal(namespaces().length, 5, 'bridge, generator, echo, livmap and OOR namespaces');
      lab.startOor(LAB_SITE);
      const record = prefixRecord(LAB_SITE.prefix, LAB.gen);
      let seq = 0;
      const register = async (host: string, timeoutMs = 15_000): Promise<Buffer> =>
        lab.probe(`${host}:${LISP_PORT}`, signedRegister(record, nonceOf(++seq, 0x7e570000), LAB_SITE.key, 1).toString('hex'), { nonceOffset: NONCE_OFFSET, timeoutMs });
      const request = async (host: string, nonce: bigint): Promise<Buffer> =>
        lab.probe(`${host}:${LISP_PORT}`, ecmMapRequest('10.16.10.10', nonce, LAB.gen).toString('hex'), {
          nonceOffset: ECM_NONCE_OFFSET, portOffset: ECM_PORT_OFFSET, checksumOffset: ECM_CHECKSUM_OFFSET, timeoutMs: 5000,
        });
      const oorNotify = decode(await register(LAB.oor, 20_000));
      t.equal(oorNotify.type, 'map-notify', 'OOR answers the Map-Register with a Map-Notify');
      livmap = await startLivmap({
        dataDir: join(dir, 'data'), port: LISP_PORT, probeEid: '10.16.10.10', logLevel: 'warn',
        sites: [{ name: 'bench', keys: [{ alg: 'hmac-sha1', secret: LAB_SITE.key }], prefixes: [{ eid: LAB_SITE.prefix, acceptMoreSpecifics: true }] }],
        lab: { netns: lab.ns('liv'), host: LAB.livmap, ready: async (ms) => void (await register(LAB.livmap, ms)) },
      });
      const fromLivmap = decode(await request(LAB.livmap, 0x1111n));
      const fromOor = decode(await request(LAB.oor, 0x2222n));
      t.equal(fromLivmap.type, 'map-reply');
      t.equal(fromOor.type, 'map-reply');
      if (fromLivmap.type !== 'map-reply' || fromOor.type !== 'map-reply') return;
      t.equal(fromLivmap.nonce, 0x1111n, 'livmap echoes the nonce');
      t.equal(fromOor.nonce, 0x2222n, 'OOR echoes the nonce');
      t.same(fieldDifferences(fromLivmap, fromOor), ['nonce: 0x1111 ≠ 0x2222'], 'the same proxy Map-Reply but for the nonce');
      t.match(fromOor.records[0]?.locators[0]?.rloc, { afi: 'ipv4', ip: LAB.gen }, 'OOR answers with the registered RLOC');
    } finally {
      if (livmap) await stop(livmap);
      lab.close();
      rmSync(dir, { recursive: true, force: true });
    }
    t.same(namespaces(), [], 'no lab namespace left');
    t.equal(spawnSync('pgrep', ['-f', '/var/tmp/livmap-bench-lab\\.'], { encoding: 'utf8' }).stdout.trim(), '', 'no OOR of the lab left');
  });
}

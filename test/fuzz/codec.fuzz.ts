// Long-running mutation fuzz of the LISP codec (`npm run fuzz`). Not part of the default test
// run (tap includes only *.test.ts). FUZZ_ITERATIONS (default 1,000,000) and FUZZ_SEED set the
// run; a failure prints the seed, iteration and input hex so it can be replayed.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import fc from 'fast-check';
import { readCapture } from '../../mapserver/pcap/read.js';
import { encode } from '../../mapserver/codec/index.js';
import { fuzzDecode } from '../helpers/mutate.js';
import { arbLispMessage } from '../helpers/arbitraries.js';

const total = Number(process.env.FUZZ_ITERATIONS ?? 1_000_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff);
const CHUNK = 100_000;

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors', 'oor');
const corpus: Uint8Array[] = [];
for (const f of readdirSync(dir).filter((n) => n.endsWith('.pcap'))) {
  for (const frame of readCapture(readFileSync(join(dir, f)))) {
    if (frame.udp && (frame.udp.sourcePort === 4342 || frame.udp.destinationPort === 4342)) corpus.push(frame.udp.payload);
  }
}
for (const m of fc.sample(arbLispMessage, { numRuns: 1000, seed })) corpus.push(encode(m));

t.test(`codec mutation fuzz: ${total} iterations, seed ${seed}, corpus ${corpus.length}`, async (t) => {
  let decoded = 0;
  let rejected = 0;
  let slowest = 0;
  const started = Date.now();
  for (let done = 0, chunk = 0; done < total; done += CHUNK, chunk++) {
    const n = Math.min(CHUNK, total - done);
    // Each chunk gets its own derived seed so a failure can be replayed with FUZZ_SEED alone.
    const stats = fuzzDecode(corpus, n, seed + chunk);
    decoded += stats.decoded;
    rejected += stats.rejected;
    slowest = Math.max(slowest, stats.slowestMs);
    t.comment(`${done + n} / ${total}: decoded ${decoded}, rejected ${rejected}, slowest ${slowest.toFixed(2)} ms, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  t.equal(decoded + rejected, total);
});

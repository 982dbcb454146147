// Heap per prefix and lookup rate of PrefixTable for 1M mixed IPv4/IPv6 prefixes. Not part of
// the suite (tap runs *.test.ts only). Run:
//   TS_NODE_TRANSPILE_ONLY=1 node --expose-gc --import=@tapjs/typescript/import test/db/trie-memory.bench.ts [count]
import type { EidPrefix } from '../../mapserver/codec/types.js';
import { PrefixTable } from '../../mapserver/db/trie.js';
import { prefixBytes, prefixFromBytes } from '../../mapserver/db/prefix.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const count = Number(process.argv[2] ?? 1_000_000);

/** heapUsed plus ArrayBuffer backing stores (the trie's typed arrays live outside the JS heap). */
function used(): { heap: number; buffers: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

// Deterministic PRNG so runs are comparable.
let seed = 0x12345678;
function rand32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const r = rand32();
    for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (r >>> (8 * j)) & 0xff;
  }
  return b;
}

function makePrefix(i: number): EidPrefix {
  // 60% IPv4 /16../32 (mostly /24 and /32 like VM hosts), 40% IPv6 /32../128.
  if (i % 5 < 3) {
    const lens = [16, 20, 24, 24, 28, 32, 32, 32];
    return prefixFromBytes(0, 'ipv4', randomBytes(4), lens[rand32() % lens.length]!);
  }
  const lens = [32, 48, 56, 64, 64, 96, 128, 128];
  return prefixFromBytes(0, 'ipv6', randomBytes(16), lens[rand32() % lens.length]!);
}

const base = used();
let prefixes: EidPrefix[] | undefined = [];
for (let i = 0; i < count; i++) prefixes.push(makePrefix(i));
const withPrefixes = used();
const table = new PrefixTable<number>();
{
  const start = performance.now();
  for (let i = 0; i < count; i++) table.set(prefixes[i]!, i);
  console.log(`insert: ${count} prefixes in ${((performance.now() - start) / 1000).toFixed(2)} s, size ${table.size}`);
}
const withTable = used();
prefixes = undefined; // the table now holds the only references to the prefix objects
const after = used();
const per = (bytes: number): string => (bytes / table.size).toFixed(1);
const objects = withPrefixes.heap - base.heap - 8 * count; // minus the temporary array's slots
const trieHeap = withTable.heap - withPrefixes.heap;
const trieBuffers = withTable.buffers - withPrefixes.buffers;
console.log(`EidPrefix objects (caller-owned, shared with values): ${per(objects)} B/prefix`);
console.log(`trie: JS heap ${per(trieHeap)} B + typed arrays ${per(trieBuffers)} B = ${per(trieHeap + trieBuffers)} B/prefix`);
console.log(
  `total retained per mapping (prefix objects + trie + value slot): heapUsed ${per(after.heap - base.heap)} B + typed arrays ${per(after.buffers - base.buffers)} B = ${per(after.heap - base.heap + after.buffers - base.buffers)} B`,
);

// Lookups: half the addresses fall inside stored prefixes, half are random.
const n4 = 1 << 20;
const v4 = Array.from({ length: n4 }, () => randomBytes(4));
const v6 = Array.from({ length: n4 }, () => randomBytes(16));
for (const [family, addrs] of [['ipv4', v4], ['ipv6', v6]] as const) {
  let i = 0;
  for (const { prefix } of table.entries()) {
    if (prefix.address.afi !== family || i >= n4 / 2) continue;
    addrs[2 * i]!.set(prefixBytes(prefix).subarray(0, Math.ceil(prefix.length / 8)));
    i++;
  }
  for (const fn of ['lookupBestValue', 'lookupBest'] as const) {
    let hits = 0;
    const rounds = 3;
    const start = performance.now();
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < addrs.length; k++) if (table[fn](0, family, addrs[k]!) !== undefined) hits++;
    }
    const secs = (performance.now() - start) / 1000;
    console.log(`${family} ${fn}(bytes): ${((rounds * addrs.length) / secs / 1e6).toFixed(2)} M lookups/s (${hits / rounds} hits of ${addrs.length})`);
  }
  const start = performance.now();
  for (let k = 0; k < 200_000; k++) table.lookupWidestNegative(0, family, addrs[k]!);
  console.log(`${family} lookupWidestNegative: ${(200_000 / ((performance.now() - start) / 1000) / 1e6).toFixed(2)} M/s`);
}

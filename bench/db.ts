// Mapping-database figures, in a process of its own so heap measurements see nothing else:
//   node --expose-gc dist/bench/db.js [--count N] [--seconds S]
// prints one JSON object. Ideas from test/db/trie-memory.bench.ts (heap + typed arrays per
// prefix, half the lookups inside stored prefixes), with same-run baselines for every rate:
// lookups are compared with Map<number, number>.get on as many integer keys (an exact-match hash
// probe, the cheapest lookup JavaScript has), memory with the bare EidPrefix objects in an array.
import { parseArgs } from 'node:util';
import type { EidPrefix } from '../mapserver/codec/types.js';
import { MappingDatabase } from '../mapserver/db/database.js';
import { prefixBytes, prefixFromBytes } from '../mapserver/codec/prefix.js';
import { PrefixTable } from '../mapserver/db/trie.js';
import { Rng, benchSite, hostV4, registrationV4 } from './lib/payloads.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** heapUsed plus ArrayBuffer backing stores (the trie's typed arrays live outside the JS heap). */
function used(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const r = rng.next();
    for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (r >>> (8 * j)) & 0xff;
  }
  return b;
}

/** 60% IPv4 /16../32 (mostly /24 and /32 like VM hosts), 40% IPv6 /32../128, as in trie-memory.bench.ts. */
function mixedPrefix(rng: Rng, i: number): EidPrefix {
  if (i % 5 < 3) {
    const lens = [16, 20, 24, 24, 28, 32, 32, 32];
    return prefixFromBytes(0, 'ipv4', randomBytes(rng, 4), lens[rng.below(lens.length)]!);
  }
  const lens = [32, 48, 56, 64, 64, 96, 128, 128];
  return prefixFromBytes(0, 'ipv6', randomBytes(rng, 16), lens[rng.below(lens.length)]!);
}

/** Runs `fn(i)` over 0..n-1 repeatedly for about `seconds`; returns calls per second. */
function rate(n: number, seconds: number, fn: (i: number) => number): { perSecond: number; check: number } {
  let calls = 0;
  let check = 0;
  const start = performance.now();
  const stopAt = start + seconds * 1000;
  do {
    for (let i = 0; i < n; i++) check += fn(i);
    calls += n;
  } while (performance.now() < stopAt);
  return { perSecond: calls / ((performance.now() - start) / 1000), check };
}

function main(): void {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '2' } } });
  const count = Math.min(Math.max(Number(values.count), 1000), 5_000_000);
  const seconds = Math.min(Math.max(Number(values.seconds), 0.2), 30);
  const rng = new Rng(0x5eed);

  // Baseline memory: the prefix objects alone, which any index must hold.
  const base0 = used();
  const prefixes: EidPrefix[] = [];
  for (let i = 0; i < count; i++) prefixes.push(mixedPrefix(rng, i));
  const objectsBytes = used() - base0;

  const table = new PrefixTable<number>();
  const insertStart = performance.now();
  for (let i = 0; i < count; i++) table.set(prefixes[i]!, i);
  const insertSeconds = (performance.now() - insertStart) / 1000;
  // The table keeps its own normalised prefix objects; drop ours so only the table is counted.
  prefixes.length = 0;
  const tableBytes = used() - base0;
  const size = table.size;

  // Lookup addresses: half inside stored prefixes, half random.
  const lookups = 1 << 18;
  const v4: Uint8Array[] = [];
  const v6: Uint8Array[] = [];
  for (const { prefix } of table.entries()) {
    const list = prefix.address.afi === 'ipv4' ? v4 : v6;
    if (list.length >= lookups / 2) continue;
    const b = randomBytes(rng, prefix.address.afi === 'ipv4' ? 4 : 16);
    b.set(prefixBytes(prefix).subarray(0, Math.floor(prefix.length / 8)));
    list.push(b);
  }
  while (v4.length < lookups) v4.push(randomBytes(rng, 4));
  while (v6.length < lookups) v6.push(randomBytes(rng, 16));
  // Shuffle so hits and misses interleave (no branch-predictor gift).
  for (const list of [v4, v6]) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }

  // Baseline rate: Map<number, number>.get over `count` integer keys.
  const map = new Map<number, number>();
  for (let i = 0; i < count; i++) map.set(Math.imul(i, 0x9e3779b1) >>> 0, i);
  const keys = Uint32Array.from({ length: lookups }, () => Math.imul(rng.below(count * 2), 0x9e3779b1) >>> 0);
  const mapGet = rate(lookups, seconds, (i) => map.get(keys[i]!) ?? 0);
  map.clear();

  const v4Best = rate(lookups, seconds, (i) => table.lookupBestValue(0, 'ipv4', v4[i]!) ?? 0);
  const v6Best = rate(lookups, seconds, (i) => table.lookupBestValue(0, 'ipv6', v6[i]!) ?? 0);
  const v4Match = rate(lookups, seconds, (i) => (table.lookupBest(0, 'ipv4', v4[i]!) ? 1 : 0));
  const v4Negative = rate(lookups, seconds, (i) => table.lookupWidestNegative(0, 'ipv4', v4[i]!)?.length ?? 0);
  const v6Negative = rate(lookups, seconds, (i) => table.lookupWidestNegative(0, 'ipv6', v6[i]!)?.length ?? 0);
  table.clear();

  // MappingDatabase.resolve with `count` registered IPv4 hosts: 90% hits, 5% unregistered
  // hosts inside the site, 5% outside every site (as the Map-Request load).
  const db = new MappingDatabase({ negativeTtlMinutes: 15, unregisteredSiteTtlMinutes: 1 });
  const dbBase = used();
  const now = Date.now();
  db.apply([{ kind: 'put-site', site: benchSite('hmac-sha256', 'bench-secret') }]);
  for (let start = 0; start < count; start += 50_000) {
    const changes = [];
    for (let i = start; i < Math.min(count, start + 50_000); i++) changes.push({ kind: 'put-registration' as const, registration: registrationV4(i, now, 3600_000) });
    db.apply(changes);
  }
  const dbBytes = used() - dbBase;
  const eids: EidPrefix[] = [];
  for (let i = 0; i < lookups; i++) {
    const r = rng.below(100);
    const ip = r < 90 ? hostV4(rng.below(count)) : r < 95 ? hostV4(count + rng.below(1 << 20)) : `100.${64 + rng.below(64)}.${rng.below(256)}.${rng.below(256)}`;
    eids.push({ iid: 0, address: { afi: 'ipv4', ip }, length: 32 });
  }
  const resolve = rate(lookups, seconds, (i) => (db.resolve(eids[i]!, now).kind === 'registered' ? 1 : 0));

  const out = {
    count: size,
    insertPerSecond: size / insertSeconds,
    bytesPerPrefix: tableBytes / size,
    baselineBytesPerPrefix: objectsBytes / size,
    mapGetPerSecond: mapGet.perSecond,
    lookupBestValueV4: v4Best.perSecond,
    lookupBestValueV6: v6Best.perSecond,
    lookupBestV4: v4Match.perSecond,
    widestNegativeV4: v4Negative.perSecond,
    widestNegativeV6: v6Negative.perSecond,
    dbRegistrations: db.liveRegistrations,
    dbBytesPerRegistration: dbBytes / db.liveRegistrations,
    resolvePerSecond: resolve.perSecond,
    // Sums of results, printed so the engine cannot drop the loops as dead code.
    checks: [mapGet.check, v4Best.check, v6Best.check, v4Match.check, v4Negative.check, v6Negative.check, resolve.check].map((c) => c % 1e9),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main();

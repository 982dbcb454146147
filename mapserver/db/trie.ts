// Longest-prefix-match table for EID prefixes: a path-compressed binary (Patricia) trie per
// family, with one root per instance ID. Nodes live in typed arrays (struct of arrays) so a
// million prefixes cost a few flat buffers instead of millions of small objects, and a lookup
// touches only numbers: no strings, no allocation on the byte fast path.
import type { Address, EidFamily, EidPrefix } from '../codec/types.js';
import { decodedEidBytes } from '../codec/eid-bytes.js';
import { parseIpv4Into, parseIpv6Into, parseMacInto } from '../codec/ip.js';
import { FAMILY_BITS, PrefixError, normalizeParsed, normalizePrefix, prefixBytes, prefixFromBytes, requireFamily } from '../codec/prefix.js';

/** An address to look up: raw bytes (fast path), IP/MAC text, or an Address of the family. */
export type LookupAddress = Uint8Array | string | Address;

export interface PrefixMatch<V> {
  readonly prefix: EidPrefix;
  readonly value: V;
}

/** MASK[n]: the top n bits of a 32-bit word (as int32; only compared against 0). */
const MASK = new Int32Array(33);
for (let n = 1; n <= 32; n++) MASK[n] = n === 32 ? -1 : ~0 << (32 - n);

const NONE = -1;
const LEN_MASK = 0xff;
const HAS_VALUE = 0x100;

/** Tuning of the top-bits jump table (see Root); exposed so tests can exercise it on small tables. */
export interface TrieOptions {
  /** Most address bits a root's jump table indexes (1..24; default 20, i.e. 8 MiB at most). */
  readonly jumpBits?: number;
  /** Give a root a jump table once it holds this many prefixes (default 32768). */
  readonly jumpThreshold?: number;
}

/**
 * One (IID, family) trie. Large roots get a jump table indexed by the top K address bits:
 * entry i = [node to resume the lookup at, best match above it] for addresses starting with i,
 * which skips the ~K nearly complete top levels, each a likely cache miss on big tables.
 * K grows with the root (about log2 of its prefix count, so ~8 bytes per prefix) and the
 * table is kept exact: a change to a node shorter than K bits recomputes the entries below it.
 */
class Root {
  count = 0;
  bits = 0;
  jump: Int32Array | null = null;
  constructor(readonly node: number) {}
}

/**
 * All roots (one per IID) of one address family. Nodes are interleaved in one Int32Array so
 * a lookup step touches one cache line: node n occupies nodes[n*S .. n*S+S) holding its key
 * words (bits past its length are zero), META = length | HAS_VALUE, and the LEFT/RIGHT child
 * indexes chosen by bit `length` of a key. Invariant: every non-root node without a value has
 * exactly two children, so there are fewer than 2 nodes per stored prefix.
 */
class FamilyTrie<V> {
  readonly words: number;
  readonly maxLen: number;
  readonly byteLen: number;
  /** log2 of the node stride (stride = words + 3 rounded up to a power of two). */
  private readonly shift: number;
  private readonly meta: number;
  nodes: Int32Array;
  /** Stored prefix objects and values by node index (undefined for branch nodes). */
  prefixes: Array<EidPrefix | undefined> = [];
  values: Array<V | undefined> = [];
  roots = new Map<number, Root>();
  /**
   * IPv4 only: the node of every stored full-length prefix (a host /32), by instance ID and
   * address word. A stored host is the longest match there can be, so a Map-Request for a
   * registered VM is answered by one hash probe instead of a walk of dependent loads down the
   * trie (each a likely cache miss once there are thousands of hosts).
   */
  private readonly hosts: Map<number, Map<number, number>> | undefined;
  private readonly jumpBits: number;
  private readonly jumpThreshold: number;
  /** Nodes ever allocated (high-water mark); free nodes are chained through LEFT. */
  private used = 0;
  private freeHead = NONE;
  size = 0;
  /** Scratch key for the address being looked up; safe because lookups never re-enter. */
  readonly scratch: Int32Array;
  readonly scratchBytes: Uint8Array;

  constructor(maxLen: number, options: TrieOptions = {}) {
    this.maxLen = maxLen;
    this.jumpBits = Math.max(1, Math.min(options.jumpBits ?? 20, 24));
    this.jumpThreshold = options.jumpThreshold ?? 32768;
    this.words = Math.ceil(maxLen / 32);
    this.byteLen = maxLen / 8;
    this.shift = Math.ceil(Math.log2(this.words + 3));
    this.meta = this.words;
    this.nodes = new Int32Array(16 << this.shift);
    this.scratch = new Int32Array(this.words);
    this.scratchBytes = new Uint8Array(this.words * 4);
    this.hosts = maxLen === 32 ? new Map() : undefined;
  }

  private grow(): void {
    const nodes = new Int32Array(Math.ceil((this.nodes.length >> this.shift) * 1.5) << this.shift);
    nodes.set(this.nodes);
    this.nodes = nodes;
  }

  len(n: number): number {
    return this.nodes[(n << this.shift) + this.meta]! & LEN_MASK;
  }

  hasValue(n: number): boolean {
    return (this.nodes[(n << this.shift) + this.meta]! & HAS_VALUE) !== 0;
  }

  private setHasValue(n: number, on: boolean): void {
    const i = (n << this.shift) + this.meta;
    this.nodes[i] = on ? this.nodes[i]! | HAS_VALUE : this.nodes[i]! & LEN_MASK;
  }

  left(n: number): number {
    return this.nodes[(n << this.shift) + this.meta + 1]!;
  }

  right(n: number): number {
    return this.nodes[(n << this.shift) + this.meta + 2]!;
  }

  private child(n: number, bit: number): number {
    return this.nodes[(n << this.shift) + this.meta + 1 + bit]!;
  }

  private setChild(parent: number, bit: number, child: number): void {
    this.nodes[(parent << this.shift) + this.meta + 1 + bit] = child;
  }

  private replaceChild(parent: number, old: number, child: number): void {
    this.setChild(parent, this.left(parent) === old ? 0 : 1, child);
  }

  /** A fresh node holding key `a` masked to `len` bits. */
  private alloc(a: Int32Array, len: number): number {
    let n: number;
    if (this.freeHead !== NONE) {
      n = this.freeHead;
      this.freeHead = this.left(n);
    } else {
      if (this.used === this.nodes.length >> this.shift) this.grow();
      n = this.used++;
      this.prefixes.push(undefined);
      this.values.push(undefined);
    }
    const nodes = this.nodes;
    const base = n << this.shift;
    let rest = len;
    for (let w = 0; w < this.words; w++, rest -= 32) {
      nodes[base + w] = rest >= 32 ? a[w]! : rest <= 0 ? 0 : a[w]! & MASK[rest]!;
    }
    nodes[base + this.meta] = len;
    nodes[base + this.meta + 1] = NONE;
    nodes[base + this.meta + 2] = NONE;
    return n;
  }

  private free(n: number): void {
    this.prefixes[n] = undefined;
    this.values[n] = undefined;
    const base = n << this.shift;
    this.nodes[base + this.meta] = 0;
    this.nodes[base + this.meta + 1] = this.freeHead;
    this.nodes[base + this.meta + 2] = NONE;
    this.freeHead = n;
  }

  /** Loads address bytes into `scratch` (big-endian words, zero padded). */
  load(bytes: Uint8Array): Int32Array {
    const n = this.byteLen;
    if (bytes.length < n) throw new PrefixError(`address has ${bytes.length} bytes, expected ${n}`);
    const a = this.scratch;
    for (let w = 0, b = 0; w < this.words; w++, b += 4) {
      a[w] =
        b + 3 < n
          ? (bytes[b]! << 24) | (bytes[b + 1]! << 16) | (bytes[b + 2]! << 8) | bytes[b + 3]!
          : (bytes[b]! << 24) | (bytes[b + 1]! << 16); // MAC: 48 bits = 1.5 words
    }
    return a;
  }

  /** Key words as big-endian bytes (for building an EidPrefix). */
  keyBytes(a: Int32Array): Uint8Array {
    const bytes = new Uint8Array(this.words * 4);
    for (let w = 0; w < this.words; w++) {
      const v = a[w]!;
      bytes[w * 4] = v >>> 24;
      bytes[w * 4 + 1] = v >>> 16;
      bytes[w * 4 + 2] = v >>> 8;
      bytes[w * 4 + 3] = v;
    }
    return bytes;
  }

  /** Whether node n's key agrees with `a` on the first `len` bits. */
  matches(n: number, a: Int32Array, len: number): boolean {
    const nodes = this.nodes;
    let base = n << this.shift;
    let w = 0;
    for (; len >= 32; len -= 32, w++, base++) if (nodes[base] !== a[w]) return false;
    return len === 0 || ((nodes[base]! ^ a[w]!) & MASK[len]!) === 0;
  }

  /** Length of the common prefix of node n's key and `a`, at most `cap`. */
  private common(n: number, a: Int32Array, cap: number): number {
    const base = n << this.shift;
    for (let w = 0; w < this.words; w++) {
      const x = this.nodes[base + w]! ^ a[w]!;
      if (x !== 0) {
        const c = w * 32 + Math.clz32(x);
        return c < cap ? c : cap;
      }
    }
    return cap;
  }

  /** Bit `pos` of node n's key. */
  private keyBit(n: number, pos: number): number {
    return (this.nodes[(n << this.shift) + (pos >>> 5)]! >>> (31 - (pos & 31))) & 1;
  }

  /** Node index with exactly (a, len), or NONE. */
  find(root: number, a: Int32Array, len: number): number {
    let n = root;
    for (;;) {
      const nl = this.len(n);
      if (nl > len || !this.matches(n, a, nl)) return NONE;
      if (nl === len) return n;
      n = this.child(n, bitAt(a, nl));
      if (n === NONE) return NONE;
    }
  }

  set(iid: number, a: Int32Array, len: number, prefix: EidPrefix, value: V): void {
    let root = this.roots.get(iid);
    if (root === undefined) {
      root = new Root(this.alloc(a, 0));
      this.roots.set(iid, root);
    }
    let n = root.node;
    let target: number;
    let changed = NONE; // node whose child pointer changed
    for (;;) {
      // Invariant: n matches `a` on len(n) bits and len(n) <= len.
      const nl = this.len(n);
      if (nl === len) {
        target = n;
        break;
      }
      const bit = bitAt(a, nl);
      const child = this.child(n, bit);
      changed = n;
      if (child === NONE) {
        target = this.alloc(a, len);
        this.setChild(n, bit, target);
        break;
      }
      const cl = this.len(child);
      const c = this.common(child, a, cl < len ? cl : len);
      if (c === cl) {
        changed = NONE;
        n = child;
        continue;
      }
      if (c === len) {
        // The new prefix sits between n and child.
        target = this.alloc(a, len);
        this.setChild(target, this.keyBit(child, len), child);
        this.setChild(n, bit, target);
      } else {
        // Split: a branch node at the first differing bit, child and the new leaf below it.
        const branch = this.alloc(a, c);
        target = this.alloc(a, len);
        const newBit = bitAt(a, c);
        this.setChild(branch, newBit, target);
        this.setChild(branch, newBit ^ 1, child);
        this.setChild(n, bit, branch);
      }
      break;
    }
    this.prefixes[target] = prefix;
    this.values[target] = value;
    if (this.hosts !== undefined && len === 32) {
      let byAddress = this.hosts.get(iid);
      if (byAddress === undefined) this.hosts.set(iid, (byAddress = new Map()));
      byAddress.set(a[0]!, target);
    }
    if (!this.hasValue(target)) {
      this.setHasValue(target, true);
      this.size++;
      root.count++;
      const bits = root.count >= this.jumpThreshold ? Math.max(1, Math.min(this.jumpBits, 31 - Math.clz32(root.count))) : 0;
      if (bits > root.bits) {
        root.bits = bits;
        root.jump = new Int32Array(2 << bits);
        this.rejump(root, root.node);
      } else {
        this.rejump(root, changed !== NONE ? changed : target);
      }
    }
    // An existing valued target means nothing was allocated: no jump entry changed.
  }

  /** Recomputes the jump entries under node p after p's value or children changed. */
  private rejump(root: Root, p: number): void {
    const jump = root.jump;
    const K = root.bits;
    const pl = this.len(p);
    if (jump === null || pl >= K) return;
    const nodes = this.nodes;
    const first = nodes[p << this.shift]! >>> (32 - K);
    const end = first + (1 << (K - pl));
    for (let i = first; i < end; i++) {
      const top = (i << (32 - K)) | 0;
      let n = root.node;
      let best = NONE;
      for (;;) {
        const base = n << this.shift;
        const m = nodes[base + this.meta]!;
        const nl = m & LEN_MASK;
        if (nl >= K) break;
        if (nl !== 0 && ((nodes[base]! ^ top) & MASK[nl]!) !== 0) {
          n = NONE;
          break;
        }
        if (m & HAS_VALUE) best = n;
        n = nodes[base + this.meta + 1 + ((i >>> (K - 1 - nl)) & 1)]!;
        if (n === NONE) break;
      }
      jump[2 * i] = n;
      jump[2 * i + 1] = best;
    }
  }

  delete(iid: number, a: Int32Array, len: number): boolean {
    const info = this.roots.get(iid);
    if (info === undefined) return false;
    const root = info.node;
    let grand = NONE;
    let parent = NONE;
    let n = root;
    for (;;) {
      const nl = this.len(n);
      if (nl > len || !this.matches(n, a, nl)) return false;
      if (nl === len) break;
      grand = parent;
      parent = n;
      n = this.child(n, bitAt(a, nl));
      if (n === NONE) return false;
    }
    if (!this.hasValue(n)) return false;
    this.setHasValue(n, false);
    this.prefixes[n] = undefined;
    this.values[n] = undefined;
    if (this.hosts !== undefined && len === 32) {
      const byAddress = this.hosts.get(iid);
      byAddress?.delete(a[0]!);
      if (byAddress?.size === 0) this.hosts.delete(iid);
    }
    this.size--;
    info.count--;
    const l = this.left(n);
    const r = this.right(n);
    if (n === root) {
      if (l === NONE && r === NONE) this.dropRoot(iid, root);
      else this.rejump(info, root);
      return true;
    }
    if (l !== NONE && r !== NONE) {
      this.rejump(info, n); // still a needed branch
      return true;
    }
    if (l !== NONE || r !== NONE) {
      this.replaceChild(parent, n, l !== NONE ? l : r);
      this.free(n);
      this.rejump(info, parent);
      return true;
    }
    this.replaceChild(parent, n, NONE);
    this.free(n);
    if (parent === root) {
      if (!this.hasValue(root) && this.left(root) === NONE && this.right(root) === NONE) {
        this.dropRoot(iid, root);
        return true;
      }
      this.rejump(info, parent);
    } else if (!this.hasValue(parent)) {
      // A valueless branch left with one child is spliced out.
      const only = this.left(parent) !== NONE ? this.left(parent) : this.right(parent);
      this.replaceChild(grand, parent, only);
      this.free(parent);
      this.rejump(info, grand);
    } else {
      this.rejump(info, parent);
    }
    return true;
  }

  private dropRoot(iid: number, root: number): void {
    this.roots.delete(iid);
    this.free(root);
  }

  /** Node with the longest stored prefix covering `a`, or NONE. The per-Map-Request hot path. */
  best(iid: number, a: Int32Array): number {
    if (this.hosts !== undefined) {
      const host = this.hosts.get(iid)?.get(a[0]!);
      if (host !== undefined) return host;
    }
    const root = this.roots.get(iid);
    if (root === undefined) return NONE;
    const nodes = this.nodes;
    const shift = this.shift;
    const meta = this.meta;
    const words = this.words;
    let best = NONE;
    let n = root.node;
    const jump = root.jump;
    if (jump !== null) {
      const i = 2 * (a[0]! >>> (32 - root.bits));
      n = jump[i]!;
      best = jump[i + 1]!;
      if (n === NONE) return best;
    }
    for (;;) {
      const base = n << shift;
      const m = nodes[base + meta]!;
      const nl = m & LEN_MASK;
      // Inline of matches(): compare whole words, then the masked partial word.
      let w = 0;
      let rest = nl;
      for (; rest >= 32; rest -= 32, w++) if (nodes[base + w] !== a[w]) return best;
      if (rest !== 0 && ((nodes[base + w]! ^ a[w]!) & MASK[rest]!) !== 0) return best;
      if (m & HAS_VALUE) best = n;
      if (w === words) return best; // full-length node
      n = nodes[base + meta + 1 + ((a[nl >>> 5]! >>> (31 - (nl & 31))) & 1)]!;
      if (n === NONE) return best;
    }
  }

  /**
   * Length of the shortest prefix of `a` that contains no stored prefix, or -1 when a stored
   * prefix covers `a` (then no negative prefix exists).
   */
  widestNegative(iid: number, a: Int32Array): number {
    const root = this.roots.get(iid);
    if (root === undefined) return 0;
    let n = root.node;
    for (;;) {
      // n matches `a` and its subtree holds at least one stored prefix.
      if (this.hasValue(n)) return -1;
      const nl = this.len(n);
      if (nl === this.maxLen) return -1; // unreachable: a full-length node always has a value
      const child = this.child(n, bitAt(a, nl));
      if (child === NONE) return nl + 1;
      const cl = this.len(child);
      const c = this.common(child, a, cl);
      if (c < cl) return c + 1; // child's subtree diverges from `a` at bit c
      n = child;
    }
  }

  /** Stored nodes whose prefix contains (a, len), shortest first. */
  covering(iid: number, a: Int32Array, len: number, out: number[]): void {
    const root = this.roots.get(iid);
    if (root === undefined) return;
    let n = root.node;
    for (;;) {
      const nl = this.len(n);
      if (nl > len || !this.matches(n, a, nl)) return;
      if (this.hasValue(n)) out.push(n);
      if (nl === len) return;
      n = this.child(n, bitAt(a, nl));
      if (n === NONE) return;
    }
  }

  /** Stored nodes inside (a, len), in address order. */
  coveredBy(iid: number, a: Int32Array, len: number, out: number[]): void {
    const root = this.roots.get(iid);
    if (root === undefined) return;
    let n = root.node;
    for (;;) {
      const nl = this.len(n);
      if (nl >= len) {
        if (this.matches(n, a, len)) this.collect(n, out);
        return;
      }
      if (!this.matches(n, a, nl)) return;
      n = this.child(n, bitAt(a, nl));
      if (n === NONE) return;
    }
  }

  /** Whether any stored prefix lies strictly inside (a, len). */
  hasInside(iid: number, a: Int32Array, len: number): boolean {
    const root = this.roots.get(iid);
    if (root === undefined) return false;
    let n = root.node;
    for (;;) {
      const nl = this.len(n);
      if (nl > len) return this.matches(n, a, len);
      if (!this.matches(n, a, nl)) return false;
      // A node at exactly `len` has something inside when it has a child (branches hold values below).
      if (nl === len) return this.left(n) !== NONE || this.right(n) !== NONE;
      n = this.child(n, bitAt(a, nl));
      if (n === NONE) return false;
    }
  }

  /** Pre-order (address, then length) walk of the subtree at `start`. */
  collect(start: number, out: number[]): void {
    const stack = [start];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (this.hasValue(n)) out.push(n);
      if (this.right(n) !== NONE) stack.push(this.right(n));
      if (this.left(n) !== NONE) stack.push(this.left(n));
    }
  }

  clear(): void {
    this.roots.clear();
    this.hosts?.clear();
    this.prefixes = [];
    this.values = [];
    this.used = 0;
    this.freeHead = NONE;
    this.size = 0;
  }
}

function bitAt(a: Int32Array, pos: number): number {
  return (a[pos >>> 5]! >>> (31 - (pos & 31))) & 1;
}

const FAMILIES: readonly EidFamily[] = ['ipv4', 'ipv6', 'mac'];

/**
 * Longest-prefix-match table keyed by EidPrefix, separate per (instance ID, family).
 * Stored prefixes are normalised (host bits zeroed); the normalised object is what lookups
 * return, so callers can keep the EidPrefix of their value and pass it here without a copy.
 */
export class PrefixTable<V> {
  private readonly tries: Record<EidFamily, FamilyTrie<V>>;
  /** Bumped by every change; the exact-match cache below is valid for one version. */
  private version = 0;
  /**
   * The last exact-match lookup, by prefix object: handling one Map-Register asks about the
   * same decoded EID object four or five times with no change in between.
   */
  private lastGetPrefix: EidPrefix | undefined;
  private lastGetVersion = -1;
  private lastGetValue: V | undefined;

  constructor(options: TrieOptions = {}) {
    this.tries = {
      ipv4: new FamilyTrie<V>(FAMILY_BITS.ipv4, options),
      ipv6: new FamilyTrie<V>(FAMILY_BITS.ipv6, options),
      mac: new FamilyTrie<V>(FAMILY_BITS.mac, options),
    };
  }

  get size(): number {
    return this.tries.ipv4.size + this.tries.ipv6.size + this.tries.mac.size;
  }

  /**
   * Loads a prefix's key into its trie's scratch, parsing the address there (nothing allocated);
   * throws PrefixError for bad prefixes.
   */
  private key(prefix: EidPrefix): { trie: FamilyTrie<V>; a: Int32Array } {
    const family = this.checkedFamily(prefix);
    return { trie: this.tries[family], a: this.address(family, prefix.address) };
  }

  /** The prefix's family, after checking its length fits it. */
  private checkedFamily(prefix: EidPrefix): EidFamily {
    const family = requireFamily(prefix);
    const { maxLen } = this.tries[family];
    const { length } = prefix;
    if (!Number.isInteger(length) || length < 0 || length > maxLen) {
      throw new PrefixError(`prefix length ${length} is outside 0..${maxLen} for ${family}`);
    }
    return family;
  }

  /** Inserts or replaces. Host bits of `prefix` are ignored. */
  set(prefix: EidPrefix, value: V): void {
    this.version++;
    const stored = normalizePrefix(prefix);
    const { trie, a } = this.key(stored);
    trie.set(stored.iid, a, stored.length, stored, value);
  }

  /** The value stored for exactly this prefix, or `make()` stored there now (one walk, not two). */
  getOrSet(prefix: EidPrefix, make: () => V): V {
    // One parse serves the lookup, the insert and the normalisation (a million times at start);
    // the bytes are kept by the stored prefix, so they are not the trie's scratch.
    const trie = this.tries[this.checkedFamily(prefix)];
    const bytes = prefixBytes(prefix);
    const a = trie.load(bytes);
    const root = trie.roots.get(prefix.iid);
    if (root !== undefined) {
      const n = trie.find(root.node, a, prefix.length);
      if (n !== NONE && trie.hasValue(n)) return trie.values[n] as V;
    }
    const value = make();
    this.version++;
    trie.set(prefix.iid, a, prefix.length, normalizeParsed(prefix, bytes), value);
    return value;
  }

  /** Value stored for exactly this prefix. */
  get(prefix: EidPrefix): V | undefined {
    if (prefix === this.lastGetPrefix && this.lastGetVersion === this.version) return this.lastGetValue;
    const { trie, a } = this.key(prefix);
    const root = trie.roots.get(prefix.iid);
    const n = root === undefined ? NONE : trie.find(root.node, a, prefix.length);
    const value = n !== NONE && trie.hasValue(n) ? trie.values[n] : undefined;
    this.lastGetPrefix = prefix;
    this.lastGetVersion = this.version;
    this.lastGetValue = value;
    return value;
  }

  has(prefix: EidPrefix): boolean {
    const { trie, a } = this.key(prefix);
    const root = trie.roots.get(prefix.iid);
    if (root === undefined) return false;
    const n = trie.find(root.node, a, prefix.length);
    return n !== NONE && trie.hasValue(n);
  }

  delete(prefix: EidPrefix): boolean {
    this.version++;
    const { trie, a } = this.key(prefix);
    return trie.delete(prefix.iid, a, prefix.length);
  }

  clear(): void {
    this.version++;
    for (const family of FAMILIES) this.tries[family].clear();
  }

  /**
   * Loads an address (bytes, IP/MAC text or Address of `family`) into its family trie's scratch
   * key. Returns only the key: the caller looks the trie up, so no pair object per lookup.
   */
  private address(family: EidFamily, address: LookupAddress): Int32Array {
    const trie = this.tries[family];
    if (address instanceof Uint8Array) return trie.load(address);
    if (typeof address !== 'string') {
      if (address.afi !== family) throw new PrefixError(`address family ${address.afi} does not match lookup family ${family}`);
      // A just-decoded EID (every Map-Request and Map-Register): its wire bytes, no text parse.
      const decoded = decodedEidBytes(address);
      if (decoded !== undefined) return trie.load(decoded);
      address = address.afi === 'mac' ? address.mac : address.ip;
    }
    const bytes = trie.scratchBytes;
    const ok =
      family === 'ipv4' ? parseIpv4Into(address, bytes) : family === 'ipv6' ? parseIpv6Into(address, bytes) : parseMacInto(address, bytes);
    if (!ok) throw new PrefixError(`'${address}' is not a ${family} address`);
    return trie.load(bytes);
  }

  /** Longest stored prefix covering the address. Pass raw bytes on hot paths. */
  lookupBest(iid: number, family: EidFamily, address: LookupAddress): PrefixMatch<V> | undefined {
    const trie = this.tries[family];
    const a = this.address(family, address);
    const n = trie.best(iid, a);
    return n === NONE ? undefined : { prefix: trie.prefixes[n]!, value: trie.values[n] as V };
  }

  /** Like lookupBest but returns only the value and allocates nothing for byte input. */
  lookupBestValue(iid: number, family: EidFamily, address: LookupAddress): V | undefined {
    const trie = this.tries[family];
    const a = this.address(family, address);
    const n = trie.best(iid, a);
    return n === NONE ? undefined : trie.values[n];
  }

  /**
   * The least-specific prefix that covers the address and overlaps no stored prefix (what a
   * negative Map-Reply should cover), or undefined when a stored prefix covers the address.
   */
  lookupWidestNegative(iid: number, family: EidFamily, address: LookupAddress): EidPrefix | undefined {
    const trie = this.tries[family];
    const a = this.address(family, address);
    const len = trie.widestNegative(iid, a);
    if (len < 0) return undefined;
    return prefixFromBytes(iid, family, trie.keyBytes(a), len);
  }

  /** Whether a stored prefix lies strictly inside `prefix` (cheap: no list is built). */
  hasMoreSpecifics(prefix: EidPrefix): boolean {
    const { trie, a } = this.key(prefix);
    return trie.hasInside(prefix.iid, a, prefix.length);
  }

  /** Stored prefixes inside `prefix` (itself included when stored), in address order. */
  coveredBy(prefix: EidPrefix): Array<PrefixMatch<V>> {
    const { trie, a } = this.key(prefix);
    const nodes: number[] = [];
    trie.coveredBy(prefix.iid, a, prefix.length, nodes);
    return nodes.map((n) => ({ prefix: trie.prefixes[n]!, value: trie.values[n] as V }));
  }

  /** Stored prefixes containing `prefix` (itself included when stored), shortest first. */
  covering(prefix: EidPrefix): Array<PrefixMatch<V>> {
    const { trie, a } = this.key(prefix);
    const nodes: number[] = [];
    trie.covering(prefix.iid, a, prefix.length, nodes);
    return nodes.map((n) => ({ prefix: trie.prefixes[n]!, value: trie.values[n] as V }));
  }

  /** All entries: by family (IPv4, IPv6, MAC), then instance ID, then address and length. */
  *entries(): IterableIterator<PrefixMatch<V>> {
    for (const family of FAMILIES) {
      const trie = this.tries[family];
      const iids = [...trie.roots.keys()].sort((x, y) => x - y);
      for (const iid of iids) {
        const root = trie.roots.get(iid);
        if (root === undefined) continue;
        const nodes: number[] = [];
        trie.collect(root.node, nodes);
        for (const n of nodes) yield { prefix: trie.prefixes[n]!, value: trie.values[n] as V };
      }
    }
  }

  [Symbol.iterator](): IterableIterator<PrefixMatch<V>> {
    return this.entries();
  }
}

// Deterministic EIDs, registrations and request payloads for the benchmarks, built with the
// livmap codec so they are exactly what an OOR xTR would send.
import { ecmAround, mapRequest } from '../../mapserver/codec/build.js';
import { encode, signMessage } from '../../mapserver/codec/index.js';
import type { EidPrefix, Locator, MapRegister, MappingRecord } from '../../mapserver/codec/types.js';
import type { Registration, Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';

// ECM with an inner IPv4 header and no options: 4-byte ECM word, 20-byte IPv4, 8-byte UDP.
/** Inner UDP source port: where the Map-Reply goes; the generator writes its own port here. */
export const ECM_PORT_OFFSET = 4 + 20;
export const ECM_CHECKSUM_OFFSET = 4 + 20 + 6;
/** Nonce of the Map-Request inside the ECM. */
export const ECM_NONCE_OFFSET = 4 + 20 + 8 + 4;
/** Nonce of Map-Reply, Map-Register and Map-Notify. */
export const NONCE_OFFSET = 4;

export const SITE_V4 = '10.0.0.0/8';
export const SITE_V6 = '2001:db8::/32';
/**
 * The ETR of the stored registrations and its RLOC. Loopback, so that whatever the server might
 * send it (a forwarded request, a Map-Notify after a move) stays on this machine.
 */
export const ETR = '127.0.0.2';

/** xorshift32: the same sequence on every run, so runs compare. */
export class Rng {
  constructor(private state = 0x2545f491) {}
  next(): number {
    let s = this.state;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.state = s;
    return s >>> 0;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/**
 * The i-th host of 10.0.0.0/8 (i < 2^24): a bijective scramble, so hosts spread over the /8
 * (a realistic trie shape) and registered host i never collides with unregistered host j >= N.
 */
export function hostV4(i: number): string {
  const x = Math.imul(i, 0x9e3779b1) & 0xffffff;
  return `10.${x >>> 16}.${(x >>> 8) & 0xff}.${x & 0xff}`;
}

/** The i-th host of 2001:db8::/32. */
export function hostV6(i: number): string {
  const x = Math.imul(i, 0x9e3779b1) >>> 0;
  return `2001:db8:${(x >>> 16).toString(16)}:${(x & 0xffff).toString(16)}::1`;
}

function hostPrefix(ip: string): EidPrefix {
  return ip.includes(':') ? { iid: 0, address: { afi: 'ipv6', ip }, length: 128 } : { iid: 0, address: { afi: 'ipv4', ip }, length: 32 };
}

const LOCATOR: Locator = {
  priority: 1, weight: 100, mPriority: 255, mWeight: 0, local: true, probed: false, reachable: true,
  rloc: { afi: 'ipv4', ip: ETR },
};

export function hostRecord(ip: string): MappingRecord {
  return { eid: hostPrefix(ip), ttl: 10, action: 0, authoritative: true, mapVersion: 0, locators: [LOCATOR] };
}

/** The bench site: both EID blocks, more-specifics accepted, one key of the given algorithm. */
export function benchSite(alg: 'hmac-sha1' | 'hmac-sha256', secret: string): Site {
  return {
    name: 'bench',
    keys: [{ alg, secret }],
    prefixes: [
      { eid: parseEidPrefix(SITE_V4), acceptMoreSpecifics: true },
      { eid: parseEidPrefix(SITE_V6), acceptMoreSpecifics: true },
    ],
  };
}

/** A live proxy-reply registration of host i (IPv4), as the Map-Server would have stored it. */
export function registrationV4(i: number, now: number, lifetimeMs: number): Registration {
  return {
    site: 'bench',
    etrId: `rloc:${ETR}`,
    source: { address: ETR, port: 4342 },
    proxyReply: true,
    merge: false,
    record: hostRecord(hostV4(i)),
    claimedAt: now,
    lastRefreshed: now,
    expiresAt: now + lifetimeMs,
  };
}

/**
 * An ECM Map-Request for `eid` from ITR-RLOC `itr` (127.0.0.1 unless given), inner UDP source
 * port `port` (0 unless given: the load generator writes its port there, and fixes the
 * checksum, once it has bound its socket).
 */
export function ecmMapRequest(eid: string, nonce: bigint, itr = '127.0.0.1', port = 0): Buffer {
  const message = mapRequest({ nonce, sourceEid: { afi: 'ipv4', ip: itr }, itrRlocs: [{ afi: 'ipv4', ip: itr }], records: [hostPrefix(eid)] });
  // An IPv6 EID keeps an IPv4 inner header, addressed to the ITR itself.
  return encode(ecmAround(message, { source: itr, destination: eid.includes(':') ? itr : eid, sourcePort: port }));
}

export function nonceOf(i: number, salt: number): bigint {
  return (BigInt(salt >>> 0) << 32n) | BigInt(i >>> 0);
}

export interface RequestMix {
  /** Payload count (distinct nonces; the generator cycles through them). */
  readonly payloads: number;
  /** Registered hosts are hostV4(0 .. registered-1). */
  readonly registered: number;
  /** ITR-RLOC (and inner source) of every request: 127.0.0.1 unless given. */
  readonly itr?: string;
}

/**
 * ECM Map-Requests: 90% for registered hosts (positive proxy reply), 5% for unregistered hosts
 * inside the site (negative, "site not registered"), 5% outside every site (widest negative).
 */
export function mapRequestPayloads(mix: RequestMix, salt = 1): { payloads: Buffer[]; hits: number; siteMisses: number; noSite: number } {
  const rng = new Rng(0x1234567 + salt);
  const payloads: Buffer[] = [];
  let hits = 0, siteMisses = 0, noSite = 0;
  for (let i = 0; i < mix.payloads; i++) {
    const r = rng.below(100);
    let eid: string;
    if (r < 90) { eid = hostV4(rng.below(mix.registered)); hits++; }
    else if (r < 95) { eid = hostV4(mix.registered + rng.below(1 << 20)); siteMisses++; }
    else { const x = rng.next(); eid = `100.${64 + ((x >>> 16) & 63)}.${(x >>> 8) & 0xff}.${x & 0xff}`; noSite++; }
    payloads.push(ecmMapRequest(eid, nonceOf(i, 0x4d520000 + salt), mix.itr));
  }
  return { payloads, hits, siteMisses, noSite };
}

/**
 * Signed Map-Registers (M bit: want Map-Notify; P bit: proxy reply) for `hosts` distinct hosts
 * (hostV4(firstHost) on), cycling. A Map-Server refuses a nonce it accepted before (replay
 * protection): a different `salt` gives never-sent ones.
 * `hostsPerEtr`: hosts are registered by ETRs of that many hosts each (the I bit, with an xTR-ID
 * per ETR), each ETR's hosts back to back, as an OOR xTR sends its mappings (one Map-Register
 * each, every 60 s). Without it one ETR registers every host, cycling without end: not how an xTR
 * registers, and a Map-Server that learns from an ETR's register bursts which prefixes it left
 * (authority/bursts.ts) takes a run that stops mid-cycle as the ETR leaving the hosts it did not
 * reach.
 */
export function mapRegisterPayloads(count: number, hosts: number, secret: string, algId: 1 | 2 = 2, salt = 0x52470000, firstHost = 0, hostsPerEtr?: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const host = firstHost + (i % hosts);
    out.push(signedRegister(hostRecord(hostV4(host)), nonceOf(i, salt), secret, algId, hostsPerEtr === undefined ? undefined : etrXtr(Math.floor(host / hostsPerEtr))));
  }
  return out;
}

/** How many hosts each of the bench's ETRs registers (mapRegisterPayloads hostsPerEtr). */
export const BENCH_HOSTS_PER_ETR = 100;

/** The xTR-ID and site-ID of the bench's e-th ETR (hostsPerEtr above). */
function etrXtr(e: number): { readonly xtrId: Uint8Array; readonly siteId: Uint8Array } {
  const xtrId = Buffer.alloc(16);
  xtrId.write('livmap-etr', 0, 'latin1');
  xtrId.writeUInt32BE(e, 12);
  return { xtrId, siteId: Buffer.alloc(8) };
}

/** One signed Map-Register of `record` as an OOR xTR sends it: P (proxy reply) and M (want Map-Notify) set; the I bit with `xtr`. */
export function signedRegister(record: MappingRecord, nonce: bigint, secret: string, algId: 1 | 2, xtr?: { readonly xtrId: Uint8Array; readonly siteId: Uint8Array }): Buffer {
  const register: MapRegister = {
    type: 'map-register', proxyReply: true, security: false, xtrIdPresent: xtr !== undefined, rtr: false, wantMapNotify: true, merge: false,
    nonce,
    auth: { keyId: 0, algId, authData: new Uint8Array(algId === 2 ? 32 : 20) },
    records: [record],
    ...(xtr ?? {}),
  };
  return signMessage(register, secret);
}

/** A site prefix's mapping record as an xTR registers it (TTL 10 min, one locator, as in the OOR captures). */
export function prefixRecord(prefix: string, rloc: string): MappingRecord {
  const eid = parseEidPrefix(prefix);
  return { eid, ttl: 10, action: 0, authoritative: true, mapVersion: 0, locators: [{ ...LOCATOR, rloc: { afi: 'ipv4', ip: rloc } }] };
}

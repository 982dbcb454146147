// Map-Resolver: answers Map-Requests (plain or inside an ECM) from the mapping database,
// proxy-replies for ETRs that asked for it and forwards the ECM to those that did not.
import { ecmAround } from '../codec/build.js';
import { immutableRecord } from '../codec/record.js';
import type { Address, EidPrefix, EncapsulatedControl, Locator, MapReply, MapRequest, MappingRecord } from '../codec/types.js';
import type { MappingDatabase, Resolution } from '../db/database.js';
import type { Endpoint } from '../db/model.js';
import { eidFamily, formatEidPrefix, samePrefix } from '../codec/prefix.js';
import type { Requester } from '../db/model.js';
import { append, dropped, NOTHING, type HandlerResult, type Outbound, type ReplyKind } from './types.js';


export interface ResolverOptions {
  /** Address families the server can send from (it has a socket of that family). */
  readonly families: ReadonlySet<'ipv4' | 'ipv6'>;
}

/** The ITR-RLOC to answer: the first of a family we can send to (RFC 9301 §5.3). */
export function replyAddress(request: MapRequest, families: ReadonlySet<'ipv4' | 'ipv6'>): string | undefined {
  for (const rloc of request.itrRlocs) {
    if ((rloc.afi === 'ipv4' || rloc.afi === 'ipv6') && families.has(rloc.afi)) return rloc.ip;
  }
  return undefined;
}

const proxied = new WeakMap<MappingRecord, MappingRecord>();

/**
 * A proxy reply speaks for the ETR: not authoritative (A=0), locators not local to us (L=0).
 * Built once per registered record (records are immutable) and reused while the prefix matches.
 */
function proxyRecord(record: MappingRecord, eid: EidPrefix): MappingRecord {
  const cached = proxied.get(record);
  if (cached && (cached.eid === eid || samePrefix(cached.eid, eid))) return cached;
  const built: MappingRecord = immutableRecord({
    ...record,
    eid,
    authoritative: false,
    locators: record.locators.map((l): Locator => ({ ...l, local: false, probed: false })),
  });
  proxied.set(record, built);
  return built;
}

/** The proxy record of a registered answer, kept with the (cached) resolution. */
function proxyAnswer(resolution: Extract<Resolution, { kind: 'registered' }>): MappingRecord {
  const kept = resolution.proxy;
  if (kept !== undefined) return kept;
  return (resolution.proxy = proxyRecord(resolution.binding.record, resolution.eid));
}

export function recordFor(resolution: Exclude<Resolution, { kind: 'registered' }>): MappingRecord {
  if (resolution.kind === 'static') return resolution.record;
  return { eid: resolution.eid, ttl: resolution.ttl, action: resolution.action, authoritative: true, mapVersion: 0, locators: [] };
}

/** The record a Map-Reply for this resolution carries (for a forwarded request: what the ETR holds). */
export function answerRecord(resolution: Resolution): MappingRecord {
  return resolution.kind === 'registered' ? proxyAnswer(resolution) : recordFor(resolution);
}

/** Outer IP family of an address, for building the ECM around a plain Map-Request we forward. */
function ipOf(address: Address): string | undefined {
  if (address.afi === 'ipv4' || address.afi === 'ipv6') return address.ip;
  if (address.afi === 'lcaf-iid') return ipOf(address.address);
  return undefined;
}

function encapsulate(request: MapRequest, eid: EidPrefix, from: Endpoint): EncapsulatedControl | undefined {
  const source = ipOf(request.sourceEid) ?? from.address;
  const destination = ipOf(eid.address);
  if (!destination || source.includes(':') !== destination.includes(':')) return undefined;
  return ecmAround(request, { source, destination, sourcePort: from.port });
}

/**
 * `ecm`/`ecmBytes` are the envelope when the request arrived encapsulated: the reply goes to the
 * inner UDP source port, and a forwarded request is the ECM unchanged.
 */
export function handleMapRequest(
  db: MappingDatabase,
  options: ResolverOptions,
  request: MapRequest,
  envelope: { readonly ecm: EncapsulatedControl; readonly bytes: Uint8Array } | undefined,
  from: Endpoint,
  now: number,
): HandlerResult {
  if (request.smr && !request.smrInvoked) return dropped('unexpected', 'SMR sent to the Map-Resolver', from);
  if (request.probe) return dropped('unexpected', 'RLOC-probe sent to the Map-Resolver', from);
  if (request.records.length === 0) return dropped('malformed', 'Map-Request without EID records', from);

  // Created on first use, sized for the one EID most requests carry (see append).
  let records: MappingRecord[] | undefined;
  let replies: ReplyKind[] | undefined;
  let answered: Requester[] | undefined;
  let outbound: Outbound[] | undefined;
  const itr = replyAddress(request, options.families);
  let forwardedTo: Set<string> | undefined;
  for (const eid of request.records) {
    if (!eidFamily(eid)) return dropped('unsupported', `EID of address family ${eid.address.afi} cannot be resolved`, from);
    const resolution = db.resolve(eid, now);
    let answeredEid: EidPrefix;
    let ttl: number;
    if (resolution.kind === 'registered') {
      const { binding } = resolution;
      answeredEid = resolution.eid;
      ttl = binding.record.ttl;
      if (binding.proxyReply) {
        records = append(records, proxyAnswer(resolution));
        replies = append(replies, 'positive');
      } else {
        // The ETR answers for itself (RFC 9301 §8.3): forward the request once per ETR.
        const key = `${binding.etr.address}:${binding.etr.port}`;
        forwardedTo ??= new Set();
        if (!forwardedTo.has(key)) {
          forwardedTo.add(key);
          const ecm = envelope?.ecm ?? encapsulate(request, eid, from);
          if (!ecm) return dropped('unsupported', `cannot forward a plain Map-Request for ${formatEidPrefix(eid)} across address families`, from);
          outbound = append<Outbound>(outbound, envelope ? { kind: 'raw', to: binding.etr, bytes: envelope.bytes } : { kind: 'message', to: binding.etr, message: ecm });
          replies = append(replies, 'forwarded');
        }
      }
    } else {
      const record = recordFor(resolution);
      answeredEid = record.eid;
      ttl = record.ttl;
      records = append(records, record);
      replies = append(replies, resolution.kind === 'static' ? 'positive' : 'negative');
    }
    // Remember who holds what, to SMR them when it changes.
    if (itr !== undefined) {
      const expiresAt = now + ttl * 60_000;
      answered = append(answered, { itr, sourceEid: request.sourceEid, eid: answeredEid, expiresAt });
    }
  }

  if (records !== undefined && !request.dontMapReply) {
    const address = itr;
    if (address === undefined) return dropped('no-itr-rloc', 'no ITR-RLOC of an address family this server can reach', from);
    const reply: MapReply = { type: 'map-reply', probe: false, echoNonce: false, security: false, nonce: request.nonce, records };
    outbound = append<Outbound>(outbound, { kind: 'message', to: { address, port: envelope ? envelope.ecm.inner.sourcePort : from.port }, message: reply });
  }
  return { outbound: outbound ?? NOTHING.outbound, changes: NOTHING.changes, events: NOTHING.events, replies: replies ?? [], answered: answered ?? [] };
}

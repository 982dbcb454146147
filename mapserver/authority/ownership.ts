// The registration authority's rule: which registration of an EID prefix holds it now, and why.
//
// Every (prefix, ETR) registration carries a claim: `claimedAt` (when this ETR's current claim
// began) and `left` (its latest complete register burst no longer listed the prefix).
//  - A Map-Register is a FRESH CLAIM (claimedAt = now) when the ETR holds no live registration of
//    the prefix, or its registration is `left`; otherwise it is a REFRESH and keeps claimedAt.
//    So an ETR whose config still lists a VM that moved away (a stale ETR) refreshes forever
//    without ever becoming newer, while an ETR that lists the VM again after omitting it claims
//    it afresh: OOR never withdraws, it just stops listing (see authority/bursts.ts).
//  - The holder is, among live registrations: the merged set when every ETR asked to merge (the
//    merge bit, or a multi-homed site prefix whose ETRs all send xTR-IDs); otherwise the ETR
//    with the newest claim among those still listing the prefix (all of them if none does), ties
//    broken by the latest refresh, then by ETR id, so the answer never depends on arrival order.
//  - An operator move (POST /moves) is a hint: a registration of its own (etrId `move:…`) whose
//    claim is the moment of the move. It holds the prefix until an ETR claims afresh after it
//    (which confirms or supersedes it) or its lifetime ends.
import { LISP_CONTROL_PORT } from '../codec/ports.js';
import type { Locator, MappingRecord } from '../codec/types.js';
import type { Endpoint, Registration } from '../db/model.js';
import type { ReadonlySmallMap } from '../db/small-map.js';

/** Who holds a prefix, as Map-Requests are answered: the record, and the registrations behind it. */
export interface Binding {
  readonly record: MappingRecord;
  readonly proxyReply: boolean;
  /** The ETR a Map-Request is forwarded to when no registration asked for proxy replies. */
  readonly etr: Endpoint;
  readonly registrations: readonly Registration[];
}

/** What the rule reads of a registered prefix (the database's RegisteredPrefix). */
export interface HeldPrefix {
  readonly byEtr: ReadonlySmallMap<string, Registration>;
  /** The binding of a lone registration, cached by the rule until the database clears it. */
  single?: { readonly registration: Registration; readonly binding: Binding } | undefined;
}

/** ETR ids of operator moves start with this. */
export const OPERATOR_ETR_PREFIX = 'move:';
export const OPERATOR_MOVE_ETR_ID = `${OPERATOR_ETR_PREFIX}api`;

export function isOperatorHint(registration: Registration): boolean {
  return registration.etrId.startsWith(OPERATOR_ETR_PREFIX);
}

/** Whether a Map-Register of a prefix by an ETR now starts a new claim (see the rule above). */
export function startsClaim(existing: Registration | undefined, now: number): boolean {
  return existing === undefined || existing.left === true || existing.expiresAt <= now;
}

/** a claims later than b (the deterministic order of the rule). */
function newerClaim(a: Registration, b: Registration): boolean {
  if (a.claimedAt !== b.claimedAt) return a.claimedAt > b.claimedAt;
  if (a.lastRefreshed !== b.lastRefreshed) return a.lastRefreshed > b.lastRefreshed;
  return a.etrId > b.etrId;
}

function newest(list: readonly Registration[]): Registration | undefined {
  let best: Registration | undefined;
  for (const reg of list) if (!best || newerClaim(reg, best)) best = reg;
  return best;
}

function bindingOf(reg: Registration): Binding {
  return { record: reg.record, proxyReply: reg.proxyReply, etr: etrEndpoint(reg), registrations: [reg] };
}

/** The holder of a registered prefix at `now`, as the binding Map-Requests are answered with. */
export function holderBinding(registered: HeldPrefix, isSitePrefix: boolean, now: number): Binding | undefined {
  if (registered.byEtr.size === 1) {
    // The common case, on every Map-Request: one ETR, nothing to merge or order.
    let single = registered.single;
    if (!single) {
      const only = registered.byEtr.any()!;
      single = { registration: only, binding: bindingOf(only) };
      registered.single = single;
    }
    return single.registration.expiresAt > now ? single.binding : undefined;
  }
  return holderAmong(registered.byEtr.values(), isSitePrefix, now);
}

/** The holder among a prefix's registrations (live ones only count) at `now`. */
export function holderAmong(registrations: Iterable<Registration>, isSitePrefix: boolean, now: number): Binding | undefined {
  const etrs: Registration[] = [];
  const hints: Registration[] = [];
  for (const reg of registrations) {
    if (reg.expiresAt <= now) continue;
    (isOperatorHint(reg) ? hints : etrs).push(reg);
  }
  const hint = newest(hints);
  const merge = etrs.length > 1 && etrs.every((r) => r.merge || (isSitePrefix && r.xtrId !== undefined));
  if (merge) {
    const latest = newest(etrs)!;
    if (hint && newerClaim(hint, latest)) return bindingOf(hint);
    return mergedBinding(etrs);
  }
  const listing = etrs.filter((r) => !r.left);
  const holder = newest(listing.length ? listing : etrs);
  if (hint && (!holder || hint.claimedAt >= holder.claimedAt)) return bindingOf(hint);
  return holder ? bindingOf(holder) : undefined;
}

/** The union of the ETRs' locators, earliest claim first; the smallest TTL. */
function mergedBinding(live: Registration[]): Binding {
  live.sort((a, b) => (newerClaim(a, b) ? 1 : -1));
  const locators: Locator[] = [];
  const seen = new Set<string>();
  for (const reg of live) {
    for (const locator of reg.record.locators) {
      const key = JSON.stringify(locator.rloc);
      if (seen.has(key)) continue;
      seen.add(key);
      locators.push(locator);
    }
  }
  const newestClaim = live[live.length - 1]!;
  const lastRefreshed = live.reduce((a, b) => (b.lastRefreshed > a.lastRefreshed ? b : a));
  return {
    record: { ...newestClaim.record, ttl: Math.min(...live.map((r) => r.record.ttl)), locators },
    proxyReply: live.some((r) => r.proxyReply),
    etr: etrEndpoint(lastRefreshed),
    registrations: live,
  };
}

/** Whether `registration` is (part of) the binding `binding`. */
export function holds(binding: Binding | undefined, registration: Registration): boolean {
  return binding !== undefined && binding.registrations.some((r) => r.etrId === registration.etrId);
}

function etrEndpoint(reg: Registration): Endpoint {
  // Forwarded Map-Requests go to the ETR's control port, whatever port it registered from.
  return { address: reg.source.address, port: LISP_CONTROL_PORT };
}

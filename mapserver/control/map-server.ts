// Map-Server: authenticates Map-Registers, turns them into registrations, answers Map-Notify.
import { verifyMessage } from '../codec/index.js';
import { zeroAuthData } from '../codec/auth.js';
import { AUTH_ALG, type Locator, type MapNotify, type MapRegister, type MappingRecord } from '../codec/types.js';
import type { MappingDatabase } from '../db/database.js';
import type { Endpoint, KeyAlgorithm, Registration, Site, StateChange } from '../db/model.js';
import { eidFamily, formatEidPrefix, samePrefix } from '../codec/prefix.js';
import { formatAddress } from '../codec/text.js';
import type { BurstArrival } from '../authority/bursts.js';
import { holderAmong, holds, isOperatorHint, startsClaim } from '../authority/ownership.js';
import { append, dropped, NOTHING, type DropReason, type HandlerResult, type Outbound, type ServerEvent } from './types.js';

export interface MapServerOptions {
  /** Registration lifetime without refresh, in milliseconds (unless the T bit asks for the record TTL). */
  readonly registrationTtlMs: number;
}

/** What the registration authority tells the handler about one Map-Register (see authority/). */
export interface RegisterContext {
  /** The register burst of its ETR this Map-Register belongs to (authority/bursts.ts). */
  readonly burst: BurstArrival;
  /** Whether its nonce was accepted before, within the replay window. */
  isReplay(nonce: bigint): boolean;
  /** Its ETR (etrIdOf), when the authority has named it already. */
  readonly etrId?: string;
}

/** For callers that track neither bursts nor replays (tests of the wire behaviour). */
export const NO_AUTHORITY: RegisterContext = { burst: { seq: 0 }, isReplay: () => false };

const NO_REGISTRATIONS: readonly Registration[] = [];

const ALG_BY_ID: Readonly<Record<number, KeyAlgorithm>> = { [AUTH_ALG.hmacSha1]: 'hmac-sha1', [AUTH_ALG.hmacSha256]: 'hmac-sha256' };

export function etrIdOf(register: MapRegister, from: Endpoint): string {
  const { xtrId } = register;
  // A view, not a copy, of the xTR-ID's bytes: this runs for every Map-Register.
  if (register.xtrIdPresent && xtrId) return `xtr:${Buffer.from(xtrId.buffer, xtrId.byteOffset, xtrId.byteLength).toString('hex')}`;
  return `rloc:${from.address}`;
}

/**
 * The key of `site` that authenticates `raw` (its index in `site.keys`), or undefined.
 * RFC 9301 §5.6: the Key ID selects the key: Key ID k is the site's k-th key (0-based, in
 * configuration order), which must be of the message's algorithm. Key ID 0 is also what OOR
 * always sends (it reads the field as one 16-bit algorithm id): with it, every other key of
 * the algorithm is tried too, so a site can roll its key over while OOR ETRs re-key one by one.
 */
export function authenticate(site: Site, auth: { readonly keyId: number; readonly algId: number }, raw: Uint8Array): number | undefined {
  const alg = ALG_BY_ID[auth.algId];
  if (!alg) return undefined;
  const selected = site.keys[auth.keyId];
  if (selected?.alg === alg && verifyMessage(raw, selected.secret)) return auth.keyId;
  if (auth.keyId !== 0) return undefined;
  for (let i = 1; i < site.keys.length; i++) {
    const key = site.keys[i]!;
    if (key.alg === alg && verifyMessage(raw, key.secret)) return i;
  }
  return undefined;
}

/**
 * `target` with the Map-Register's xTR-ID and site-ID when it carries them. Assigned rather than
 * spread into the literal: the spread form costs an extra object copy on every Map-Register.
 */
function withXtrSite<T extends { xtrId?: Uint8Array; siteId?: Uint8Array }>(register: MapRegister, target: T): T {
  if (!register.xtrIdPresent) return target;
  const extended: { xtrId?: Uint8Array; siteId?: Uint8Array } = target;
  if (register.xtrId) extended.xtrId = register.xtrId;
  if (register.siteId) extended.siteId = register.siteId;
  return target;
}

/** Whether two records name the same RLOCs (in any order). */
function sameLocatorSet(a: MappingRecord, b: MappingRecord): boolean {
  const rlocs = (r: MappingRecord): string => r.locators.map((l) => formatAddress(l.rloc)).sort().join(',');
  return rlocs(a) === rlocs(b);
}

/** OOR's Map-Notify clears the L bit: the locators are not local to the Map-Server. */
function notifyRecord(record: MappingRecord): MappingRecord {
  return { ...record, locators: record.locators.map((l): Locator => ({ ...l, local: false })) };
}

/** Why one record of an authenticated Map-Register was not registered. */
function refuseRecord(db: MappingDatabase, site: Site, record: MappingRecord): { reason: DropReason; detail: string } | undefined {
  if (!eidFamily(record.eid)) return { reason: 'unsupported', detail: `EID of address family ${record.eid.address.afi} cannot be registered` };
  const covering = db.siteFor(record.eid);
  if (!covering || covering.site.name !== site.name) return { reason: 'out-of-site', detail: `${formatEidPrefix(record.eid)} is outside site '${site.name}'` };
  if (!covering.prefix.acceptMoreSpecifics && !samePrefix(record.eid, covering.prefix.eid)) {
    return { reason: 'more-specific', detail: `${formatEidPrefix(record.eid)} is more specific than ${formatEidPrefix(covering.prefix.eid)} and site '${site.name}' accepts no more-specifics` };
  }
  return undefined;
}

/**
 * A Map-Register: authenticated with the site of its first record, refused whole as a replay,
 * then each record accepted or refused on its own. The Map-Notify (M bit) lists only the
 * records whose registration holds its prefix now: an ETR whose claim the authority did not
 * accept (a stale refresh of a prefix another ETR claimed since) is not told otherwise.
 */
export function handleMapRegister(
  db: MappingDatabase,
  options: MapServerOptions,
  register: MapRegister,
  raw: Uint8Array,
  from: Endpoint,
  now: number,
  context: RegisterContext = NO_AUTHORITY,
): HandlerResult {
  const first = register.records[0];
  if (!first) return dropped('malformed', 'Map-Register without records', from, true);
  if (!eidFamily(first.eid)) return dropped('unsupported', `EID of address family ${first.eid.address.afi} cannot be registered`, from, true);
  const owner = db.siteFor(first.eid);
  if (!owner) return dropped('out-of-site', `${formatEidPrefix(first.eid)} is inside no configured site`, from, true);
  const site = owner.site;
  if (register.auth.algId === AUTH_ALG.none) return dropped('auth', `unauthenticated Map-Register for site '${site.name}'`, from, true);
  const keyIndex = authenticate(site, register.auth, raw);
  const secret = keyIndex === undefined ? undefined : site.keys[keyIndex]!.secret;
  if (secret === undefined) {
    return dropped('auth', `authentication failed for site '${site.name}' (key id ${register.auth.keyId}, algorithm ${register.auth.algId})`, from, true);
  }
  // A nonce of 0 (allowed when no Map-Notify is wanted) cannot tell a replay from a refresh.
  if (register.nonce !== 0n && context.isReplay(register.nonce)) {
    return dropped('replay', `replayed Map-Register for site '${site.name}' (nonce 0x${register.nonce.toString(16)} already accepted)`, from, true);
  }

  const etrId = context.etrId ?? etrIdOf(register, from);
  const { burst } = context;
  let changes: StateChange[] | undefined;
  let events: ServerEvent[] | undefined;
  let refused: DropReason[] | undefined;
  let notified: MappingRecord[] | undefined;
  for (const record of register.records) {
    const refusal = record === first && (owner.prefix.acceptMoreSpecifics || samePrefix(record.eid, owner.prefix.eid)) ? undefined : refuseRecord(db, site, record);
    if (refusal) {
      refused = append(refused, refusal.reason);
      events = append<ServerEvent>(events, { type: 'refused', from, reason: refusal.reason, detail: refusal.detail });
      continue;
    }
    const registered = db.registered(record.eid);
    const existing = registered?.byEtr.get(etrId);
    if (record.ttl === 0) {
      // RFC 9301 §8.2: a Map-Register with TTL 0 withdraws the registration.
      if (existing) {
        changes = append<StateChange>(changes, { kind: 'delete-registration', eid: record.eid, etrId });
        events = append<ServerEvent>(events, { type: 'withdrawn', site: site.name, eid: record.eid, etrId });
      }
      continue;
    }
    // The ETR's previous burst, completed by this register, omitted the prefix: it had left it.
    const left = existing !== undefined && burst.completed !== undefined && existing.burst !== burst.completed;
    const fresh = startsClaim(left ? { ...existing, left } : existing, now);
    // RFC 9301 §5.6 T bit: time the registration out by the record's TTL (minutes).
    const lifetimeMs = register.ttlTimeout ? record.ttl * 60_000 : options.registrationTtlMs;
    const registration = withXtrSite<Registration>(register, {
      site: site.name,
      etrId,
      source: from,
      proxyReply: register.proxyReply,
      merge: register.merge,
      // How this ETR signs: later Map-Notifies to it use the same key, algorithm and digest length.
      auth: { keyId: register.auth.keyId, algId: register.auth.algId, length: register.auth.authData.length, keyIndex: keyIndex! },
      record,
      claimedAt: fresh ? now : existing!.claimedAt,
      lastRefreshed: now,
      expiresAt: now + lifetimeMs,
      burst: burst.seq,
    });
    events = append<ServerEvent>(events, {
      type: 'registered',
      site: site.name,
      eid: record.eid,
      etrId,
      locators: record.locators,
      refresh: !fresh,
    });
    let claimed = registration;
    // Most prefixes have one registrant: skip the copy when that is this ETR.
    let contenders: readonly Registration[] = registered && (registered.byEtr.size > 1 || !existing) ? [...registered.byEtr.values()].filter((r) => r.etrId !== etrId) : NO_REGISTRATIONS;
    let settled: Registration[] | undefined;
    for (const hint of contenders) {
      if (!isOperatorHint(hint) || hint.expiresAt <= now) continue;
      // An operator move is settled by the first ETR that claims after it (superseding it) or
      // that registers the move's own locators (confirming it, and taking over its claim).
      const confirms = sameLocatorSet(hint.record, record);
      if (!fresh && !confirms) continue;
      (settled ??= []).push(hint);
      if (!fresh && hint.claimedAt > claimed.claimedAt) claimed = { ...claimed, claimedAt: hint.claimedAt };
    }
    if (settled) contenders = contenders.filter((r) => !settled.includes(r));
    changes = append<StateChange>(changes, { kind: 'put-registration', registration: claimed });
    for (const hint of settled ?? NO_REGISTRATIONS) changes.push({ kind: 'delete-registration', eid: record.eid, etrId: hint.etrId });
    const holder = contenders.length === 0 ? undefined : holderAmong([...contenders, claimed], db.isSitePrefix(record.eid), now);
    if (holder && !holds(holder, claimed)) {
      events.push({ type: 'contested', site: site.name, eid: record.eid, claimant: etrId, holders: holder.registrations.map((r) => r.etrId) });
      continue;
    }
    notified = append(notified, record);
  }

  let outbound: Outbound[] | undefined;
  if (register.wantMapNotify && notified) {
    const notify = withXtrSite<MapNotify>(register, {
      type: 'map-notify',
      xtrIdPresent: register.xtrIdPresent,
      rtr: false,
      nonce: register.nonce,
      auth: { keyId: register.auth.keyId, algId: register.auth.algId, authData: zeroAuthData(register.auth.authData.length) },
      records: notified.map(notifyRecord),
    });
    outbound = [{ kind: 'message', to: from, message: notify, secret }];
  }
  const result: HandlerResult = {
    outbound: outbound ?? NOTHING.outbound,
    changes: changes ?? NOTHING.changes,
    events: events ?? NOTHING.events,
    accepted: { etrId, nonce: register.nonce },
  };
  if (!refused) return result;
  // A register none of whose records was taken counts as dropped, for its first reason.
  return { ...result, refusedRecords: refused, ...(changes || notified ? {} : { drop: { reason: refused[0]!, detail: 'no record of the Map-Register was accepted' } }) };
}

/** Registrations whose lifetime ran out become delete changes and `expired` events. */
export function expireRegistrations(db: MappingDatabase, now: number): HandlerResult {
  const changes: StateChange[] = [];
  const events: ServerEvent[] = [];
  for (const reg of db.takeExpired(now)) {
    changes.push({ kind: 'delete-registration', eid: reg.record.eid, etrId: reg.etrId });
    events.push({ type: 'expired', site: reg.site, eid: reg.record.eid, etrId: reg.etrId });
  }
  return { outbound: [], changes, events };
}

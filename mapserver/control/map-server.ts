// Map-Server: authenticates Map-Registers, turns them into registrations, answers Map-Notify.
import { verifyMessage } from '../codec/index.js';
import { AUTH_ALG, type Locator, type MapNotify, type MapRegister, type MappingRecord } from '../codec/types.js';
import type { DbChange, MappingDatabase } from '../db/database.js';
import type { Endpoint, KeyAlgorithm, Registration, Site } from '../db/model.js';
import { eidFamily, formatEidPrefix, samePrefix } from '../db/prefix.js';
import { formatAddress } from '../codec/text.js';
import { append, dropped, NOTHING, type HandlerResult, type Outbound, type ServerEvent } from './types.js';

export interface MapServerOptions {
  /** Registration lifetime without refresh, in milliseconds. */
  readonly registrationTtlMs: number;
  /**
   * A registration refreshed after a silence longer than this (ms) counts as new: the ETR
   * stopped and came back (an OOR restart with a new config, a VM moving back), so it may own
   * the prefix again. Refreshes on the usual 60 s timer keep their first-registration time.
   */
  readonly resumeAfterMs: number;
}

/** 1.5 × the 60 s register interval of RFC 9301 §8.2 and OOR. */
export const DEFAULT_RESUME_AFTER_MS = 90_000;

const ALG_BY_ID: Readonly<Record<number, KeyAlgorithm>> = { [AUTH_ALG.hmacSha1]: 'hmac-sha1', [AUTH_ALG.hmacSha256]: 'hmac-sha256' };

export function etrIdOf(register: MapRegister, from: Endpoint): string {
  if (register.xtrIdPresent && register.xtrId) return `xtr:${Buffer.from(register.xtrId).toString('hex')}`;
  return `rloc:${from.address}`;
}

/** The secret of `site` that authenticates `raw`, or undefined. Tries every key of the algorithm (rollover). */
function authenticate(site: Site, register: MapRegister, raw: Uint8Array): string | undefined {
  const alg = ALG_BY_ID[register.auth.algId];
  if (!alg) return undefined;
  for (const key of site.keys) {
    if (key.alg === alg && verifyMessage(raw, key.secret)) return key.secret;
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

/** OOR's Map-Notify clears the L bit: the locators are not local to the Map-Server. */
function notifyRecord(record: MappingRecord): MappingRecord {
  return { ...record, locators: record.locators.map((l): Locator => ({ ...l, local: false })) };
}

export function handleMapRegister(
  db: MappingDatabase,
  options: MapServerOptions,
  register: MapRegister,
  raw: Uint8Array,
  from: Endpoint,
  now: number,
): HandlerResult {
  const first = register.records[0];
  if (!first) return dropped('malformed', 'Map-Register without records', from, true);
  for (const record of register.records) {
    if (!eidFamily(record.eid)) return dropped('unsupported', `EID of address family ${record.eid.address.afi} cannot be registered`, from, true);
  }
  const owner = db.siteFor(first.eid);
  if (!owner) return dropped('out-of-site', `${formatEidPrefix(first.eid)} is inside no configured site`, from, true);
  const site = owner.site;
  if (register.auth.algId === AUTH_ALG.none) return dropped('auth', `unauthenticated Map-Register for site '${site.name}'`, from, true);
  const secret = authenticate(site, register, raw);
  if (secret === undefined) {
    return dropped('auth', `authentication failed for site '${site.name}' (key id ${register.auth.keyId}, algorithm ${register.auth.algId})`, from, true);
  }

  const etrId = etrIdOf(register, from);
  let changes: DbChange[] | undefined;
  let events: ServerEvent[] | undefined;
  for (const record of register.records) {
    // OOR sends one record per Map-Register: the first record's site is already known.
    const covering = record === first ? owner : db.siteFor(record.eid);
    if (!covering || covering.site.name !== site.name) return dropped('out-of-site', `${formatEidPrefix(record.eid)} is outside site '${site.name}'`, from, true);
    if (!covering.prefix.acceptMoreSpecifics && !samePrefix(record.eid, covering.prefix.eid)) {
      return dropped('more-specific', `${formatEidPrefix(record.eid)} is more specific than ${formatEidPrefix(covering.prefix.eid)} and site '${site.name}' accepts no more-specifics`, from, true);
    }
    const existing = db.registered(record.eid)?.byEtr.get(etrId);
    if (record.ttl === 0) {
      // RFC 9301 §8.2: a Map-Register with TTL 0 withdraws the registration.
      if (existing) {
        changes = append<DbChange>(changes, { kind: 'delete-registration', eid: record.eid, etrId });
        events = append<ServerEvent>(events, { type: 'withdrawn', site: site.name, eid: record.eid, etrId });
      }
      continue;
    }
    const registration = withXtrSite<Registration>(register, {
      site: site.name,
      etrId,
      source: from,
      proxyReply: register.proxyReply,
      merge: register.merge,
      record,
      firstRegistered: existing && now - existing.lastRefreshed <= options.resumeAfterMs ? existing.firstRegistered : now,
      lastRefreshed: now,
      expiresAt: now + options.registrationTtlMs,
    });
    changes = append<DbChange>(changes, { kind: 'put-registration', registration });
    events = append<ServerEvent>(events, {
      type: 'registered',
      site: site.name,
      eid: record.eid,
      etrId,
      rlocs: record.locators.map((l) => formatAddress(l.rloc)),
      refresh: existing !== undefined,
    });
  }

  let outbound: Outbound[] | undefined;
  if (register.wantMapNotify) {
    const notify = withXtrSite<MapNotify>(register, {
      type: 'map-notify',
      xtrIdPresent: register.xtrIdPresent,
      rtr: false,
      nonce: register.nonce,
      auth: { keyId: register.auth.keyId, algId: register.auth.algId, authData: new Uint8Array(register.auth.authData.length) },
      records: register.records.map(notifyRecord),
    });
    outbound = [{ kind: 'message', to: from, message: notify, secret }];
  }
  return { outbound: outbound ?? NOTHING.outbound, changes: changes ?? NOTHING.changes, events: events ?? NOTHING.events };
}

/** Registrations whose lifetime ran out become delete changes and `expired` events. */
export function expireRegistrations(db: MappingDatabase, now: number): HandlerResult {
  const changes: DbChange[] = [];
  const events: ServerEvent[] = [];
  for (const reg of db.takeExpired(now)) {
    changes.push({ kind: 'delete-registration', eid: reg.record.eid, etrId: reg.etrId });
    events.push({ type: 'expired', site: reg.site, eid: reg.record.eid, etrId: reg.etrId });
  }
  return { outbound: [], changes, events };
}

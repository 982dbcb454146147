// The mapping database: sites, static mappings and live registrations, with longest-prefix
// resolution. It knows no transport and no storage; it changes only through `apply`.
import type { EidPrefix, MappingRecord, Mutable } from '../codec/types.js';
import { ACTION } from '../codec/types.js';
import type { DatabaseChange, Registration, Site, SitePrefix } from './model.js';
import { FAMILY_BITS, containsPrefix, normalizePrefix, requireFamily, samePrefix } from '../codec/prefix.js';
import { ExpiryQueue } from './expiry.js';
import { PrefixTable } from './trie.js';
import { SmallMap, type ReadonlySmallMap } from './small-map.js';
import { holderBinding, type Binding, type HeldPrefix } from '../authority/ownership.js';


/** All registrations of one EID prefix, one per registering ETR. */
export interface RegisteredPrefix extends HeldPrefix {
  readonly eid: EidPrefix;
  readonly site: string;
  readonly byEtr: ReadonlySmallMap<string, Registration>;
  /**
   * The binding of a lone registration, reused by every Map-Request until it changes; the
   * database clears it whenever `byEtr` changes (nothing else may change `byEtr`).
   */
  single?: { readonly registration: Registration; readonly binding: Binding } | undefined;
}

/** The database's own view of a RegisteredPrefix: only `apply` changes `byEtr`. */
interface OwnRegisteredPrefix extends RegisteredPrefix {
  readonly byEtr: SmallMap<string, Registration>;
  /**
   * The answer for every EID whose best match is this prefix, while it holds one registration
   * and has nothing registered or configured inside it: valid for the `generation` of the
   * table it was computed in, until `expiresAt`. Cleared with `single`.
   */
  answer?: { readonly generation: number; readonly expiresAt: number; readonly resolution: Resolution } | undefined;
}

/**
 * What one prefix of the table holds; several kinds may share a prefix. The entry is also the
 * prefix's registrations, by ETR (`registered` while it holds any): with a million registered
 * prefixes, one object each instead of three (entry, registered prefix, ETR map).
 */
class PrefixEntry extends SmallMap<string, Registration> implements OwnRegisteredPrefix {
  sitePrefix: { readonly site: Site; readonly prefix: SitePrefix } | undefined = undefined;
  mapping: MappingRecord | undefined = undefined;
  /** The site of the registrations ('' while there are none). */
  site = '';
  single: OwnRegisteredPrefix['single'] = undefined;
  answer: OwnRegisteredPrefix['answer'] = undefined;

  constructor(readonly eid: EidPrefix) {
    super();
  }

  get byEtr(): this {
    return this;
  }

  /** This entry as a registered prefix, while it holds registrations. */
  get registered(): this | undefined {
    return this.size > 0 ? this : undefined;
  }
}

/** The binding a prefix's registrations yield: the registration authority decides it. */
export type { Binding };

export type Resolution =
  | {
      readonly kind: 'registered';
      readonly eid: EidPrefix;
      readonly binding: Binding;
      readonly site: string;
      /**
       * The Map-Resolver's proxy record for this answer, built on its first use: a resolution is
       * cached per prefix and returned to every Map-Request for it, so the record derived from
       * it is at hand there, with no lookup of its own.
       */
      proxy?: MappingRecord;
    }
  | { readonly kind: 'static'; readonly record: MappingRecord }
  | {
      readonly kind: 'negative';
      readonly eid: EidPrefix;
      readonly ttl: number;
      readonly action: number;
      /** `no-site`: outside every site; `site-not-registered`: inside a site with no live registration. */
      readonly reason: 'no-site' | 'site-not-registered';
      readonly site?: string;
    };

export interface DatabaseOptions {
  readonly negativeTtlMinutes: number;
  readonly unregisteredSiteTtlMinutes: number;
}

// OOR answers No-Action for negative replies in a non-zero instance (vector 07); so do we.
const IID_NEGATIVE_ACTION = ACTION.noAction;

export class MappingDatabase {
  readonly sites = new Map<string, Site>();
  private readonly sitePrefixes = new PrefixTable<{ readonly site: Site; readonly prefix: SitePrefix }>();
  private readonly entries = new PrefixTable<PrefixEntry>();
  private registrationCount = 0;
  /** Source addresses of the stored registrations (the xTRs that register), with how many each. */
  private readonly xtrAddresses = new Map<string, number>();
  /** The prefixes each ETR holds a registration of (to find what a register burst omitted). */
  private readonly prefixesByEtr = new Map<string, Set<PrefixEntry>>();
  /**
   * Bumped whenever a prefix enters or leaves the table or a site changes: cached answers
   * (which depend on what lies inside and above their prefix) from an older generation are stale.
   */
  private generation = 0;
  private readonly expiries = new ExpiryQueue();

  constructor(private readonly options: DatabaseOptions) {}

  get liveRegistrations(): number {
    return this.registrationCount;
  }

  /** The site whose configured prefix covers `eid` (site prefixes never overlap). */
  siteFor(eid: EidPrefix): { readonly site: Site; readonly prefix: SitePrefix } | undefined {
    // Fast path (every registration, every answer about a VM): longest match on the address,
    // parsed into the table's scratch bytes (no allocation per lookup).
    const best = this.sitePrefixes.lookupBest(eid.iid, requireFamily(eid), eid.address);
    if (!best || best.prefix.length <= eid.length) return best?.value;
    const covering = this.sitePrefixes.covering(eid);
    return covering[covering.length - 1]?.value;
  }

  staticMapping(eid: EidPrefix): MappingRecord | undefined {
    return this.entries.get(eid)?.mapping;
  }

  *staticMappings(): Iterable<MappingRecord> {
    for (const { value } of this.entries.entries()) if (value.mapping) yield value.mapping;
  }

  registered(eid: EidPrefix): RegisteredPrefix | undefined {
    return this.entries.get(eid)?.registered;
  }

  *registrations(): Iterable<Registration> {
    for (const { value } of this.entries.entries()) {
      if (value.registered) yield* value.registered.byEtr.values();
    }
  }

  apply(changes: readonly DatabaseChange[]): void {
    for (const change of changes) this.applyOne(change);
  }

  private entryFor(eid: EidPrefix): PrefixEntry {
    return this.entries.getOrSet(eid, () => {
      this.generation++;
      return new PrefixEntry(eid);
    });
  }

  private dropIfEmpty(eid: EidPrefix, entry: PrefixEntry): void {
    if (!entry.sitePrefix && !entry.mapping && entry.size === 0) {
      this.entries.delete(eid);
      this.generation++;
    }
  }

  private applyOne(change: DatabaseChange): void {
    switch (change.kind) {
      case 'put-site': {
        this.generation++;
        this.removeSite(change.site.name);
        this.sites.set(change.site.name, change.site);
        for (const prefix of change.site.prefixes) {
          this.sitePrefixes.set(prefix.eid, { site: change.site, prefix });
          this.entryFor(prefix.eid).sitePrefix = { site: change.site, prefix };
        }
        return;
      }
      case 'delete-site':
        this.generation++;
        this.removeSite(change.name);
        return;
      case 'put-mapping':
        this.generation++;
        this.entryFor(change.mapping.eid).mapping = change.mapping;
        return;
      case 'delete-mapping': {
        const entry = this.entries.get(change.eid);
        if (entry?.mapping) {
          this.generation++;
          entry.mapping = undefined;
          this.dropIfEmpty(change.eid, entry);
        }
        return;
      }
      case 'put-registration': {
        const reg = change.registration;
        const entry = this.entryFor(reg.record.eid);
        if (entry.size === 0) {
          entry.site = reg.site;
          this.generation++;
        }
        const previous = entry.get(reg.etrId);
        if (!previous) {
          this.registrationCount++;
          let held = this.prefixesByEtr.get(reg.etrId);
          if (!held) this.prefixesByEtr.set(reg.etrId, (held = new Set()));
          held.add(entry);
        }
        // A refresh comes from the same address (most Map-Registers): the count stays as it is.
        if (previous?.source.address !== reg.source.address) {
          if (previous) this.forgetXtr(previous);
          this.xtrAddresses.set(reg.source.address, (this.xtrAddresses.get(reg.source.address) ?? 0) + 1);
        }
        entry.set(reg.etrId, reg);
        entry.single = undefined;
        entry.answer = undefined;
        // A refresh that keeps or extends the lifetime is found through the key's entry (expiry.ts).
        if (!previous || reg.expiresAt < previous.expiresAt) this.expiries.push(reg);
        return;
      }
      case 'refresh-registration': {
        const reg = this.entries.get(change.eid)?.get(change.etrId) as Mutable<Registration> | undefined;
        if (!reg) return;
        const shortened = change.expiresAt < reg.expiresAt;
        if (reg.source.address !== change.source.address) {
          this.forgetXtr(reg);
          this.xtrAddresses.set(change.source.address, (this.xtrAddresses.get(change.source.address) ?? 0) + 1);
        }
        if (reg.source.port !== change.source.port || reg.source.address !== change.source.address) reg.source = change.source;
        reg.lastRefreshed = change.lastRefreshed;
        reg.expiresAt = change.expiresAt;
        if (change.burst !== undefined) reg.burst = change.burst;
        if (shortened) this.expiries.push(reg);
        return;
      }
      case 'delete-registration': {
        const entry = this.entries.get(change.eid);
        const deleted = entry?.get(change.etrId);
        if (entry && deleted) {
          entry.delete(change.etrId);
          this.forgetXtr(deleted);
          const held = this.prefixesByEtr.get(change.etrId);
          held?.delete(entry);
          if (held?.size === 0) this.prefixesByEtr.delete(change.etrId);
          this.registrationCount--;
          entry.single = undefined;
          entry.answer = undefined;
          if (entry.size === 0) {
            entry.site = '';
            this.generation++;
            this.dropIfEmpty(change.eid, entry);
          }
        }
        return;
      }
      case 'put-nonces':
      case 'delete-nonces':
      case 'put-requesters':
      case 'put-subscription':
      case 'delete-subscription':
        return; // the authority's replay window, mobility's requesters and subscriptions: not mapping state
    }
  }

  /** Every registration `etrId` holds. */
  *registrationsOf(etrId: string): Iterable<Registration> {
    for (const entry of this.prefixesByEtr.get(etrId) ?? []) {
      const reg = entry.get(etrId);
      if (reg) yield reg;
    }
  }

  private forgetXtr(registration: Registration): void {
    const address = registration.source.address;
    const count = this.xtrAddresses.get(address) ?? 0;
    if (count <= 1) this.xtrAddresses.delete(address);
    else this.xtrAddresses.set(address, count - 1);
  }

  /** Whether `address` is the source of a stored registration: one of the sites' own xTRs. */
  isRegisteredXtr(address: string): boolean {
    return this.xtrAddresses.has(address);
  }

  private removeSite(name: string): void {
    const old = this.sites.get(name);
    if (!old) return;
    this.sites.delete(name);
    for (const prefix of old.prefixes) {
      this.sitePrefixes.delete(prefix.eid);
      const entry = this.entries.get(prefix.eid);
      if (entry) {
        entry.sitePrefix = undefined;
        this.dropIfEmpty(prefix.eid, entry);
      }
    }
  }

  /** Registrations whose lifetime ended by `now`, each returned once; the caller deletes them. */
  takeExpired(now: number): Registration[] {
    return this.expiries.popDue(now, (reg) => this.entries.get(reg.record.eid)?.registered?.byEtr.get(reg.etrId));
  }

  /**
   * Longest-prefix resolution of one EID (a host prefix, or a prefix from a Map-Request record)
   * over registrations, static mappings and configured site prefixes.
   */
  resolve(eid: EidPrefix, now: number): Resolution {
    const best = this.bestCovering(eid);
    if (best) {
      const answer = this.answerFrom(best, eid, now);
      if (answer) return answer;
      // Rare: the best entry holds only expired registrations; try the shorter covering prefixes.
      const chain = this.entries.covering(best.prefix);
      for (let i = chain.length - 2; i >= 0; i--) {
        const outer = this.answerFrom(chain[i]!, eid, now);
        if (outer) return outer;
      }
    }
    return {
      kind: 'negative',
      // Undefined only when the covering entries hold nothing live (expired registrations).
      eid: this.entries.lookupWidestNegative(eid.iid, requireFamily(eid), eid.address) ?? hostPrefixOf(eid),
      ttl: this.options.negativeTtlMinutes,
      action: eid.iid === 0 ? ACTION.nativelyForward : IID_NEGATIVE_ACTION,
      reason: 'no-site',
    };
  }

  /** The longest stored prefix that contains all of `eid`. */
  private bestCovering(eid: EidPrefix): { readonly prefix: EidPrefix; readonly value: PrefixEntry } | undefined {
    const best = this.entries.lookupBest(eid.iid, requireFamily(eid), eid.address);
    if (!best || best.prefix.length <= eid.length) return best;
    const chain = this.entries.covering(eid);
    return chain[chain.length - 1];
  }

  private answerFrom(match: { readonly prefix: EidPrefix; readonly value: PrefixEntry }, eid: EidPrefix, now: number): Resolution | undefined {
    const { prefix, value } = match;
    const registered = value.registered;
    if (registered) {
      // The hot path of every Map-Request for a registered EID.
      const cached = registered.answer;
      if (cached && cached.generation === this.generation && cached.expiresAt > now) return cached.resolution;
      const isSitePrefix = value.sitePrefix !== undefined;
      const binding = holderBinding(registered, isSitePrefix, now);
      if (binding) {
        const cap = isSitePrefix ? undefined : this.siteFor(prefix)?.prefix.moreSpecificTtl;
        const capped = cap !== undefined && binding.record.ttl > cap ? { ...binding, record: { ...binding.record, ttl: cap } } : binding;
        const hasInside = this.entries.hasMoreSpecifics(prefix);
        const resolution: Resolution = { kind: 'registered', eid: hasInside ? this.excludeMoreSpecifics(prefix, eid, now) : prefix, binding: capped, site: registered.site };
        const single = registered.single;
        if (!hasInside && single && single.binding === binding) {
          registered.answer = { generation: this.generation, expiresAt: single.registration.expiresAt, resolution };
        }
        return resolution;
      }
    }
    if (value.mapping) return { kind: 'static', record: { ...value.mapping, eid: this.excludeMoreSpecifics(prefix, eid, now) } };
    if (value.sitePrefix) {
      const { site, prefix: sitePrefix } = value.sitePrefix;
      return {
        kind: 'negative',
        // RFC 9301 §8.4: a configured site that has not registered gets a short negative TTL.
        eid: sitePrefix.acceptMoreSpecifics ? hostPrefixOf(eid) : this.excludeMoreSpecifics(prefix, eid, now),
        ttl: this.options.unregisteredSiteTtlMinutes,
        action: ACTION.nativelyForward,
        reason: 'site-not-registered',
        site: site.name,
      };
    }
    return undefined;
  }

  /** The binding registered for exactly `eid` at `now` (undefined when none is live). */
  bindingAt(eid: EidPrefix, now: number): Binding | undefined {
    const registered = this.entries.get(eid)?.registered;
    return registered ? holderBinding(registered, this.isSitePrefix(eid), now) : undefined;
  }

  /** Whether `eid` is exactly one of the sites' configured prefixes. */
  isSitePrefix(eid: EidPrefix): boolean {
    return this.sitePrefixes.get(eid) !== undefined;
  }

  /**
   * The widest prefix inside `matched` that covers `eid` and overlaps none of the prefixes
   * registered or configured below `matched`: handing out `matched` itself would hide a
   * more-specific binding (e.g. a migrated VM's /32) from every ITR that caches it.
   */
  private excludeMoreSpecifics(matched: EidPrefix, eid: EidPrefix, now: number): EidPrefix {
    if (!this.entries.hasMoreSpecifics(matched)) return matched;
    const inner = this.entries.coveredBy(matched).filter(({ prefix, value }) => {
      if (samePrefix(prefix, matched)) return false;
      return value.mapping !== undefined || value.sitePrefix !== undefined || (value.registered !== undefined && holderBinding(value.registered, false, now) !== undefined);
    });
    if (inner.length === 0) return matched;
    const max = maxLength(eid);
    for (let length = matched.length; length <= max; length++) {
      const candidate = truncate(eid, length);
      if (!inner.some(({ prefix }) => containsPrefix(candidate, prefix) || containsPrefix(prefix, candidate))) return candidate;
    }
    return hostPrefixOf(eid);
  }
}

function maxLength(eid: EidPrefix): number {
  return FAMILY_BITS[requireFamily(eid)];
}

function hostPrefixOf(eid: EidPrefix): EidPrefix {
  return truncate(eid, maxLength(eid));
}

/** `eid`'s address cut to `length` bits (host bits zeroed). */
function truncate(eid: EidPrefix, length: number): EidPrefix {
  return normalizePrefix({ ...eid, length });
}

// Where a site's xTRs are, and which site a binding points at. A site's xTRs are the holders of
// the site's own configured prefixes (e.g. cloud's 192.168.20.0/24): a VM's /32 that another
// site's xTR filed under that site's prefix (the VM runs elsewhere) does not make it one of them.
import type { Locator } from '../codec/types.js';
import { containsPrefix, samePrefix } from '../codec/prefix.js';
import { formatAddress } from '../codec/text.js';
import type { Binding, MappingDatabase } from '../db/database.js';
import type { Registration, Site, StateChange } from '../db/model.js';
import { isOperatorHint } from './ownership.js';

/** The locators of the xTRs that hold `siteName`'s own prefixes at `now` (L bit cleared). */
export function siteLocators(db: MappingDatabase, siteName: string, now: number): Locator[] {
  const site = db.sites.get(siteName);
  const byAddress = new Map<string, Locator>();
  for (const prefix of site?.prefixes ?? []) {
    const binding = db.bindingAt(prefix.eid, now);
    if (!binding || binding.registrations.every(isOperatorHint)) continue;
    for (const locator of binding.record.locators) byAddress.set(formatAddress(locator.rloc), { ...locator, local: false });
  }
  return [...byAddress.values()];
}

/** The site whose xTRs `binding`'s locators belong to (the first such site), if any. */
export function siteHolding(db: MappingDatabase, binding: Binding | undefined, now: number): string | undefined {
  if (!binding) return undefined;
  const rlocs = new Set(binding.record.locators.map((l) => formatAddress(l.rloc)));
  for (const name of db.sites.keys()) {
    if (siteLocators(db, name, now).some((l) => rlocs.has(formatAddress(l.rloc)))) return name;
  }
  return undefined;
}

/**
 * The deletions of `siteName`'s live registrations that the site no longer authorises once it
 * becomes `site`: all of them when the site is gone (`undefined`), else those none of its
 * prefixes would accept now (the prefix itself, or inside one that accepts more-specifics, as
 * the Map-Server checks a Map-Register). Used by PUT/DELETE /sites and by a config reload.
 */
export function uncoveredRegistrations(registrations: Iterable<Registration>, siteName: string, site: Site | undefined): StateChange[] {
  const deletions: StateChange[] = [];
  for (const reg of registrations) {
    if (reg.site !== siteName) continue;
    const eid = reg.record.eid;
    if (site && site.prefixes.some((p) => samePrefix(p.eid, eid) || (p.acceptMoreSpecifics && containsPrefix(p.eid, eid)))) continue;
    deletions.push({ kind: 'delete-registration', eid: reg.record.eid, etrId: reg.etrId });
  }
  return deletions;
}

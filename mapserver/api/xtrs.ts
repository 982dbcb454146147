// Per-site xTR status for GET /sites (IOS-XE's `show lisp site` at a glance): each ETR that
// registers the site's prefixes, from where, when last, and whether it still does.
import type { EventEmitter } from 'node:events';
import { isOperatorHint } from '../authority/ownership.js';
import type { ServerEvent } from '../control/types.js';
import type { MappingDatabase } from '../db/database.js';
import type { Endpoint, Registration } from '../db/model.js';
import type { ServerEvents } from '../compose/server.js';
import { endpointText } from './format.js';

export type XtrState = 'registered' | 'left' | 'expired';

export interface XtrStatus {
  readonly etrId: string;
  readonly source: string;
  readonly lastRegisteredAt: string;
  /** Live registrations its register bursts still list. */
  readonly registrations: number;
  /** Live registrations its register bursts stopped listing. */
  readonly left: number;
  readonly state: XtrState;
}

export interface SiteXtrs {
  /** Live registrations filed under the site, operator moves included. */
  readonly registrations: number;
  readonly xtrs: readonly XtrStatus[];
}

/** xTRs remembered per site after their last registration went (the oldest are forgotten first). */
export const REMEMBERED_PER_SITE = 256;

interface Seen {
  readonly source: Endpoint;
  readonly lastRefreshed: number;
}

export class XtrMemory {
  /** site -> etrId -> its last registration's source and time, taken as registrations go. */
  private readonly gone = new Map<string, Map<string, Seen>>();
  private readonly onEvent = (event: ServerEvent): void => {
    // Events come before their changes are applied: the registration is still in the database.
    if (event.type !== 'expired' && event.type !== 'withdrawn') return;
    const reg = this.db.registered(event.eid)?.byEtr.get(event.etrId);
    if (reg && !isOperatorHint(reg)) this.remember(reg);
  };

  constructor(private readonly db: MappingDatabase, private readonly events: EventEmitter<ServerEvents>) {
    events.on('event', this.onEvent);
  }

  private remember(reg: Registration): void {
    let site = this.gone.get(reg.site);
    if (!site) this.gone.set(reg.site, (site = new Map()));
    const previous = site.get(reg.etrId);
    if (previous && previous.lastRefreshed > reg.lastRefreshed) return;
    site.delete(reg.etrId);
    site.set(reg.etrId, { source: reg.source, lastRefreshed: reg.lastRefreshed });
    if (site.size > REMEMBERED_PER_SITE) site.delete(site.keys().next().value!);
  }

  /**
   * Every site's live registration count (operator moves included) and xTRs sorted by ETR id,
   * in one pass over the live registrations (a million take a second or more: one pass only).
   */
  bySite(): Map<string, SiteXtrs> {
    const live = new Map<string, { registrations: number; xtrs: Map<string, { seen: Seen; registrations: number; left: number }> }>();
    for (const reg of this.db.registrations()) {
      let site = live.get(reg.site);
      if (!site) live.set(reg.site, (site = { registrations: 0, xtrs: new Map() }));
      site.registrations++;
      if (isOperatorHint(reg)) continue;
      const xtr = site.xtrs.get(reg.etrId);
      if (!xtr) {
        site.xtrs.set(reg.etrId, { seen: { source: reg.source, lastRefreshed: reg.lastRefreshed }, registrations: reg.left ? 0 : 1, left: reg.left ? 1 : 0 });
        continue;
      }
      if (reg.left) xtr.left++;
      else xtr.registrations++;
      if (reg.lastRefreshed > xtr.seen.lastRefreshed) xtr.seen = { source: reg.source, lastRefreshed: reg.lastRefreshed };
    }
    const out = new Map<string, SiteXtrs>();
    for (const name of new Set([...live.keys(), ...this.gone.keys()])) {
      const list: XtrStatus[] = [];
      const current = live.get(name);
      for (const [etrId, { seen, registrations, left }] of current?.xtrs ?? []) {
        list.push(status(etrId, seen, registrations, left, registrations > 0 ? 'registered' : 'left'));
      }
      for (const [etrId, seen] of this.gone.get(name) ?? []) {
        if (!current?.xtrs.has(etrId)) list.push(status(etrId, seen, 0, 0, 'expired'));
      }
      out.set(name, { registrations: current?.registrations ?? 0, xtrs: list.sort((a, b) => (a.etrId < b.etrId ? -1 : a.etrId > b.etrId ? 1 : 0)) });
    }
    return out;
  }

  close(): void {
    this.events.off('event', this.onEvent);
  }
}

function status(etrId: string, seen: Seen, registrations: number, left: number, state: XtrState): XtrStatus {
  return { etrId, source: endpointText(seen.source), lastRegisteredAt: new Date(seen.lastRefreshed).toISOString(), registrations, left, state };
}

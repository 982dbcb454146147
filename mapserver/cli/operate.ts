// Operator verbs over a running livmap's REST API: sites, registrations, lookup, move, clear,
// events. Tables for people, --json for scripts, exit codes from api-client.ts.
import type { ParseArgsConfig } from 'node:util';
import { canonicalIp } from '../codec/ip.js';
import { parseEidPrefix, PrefixError } from '../codec/prefix.js';
import { API_OPTIONS, API_OPTIONS_HELP, CliError, EXIT, EXIT_CODES_HELP, apiRequest, apiTarget, statusError, table, unreachable, type ApiTarget } from './api-client.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

type Values = Record<string, string | boolean | string[] | undefined>;

/** Parses, prints help, maps CliError to its exit code; `body` does the verb's work. */
function apiVerb(
  name: string,
  summary: string,
  help: string,
  options: ParseArgsConfig['options'],
  body: (target: ApiTarget, values: Values, positionals: string[]) => Promise<number>,
): Verb {
  const fullHelp = `${help}\n${API_OPTIONS_HELP}\n\n${EXIT_CODES_HELP}\n`;
  return {
    summary,
    async run(args) {
      // verbArgs's exit statuses are EXIT.usage (2) and EXIT.ok (0).
      const parsed = verbArgs(name, fullHelp, { args, strict: true, allowPositionals: true, options: { ...API_OPTIONS, ...options } });
      if (typeof parsed === 'number') return parsed;
      const values = parsed.values as Values;
      try {
        const target = apiTarget(values as Parameters<typeof apiTarget>[0]);
        return await body(target, values, parsed.positionals);
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        process.stderr.write(`livmap ${name}: ${err.message}\n${err.help ? `\n${fullHelp}` : ''}`);
        return err.exitCode;
      }
    },
  };
}

const usage = (message: string): CliError => new CliError(EXIT.usage, message, true);

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An EID as the user typed it, checked here so a typo is a usage error, not an HTTP round trip. */
function eidArgument(positionals: string[], what = 'EID'): string {
  const [eid, extra] = positionals;
  if (!eid) throw usage(`give the ${what}`);
  if (extra !== undefined) throw usage(`unexpected argument '${extra}'`);
  checkEid(eid, what);
  return eid;
}

function checkEid(text: string, what: string): void {
  try {
    parseEidPrefix(text, 0);
  } catch (err) {
    if (err instanceof PrefixError) throw usage(`${what} '${text}' is not an address or prefix (${err.message})`);
    throw err;
  }
}

function iidOption(values: Values): number {
  const iid = Number(values.iid ?? '0');
  if (!Number.isInteger(iid) || iid < 0 || iid > 0xffffffff) throw usage('--iid must be an integer from 0 to 4294967295');
  return iid;
}

const ago = (iso: string | undefined, now = Date.now()): string => {
  if (!iso) return '-';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  return s < 0 ? `in ${-s}s` : s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

// ---- sites ----

interface XtrStatus { etrId: string; source: string; lastRegisteredAt: string; registrations: number; left: number; state: string }
interface SiteStatus {
  name: string;
  description?: string;
  keys: Array<{ alg: string; keyId?: number }>;
  prefixes: Array<{ eid: string; iid: number; acceptMoreSpecifics: boolean; moreSpecificTtl?: number }>;
  registrations: number;
  authFailures?: number;
  xtrs?: XtrStatus[];
}

export const sitesVerb = apiVerb('sites', 'show the sites: prefixes, registrations, xTRs, auth failures (API)',
  `usage: livmap sites [NAME] [options]

Shows the configured sites (or one): their EID prefixes, live registrations, auth failures,
and each xTR with its last registration, where from and its state (like IOS-XE's
\`show lisp site\`).
`, {}, async (target, values, positionals) => {
    if (positionals.length > 1) throw usage(`unexpected argument '${positionals[1]}'`);
    const name = positionals[0];
    const sites = name
      ? [(await apiRequest<SiteStatus>(target, 'GET', `/sites/${encodeURIComponent(name)}`)).body]
      : (await apiRequest<{ sites: SiteStatus[] }>(target, 'GET', '/sites')).body.sites;
    if (values.json) {
      printJson(name ? sites[0] : { sites });
      return EXIT.ok;
    }
    const num = (n: number | undefined): string => (n === undefined ? '-' : String(n));
    const rows = sites.map((s) => [
      s.name,
      s.prefixes.map((p) => `${p.iid ? `[${p.iid}] ` : ''}${p.eid}${p.acceptMoreSpecifics ? '+' : ''}`).join(' '),
      String(s.registrations),
      num(s.authFailures),
      s.xtrs ? String(s.xtrs.length) : '-',
      s.keys.map((k) => k.alg).join(','),
    ]);
    let out = table(['SITE', 'PREFIXES (+ accepts more specifics)', 'REGS', 'AUTH-FAIL', 'XTRS', 'KEYS'], rows);
    const xtrRows = sites.flatMap((s) => (s.xtrs ?? []).map((x) => [s.name, x.etrId, x.source, x.state, String(x.registrations), String(x.left), ago(x.lastRegisteredAt)]));
    if (xtrRows.length) out += `\n${table(['SITE', 'XTR', 'FROM', 'STATE', 'REGS', 'LEFT', 'LAST REGISTER'], xtrRows)}`;
    process.stdout.write(out);
    return EXIT.ok;
  });

// ---- registrations ----

interface RegistrationJson {
  site: string; eid: string; iid: number; etrId: string; source: string; proxyReply: boolean; merge: boolean; ttl: number;
  rlocs: Array<{ address: string; priority?: number; weight?: number; reachable?: boolean }>;
  claimedAt: string; left: boolean; lastRefreshed: string; expiresAt: string;
}
interface RegistrationsPage { registrations: RegistrationJson[]; total?: number; nextCursor?: string }

const PAGE_MAX = 1000;

export const registrationsVerb = apiVerb('registrations', 'list live registrations, filtered, all pages (API)',
  `usage: livmap registrations [--site S] [--eid PREFIX] [--iid N] [--etr ID] [--limit N] [options]

Lists live registrations, following the API's cursors until the end (or --limit).

  --site S           only this site's
  --eid PREFIX       only registrations of PREFIX or inside it
  --iid N            instance ID of --eid (default 0)
  --etr ID           only this ETR's (its ETR id as listed, or its address)
  --limit N          at most N registrations
  --page N           registrations per request (1..1000, default 1000)`,
  { site: { type: 'string' }, eid: { type: 'string' }, iid: { type: 'string' }, etr: { type: 'string' }, limit: { type: 'string' }, page: { type: 'string' } },
  async (target, values, positionals) => {
    if (positionals.length) throw usage(`unexpected argument '${positionals[0]}'`);
    if (typeof values.eid === 'string') checkEid(values.eid, '--eid');
    const limit = values.limit === undefined ? Infinity : Number(values.limit);
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) throw usage('--limit must be a positive integer');
    const pageSize = Number(values.page ?? PAGE_MAX);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE_MAX) throw usage(`--page must be an integer from 1 to ${PAGE_MAX}`);
    const filter = new URLSearchParams();
    if (typeof values.site === 'string') filter.set('site', values.site);
    if (typeof values.eid === 'string') filter.set('eid', values.eid);
    if (values.iid !== undefined) filter.set('iid', String(iidOption(values)));
    if (typeof values.etr === 'string') filter.set('etr', values.etr);
    const all: RegistrationJson[] = [];
    let total: number | undefined;
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams(filter);
      query.set('limit', String(Math.min(pageSize, limit - all.length)));
      if (cursor) query.set('cursor', cursor);
      const page = (await apiRequest<RegistrationsPage>(target, 'GET', `/registrations?${query}`)).body;
      if (!Array.isArray(page?.registrations)) throw new CliError(EXIT.server, 'GET /registrations answered without a registrations list');
      all.push(...page.registrations.slice(0, limit - all.length));
      total = page.total;
      cursor = page.nextCursor;
    } while (cursor && all.length < limit);
    if (values.json) {
      printJson({ registrations: all, total: total ?? all.length });
      return EXIT.ok;
    }
    const rows = all.map((r) => [
      r.site, `${r.iid ? `[${r.iid}] ` : ''}${r.eid}`, r.etrId, r.source,
      r.rlocs.map((l) => `${l.address}${l.reachable === false ? '(down)' : ''}`).join(','),
      r.left ? 'left' : 'live', ago(r.lastRefreshed), ago(r.expiresAt),
    ]);
    const shown = total !== undefined && total > all.length ? `${all.length} of ${total} registrations` : `${all.length} registration${all.length === 1 ? '' : 's'}`;
    process.stdout.write(`${table(['SITE', 'EID', 'ETR', 'FROM', 'RLOCS', 'STATE', 'REFRESHED', 'EXPIRES'], rows)}${shown}\n`);
    return EXIT.ok;
  });

// ---- lookup ----

interface LookupReply {
  eid: string; iid: number; kind: 'registered' | 'static' | 'negative'; prefix: string; ttl: number; action: string;
  rlocs: Array<{ address: string; priority?: number; weight?: number; reachable?: boolean }>;
  site?: string; registeredUnder?: string; proxyReply?: boolean; etr?: string; reason?: string;
}

export const lookupVerb = apiVerb('lookup', 'what a Map-Request for an EID would get, and why (API)',
  `usage: livmap lookup EID [--iid N] [options]

Asks the Map-Server (through its API, no UDP) what it would answer for EID: the prefix,
TTL, locators and the site it is bound to, or why the answer is negative (exit 1).

  --iid N            instance ID (default 0)`,
  { iid: { type: 'string' } },
  async (target, values, positionals) => {
    const eid = eidArgument(positionals);
    const query = new URLSearchParams({ eid, iid: String(iidOption(values)) });
    const answer = (await apiRequest<LookupReply>(target, 'GET', `/lookup?${query}`)).body;
    if (values.json) {
      printJson(answer);
      return answer.kind === 'negative' ? EXIT.negative : EXIT.ok;
    }
    const iid = answer.iid ? ` (IID ${answer.iid})` : '';
    if (answer.kind === 'negative') {
      process.stdout.write(`${eid}${iid}: negative, ${answer.prefix}, ttl ${answer.ttl} min, action ${answer.action}${answer.site ? `, site ${answer.site}` : ''}\n  ${answer.reason ?? ''}\n`);
      return EXIT.negative;
    }
    const via = answer.kind === 'static' ? 'static mapping'
      : `site ${answer.site}${answer.registeredUnder && answer.registeredUnder !== answer.site ? ` (registered under ${answer.registeredUnder})` : ''}, ${answer.proxyReply ? 'proxy reply' : `forwarded to ETR ${answer.etr}`}`;
    process.stdout.write(`${eid}${iid}: ${answer.kind}, ${answer.prefix}, ttl ${answer.ttl} min, ${via}\n`);
    process.stdout.write(table(['  RLOC', 'PRI/WEIGHT', 'STATE'], answer.rlocs.map((l) => [`  ${l.address}`, `${l.priority ?? 1}/${l.weight ?? 100}`, l.reachable === false ? 'down' : 'up'])));
    return EXIT.ok;
  });

// ---- move ----

interface MoveReply { eid: string; iid: number; from: string[]; to: string[]; smrs: number; notifies: number; fanoutMs: number; site?: string; expiresAt: string }

export const moveVerb = apiVerb('move', 'move an EID to a site or to locators, now (API)',
  `usage: livmap move EID (--to SITE | --rloc IP...) [--iid N] [--ttl MIN] [--lifetime S] [options]

Tells the Map-Server at switchover where a VM now lives: the binding changes at once, ITRs
that asked for it get SMRs, old ETRs a Map-Notify. The hint holds until an xTR's registration
confirms or supersedes it, or its lifetime ends.

  --to SITE          the destination site (its xTRs' RLOCs)
  --rloc IP          a destination RLOC instead (repeat for several)
  --iid N            instance ID (default 0)
  --ttl MIN          record TTL in replies (default: the current one)
  --lifetime S       seconds the hint holds unconfirmed (default: the registration lifetime)`,
  { to: { type: 'string' }, rloc: { type: 'string', multiple: true }, iid: { type: 'string' }, ttl: { type: 'string' }, lifetime: { type: 'string' } },
  async (target, values, positionals) => {
    const eid = eidArgument(positionals);
    const rlocs = values.rloc as string[] | undefined;
    if ((values.to === undefined) === (rlocs === undefined)) throw usage('give exactly one of --to SITE and --rloc IP');
    const body: Record<string, unknown> = { eid, iid: iidOption(values) };
    if (typeof values.to === 'string') body.site = values.to;
    if (rlocs) {
      const bad = rlocs.find((r) => canonicalIp(r) === null);
      if (bad !== undefined) throw usage(`--rloc '${bad}' is not an IP address`);
      body.rlocs = rlocs.map((r) => ({ address: canonicalIp(r)! }));
    }
    for (const [flag, field, max] of [['ttl', 'ttl', 1440], ['lifetime', 'lifetimeSeconds', 86400]] as const) {
      if (values[flag] === undefined) continue;
      const n = Number(values[flag]);
      if (!Number.isInteger(n) || n < (flag === 'ttl' ? 0 : 1) || n > max) throw usage(`--${flag} must be a whole number up to ${max}`);
      body[field] = n;
    }
    const answer = (await apiRequest<MoveReply>(target, 'POST', '/moves', { body })).body;
    if (values.json) {
      printJson(answer);
      return EXIT.ok;
    }
    const list = (rlocs: string[]): string => (rlocs.length ? rlocs.join(', ') : '(unbound)');
    process.stdout.write(`moved ${answer.eid}${answer.iid ? ` (IID ${answer.iid})` : ''}: ${list(answer.from)} -> ${list(answer.to)}${answer.site ? ` (site ${answer.site})` : ''}\n`);
    process.stdout.write(`  ${answer.smrs} SMR${answer.smrs === 1 ? '' : 's'}, ${answer.notifies} Map-Notif${answer.notifies === 1 ? 'y' : 'ies'}, fan-out ${answer.fanoutMs.toFixed(2)} ms; hint holds until ${answer.expiresAt} unless an xTR confirms it\n`);
    return EXIT.ok;
  });

// ---- clear ----

export const clearVerb = apiVerb('clear', 'drop live registrations of an EID prefix (API)',
  `usage: livmap clear PREFIX [--etr ID] [--iid N] [options]

Drops the live registrations of PREFIX (all its ETRs', or one's), like IOS-XE's
\`clear lisp site\`. The binding changes as on expiry: SMRs go out if it moved. An xTR that
still has the mapping registers it again with its next burst (within 60 s for OOR).

  --etr ID           only this ETR's registration (the ETR id \`livmap registrations\` lists)
  --iid N            instance ID (default 0)`,
  { etr: { type: 'string' }, iid: { type: 'string' } },
  async (target, values, positionals) => {
    const eid = eidArgument(positionals, 'EID prefix');
    const query = new URLSearchParams({ eid, iid: String(iidOption(values)) });
    if (typeof values.etr === 'string') query.set('etr', values.etr);
    const answer = (await apiRequest<{ removed: number }>(target, 'DELETE', `/registrations?${query}`)).body;
    if (values.json) printJson(answer);
    else process.stdout.write(`removed ${answer.removed} registration${answer.removed === 1 ? '' : 's'} of ${eid}${typeof values.etr === 'string' ? ` from ${values.etr}` : ''}\n`);
    return EXIT.ok;
  });

// ---- events ----

interface EventJson { id?: number; type: string; at?: string; site?: string; eid?: string; etrId?: string; [field: string]: unknown }

/** One line per event: id, time, type, then what matters for the type. */
export function eventLine(e: EventJson): string {
  const parts: string[] = [e.id === undefined ? '-' : `#${e.id}`, e.at ?? '', e.type.padEnd(10)];
  const add = (label: string, value: unknown): void => {
    if (value !== undefined && value !== null && value !== '') parts.push(label ? `${label} ${String(value)}` : String(value));
  };
  switch (e.type) {
    case 'refused':
      add('from', e.from); add('', `${String(e.reason)}: ${String(e.detail)}`);
      break;
    case 'moved':
      add('', e.eid); add('', `${(e.from as string[] | undefined)?.join(',') || '(unbound)'} -> ${(e.to as string[] | undefined)?.join(',') || '(unbound)'}`);
      add('site', e.site); add('smrs', e.smrs); add('notifies', e.notifies);
      break;
    case 'contested':
      add('site', e.site); add('', e.eid); add('claimant', e.claimant); add('holders', (e.holders as string[] | undefined)?.join(','));
      break;
    default:
      add('site', e.site); add('', e.eid); add('etr', e.etrId);
      if (Array.isArray(e.rlocs)) add('rlocs', e.rlocs.join(','));
      if (e.refresh === true) parts.push('(refresh)');
  }
  return parts.join('  ');
}

export const eventsVerb = apiVerb('events', 'show recent events, or follow them live (API)',
  `usage: livmap events [--follow] [--since ID] [--type T] [--limit N] [options]

Prints the server's recent events (registrations, expiries, departures, refusals, moves)
from its bounded history, one per line; with --follow it keeps printing them as they
happen (Ctrl-C ends it), resuming after --since ID without a gap.

  --follow           keep printing events live
  --since ID         only events after this id (as printed: #ID)
  --type T           only events of this type (history only; repeat for several)
  --limit N          at most N events from the history (default 100)`,
  { follow: { type: 'boolean', short: 'f' }, since: { type: 'string' }, type: { type: 'string', multiple: true }, limit: { type: 'string' } },
  async (target, values, positionals) => {
    if (positionals.length) throw usage(`unexpected argument '${positionals[0]}'`);
    const since = values.since === undefined ? undefined : Number(values.since);
    if (since !== undefined && (!Number.isInteger(since) || since < 0)) throw usage('--since must be an event id (a whole number)');
    const limit = Number(values.limit ?? '100');
    if (!Number.isInteger(limit) || limit < 1) throw usage('--limit must be a positive integer');
    const print = (e: EventJson): void => void process.stdout.write(`${values.json ? JSON.stringify(e) : eventLine(e)}\n`);
    if (values.follow) return follow(target, since, print);
    // Without --since: the newest events; with it, the oldest ones after it (both printed oldest first).
    const query = new URLSearchParams({ limit: String(limit) });
    if (since !== undefined) query.set('after', String(since));
    for (const type of (values.type as string[] | undefined) ?? []) query.append('type', type);
    const answer = (await apiRequest<{ events: EventJson[]; lastId: number }>(target, 'GET', `/events/history?${query}`)).body;
    for (const e of answer.events) print(e);
    if (!values.json) process.stderr.write(`${answer.events.length} event${answer.events.length === 1 ? '' : 's'}; last id ${answer.lastId} (continue with --follow --since ${answer.lastId})\n`);
    return EXIT.ok;
  });

/** Reads the SSE stream until the server ends it or the user interrupts. */
async function follow(target: ApiTarget, since: number | undefined, print: (e: EventJson) => void): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let response: Response;
  // Only connecting has a deadline (the signal also governs the body: a live stream may be quiet for hours).
  const connecting = setTimeout(() => stop.abort(new DOMException('no answer', 'TimeoutError')), target.timeoutMs);
  try {
    response = await fetch(`${target.url}/api/v1/events`, {
      headers: { accept: 'text/event-stream', ...(target.token ? { authorization: `Bearer ${target.token}` } : {}), ...(since !== undefined ? { 'last-event-id': String(since) } : {}) },
      signal: stop.signal,
    });
  } catch (err) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stop.signal.aborted && (stop.signal.reason as Error | undefined)?.name !== 'TimeoutError') return EXIT.ok;
    throw unreachable(target, stop.signal.aborted ? stop.signal.reason : err);
  } finally {
    clearTimeout(connecting);
  }
  if (!response.ok || !response.body) {
    const text = await response.text();
    let body: unknown;
    try { body = JSON.parse(text); } catch { body = undefined; }
    throw statusError(target, response.status, body, 'GET /events');
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  stop.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined));
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        if (!data) continue;
        const id = /^id:\s*(\d+)$/m.exec(block)?.[1];
        const event = JSON.parse(data) as EventJson;
        print(id !== undefined && event.id === undefined ? { ...event, id: Number(id) } : event);
      }
    }
  } catch (err) {
    if (!stop.signal.aborted) throw new CliError(EXIT.unreachable, `the event stream broke: ${(err as Error).message}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!stop.signal.aborted) process.stderr.write('livmap events: the server ended the stream\n');
  return EXIT.ok;
}

// `livmap oor-update`: what a hypervisor hook runs on an xTR host when a VM arrives or leaves:
// replaces the running OOR's local EID database with the database-mappings of an OOR config
// file, through OOR's local API, without restarting OOR (a restarted OOR forwards nothing for
// about 2 s). The wire format lives in xtr-config/oor-api.ts.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { checkOorXtrFile } from '../../xtr-config/oor-conf-reader.js';
import { OOR_API_ENDPOINT, OorApiError, localEidsFromConf, replaceLocalDatabase, type OorLocalEid, type OorLocator } from '../../xtr-config/oor-api.js';
import { formatBareEidPrefix, parseEidPrefix } from '../codec/prefix.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap oor-update --conf FILE [options]
       livmap oor-update --eid PREFIX --rloc ADDR[:PRIORITY:WEIGHT] [options]

Replaces the local EID database of a running Open Overlay Router (OOR 1.3) xTR
with exactly the database-mappings of FILE (an OOR config, e.g. written by
\`livmap xtr-config\`), through OOR's local API: no restart. OOR answers OK or
ERR and, on OK, at once sends a Map-Register for every mapping it now holds. A
mapping left out is simply no longer registered (OOR never withdraws).

OOR's API is a ZeroMQ socket at the fixed path /tmp/oor-ipc: run this in the
same mount namespace (the same /tmp) as the oor daemon it updates.

  --conf FILE         OOR config whose database-mapping sections to install
  --eid PREFIX        instead of --conf: install this EID (repeatable) ...
  --rloc ADDR[:P:W]   ... with these locators (repeatable; priority 1, weight 100 by default)
  --ttl MINUTES       record TTL for --eid (default: OOR's, 10)
  --iid N             instance ID for --eid (default 0)
  --api ENDPOINT      OOR's API socket (default ${OOR_API_ENDPOINT})
  --nudge ADDR:PORT   OOR's LISP control port, sent one datagram that OOR drops
                      when no reply came after 20 ms, to wake a sleeping main loop
                      (default 127.0.0.1:4342; "none" to never send one)
  --timeout MS        give up after MS milliseconds without a reply (default 5000)
  --json              print the outcome as one JSON object
  -h, --help          this help

Exit status: 0 OK, 1 OOR answered ERR / no reply / bad input file, 2 usage.
`;

function parseEndpoint(text: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m || !isIP(m[1]!)) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { address: m[1]!, port } : undefined;
}

function parseRloc(text: string): OorLocator {
  // ADDR, ADDR:P:W, [v6]:P:W or a bare IPv6 address.
  const bracketed = /^\[([^\]]+)\](?::(\d+):(\d+))?$/.exec(text);
  const plain = /^([^:]+):(\d+):(\d+)$/.exec(text);
  const [address, priority, weight] = bracketed ? [bracketed[1]!, bracketed[2], bracketed[3]] : plain ? [plain[1]!, plain[2], plain[3]] : [text, undefined, undefined];
  if (!isIP(address)) throw new OorApiError(`--rloc '${text}': not ADDR or ADDR:PRIORITY:WEIGHT`);
  return { kind: 'address', address, priority: priority === undefined ? 1 : Number(priority), weight: weight === undefined ? 100 : Number(weight) };
}

async function eidsFromConf(path: string): Promise<OorLocalEid[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new OorApiError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const { conf, problems } = checkOorXtrFile(text);
  if (problems.length > 0 || !conf) {
    const first = problems[0];
    throw new OorApiError(`${path}:${first?.line ?? 1}: ${first?.problem ?? 'not an OOR xTR config'}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}`);
  }
  return localEidsFromConf(conf);
}

function eidsFromFlags(eids: readonly string[], rlocs: readonly string[], ttl: string | undefined, iid: string): OorLocalEid[] {
  if (rlocs.length === 0) throw new OorApiError('--eid needs at least one --rloc');
  const locators = rlocs.map(parseRloc);
  const iidNumber = Number(iid);
  return eids.map((text) => {
    let prefix;
    try {
      prefix = parseEidPrefix(text, iidNumber);
    } catch (err) {
      throw new OorApiError(`--eid '${text}': ${(err as Error).message}`);
    }
    const eidPrefix = formatBareEidPrefix(prefix);
    return { eidPrefix, iid: iidNumber, ...(ttl !== undefined ? { ttl: Number(ttl) } : {}), locators };
  });
}

export const oorUpdateVerb: Verb = {
  summary: "replace a running OOR xTR's local EIDs through its local API (no restart)",
  async run(args) {
    const started = performance.now();
    const startedAt = Date.now();
    const parsed = verbArgs('oor-update', HELP, {
      args,
      strict: true,
      options: {
        conf: { type: 'string' },
        eid: { type: 'string', multiple: true },
        rloc: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        iid: { type: 'string', default: '0' },
        api: { type: 'string', default: OOR_API_ENDPOINT },
        nudge: { type: 'string', default: '127.0.0.1:4342' },
        timeout: { type: 'string', default: '5000' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (typeof parsed === 'number') return parsed;
    const { values } = parsed;
    const usage = (problem: string): number => {
      process.stderr.write(`livmap oor-update: ${problem}\n\n${HELP}`);
      return 2;
    };
    const hasEids = (values.eid?.length ?? 0) > 0;
    if (values.conf === undefined && !hasEids) return usage('--conf FILE (or --eid with --rloc) is required');
    if (values.conf !== undefined && (hasEids || values.rloc || values.ttl)) return usage('--conf and --eid/--rloc/--ttl exclude each other');
    const timeoutMs = Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) return usage(`--timeout '${values.timeout}' is not 1..600000 ms`);
    let nudge: { address: string; port: number } | undefined;
    if (values.nudge !== 'none') {
      nudge = parseEndpoint(values.nudge);
      if (!nudge) return usage(`--nudge '${values.nudge}' is not ADDR:PORT (or none)`);
    }
    if (!/^(ipc|tcp):\/\/./.test(values.api)) return usage(`--api '${values.api}' is not a ZeroMQ ipc:// or tcp:// endpoint`);

    const fail = (problem: string): number => {
      if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, api: values.api, error: problem })}\n`);
      process.stderr.write(`livmap oor-update: ${problem}\n`);
      return 1;
    };
    try {
      const eids = values.conf !== undefined ? await eidsFromConf(values.conf) : eidsFromFlags(values.eid!, values.rloc ?? [], values.ttl, values.iid);
      const outcome = await replaceLocalDatabase(eids, { endpoint: values.api, timeoutMs, ...(nudge ? { nudge } : {}) });
      const names = eids.map((e) => (e.iid ? `[${e.iid}] ${e.eidPrefix}` : e.eidPrefix));
      if (!outcome.ok) {
        return fail(`OOR at ${values.api} answered ERR: it refused the new database (${names.join(', ')}); its log says why (a locator address not on this host is a common cause)`);
      }
      const totalMs = performance.now() - started;
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ ok: true, api: values.api, eids: names, startedAt, replyMs: round(outcome.replyMs), totalMs: round(totalMs), nudges: outcome.nudges, requestBytes: outcome.requestBytes })}\n`);
      } else {
        process.stdout.write(`OK: OOR at ${values.api} now holds ${eids.length} EID${eids.length === 1 ? '' : 's'} (${names.join(', ')}); reply after ${round(outcome.replyMs)} ms\n`);
      }
      return 0;
    } catch (err) {
      if (err instanceof OorApiError) return fail(err.message);
      return fail(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    }
  },
};

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

// `livmap lig EID`: asks a Map-Resolver for an EID with an ECM Map-Request, like the classic
// lig tool, and prints the mapping with the round-trip time.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { encode } from '../codec/index.js';
import { exchange } from './exchange.js';
import { canonicalIp } from '../codec/ip.js';
import { endpointString, resolveTarget } from './endpoint.js';
import type { Address, MapReply } from '../codec/types.js';
import { ecmAround, mapRequest } from '../codec/build.js';
import { FAMILY_BITS, PrefixError, formatEidPrefix, parseEidPrefix, requireFamily } from '../codec/prefix.js';
import { actionName, formatAddress } from './format.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap lig EID [--mr HOST[:PORT]] [--iid N] [--source-eid IP] [--timeout MS] [--count N]

Sends an ECM-encapsulated Map-Request for EID to a Map-Resolver and prints the
Map-Reply: EID prefix, TTL, action and locators, with the round-trip time.

  --mr HOST[:PORT]   Map-Resolver: IP address or host name (default 127.0.0.1:4342;
                     IPv6 as [addr]:port)
  --iid N            instance ID (default 0)
  --source-eid IP    source EID of the request (default: the local address used when it
                     is of the EID's family, else the unspecified address 0.0.0.0 or ::)
  --timeout MS       wait this long for each reply (default 2000)
  --count N          send up to N requests until one is answered (default 3)
  -h, --help         this help
`;

export interface LigResult {
  readonly reply: MapReply;
  readonly from: { readonly address: string; readonly port: number };
  readonly rttMs: number;
}

function ipAddress(ip: string): Address {
  return ip.includes(':') ? { afi: 'ipv6', ip } : { afi: 'ipv4', ip };
}

/** One request/answer exchange; rejects with a readable message on timeout. */
export async function lig(options: {
  readonly eid: string;
  readonly iid: number;
  readonly resolver: { readonly host: string; readonly port: number };
  readonly sourceEid?: string;
  readonly timeoutMs: number;
  readonly attempts: number;
}): Promise<LigResult> {
  const eid = parseEidPrefix(options.eid, options.iid);
  const family = requireFamily(eid);
  const eidBits = FAMILY_BITS[family];
  const target = options.eid.includes('/') ? eid : { ...eid, length: eidBits };
  const v6 = options.resolver.host.includes(':');
  const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  // A connected UDP socket reports ICMP port-unreachable as an error: that is just "no reply".
  let refused = false;
  socket.on('error', () => { refused = true; });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => resolve());
    });
    // connect() makes the kernel pick the source address we then advertise as ITR-RLOC.
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(options.resolver.port, options.resolver.host, () => resolve());
    });
    const local = socket.address();
    const destination = target.address.afi === 'ipv4' || target.address.afi === 'ipv6' ? target.address.ip : local.address;
    // The inner IP header is of the EID's family, and so the source EID. lig is no host of an EID
    // site: without --source-eid, the local address stands in when it is of that family, else the
    // unspecified address says "no source EID" rather than invent one. The answer goes to the
    // ITR-RLOC (the outer address), so the source EID does not change where it comes back.
    const sourceIp = options.sourceEid ?? (local.address.includes(':') === destination.includes(':') ? local.address : destination.includes(':') ? '::' : '0.0.0.0');
    if (sourceIp.includes(':') !== destination.includes(':')) throw new Error('--source-eid must be of the EID\'s address family');
    const nonce = randomBytes(8).readBigUInt64BE();
    const request = mapRequest({
      nonce,
      sourceEid: options.iid ? { afi: 'lcaf-iid', iid: options.iid, maskLen: 32, flags: 0, address: ipAddress(sourceIp) } : ipAddress(sourceIp),
      itrRlocs: [ipAddress(local.address)],
      records: [target],
    });
    const ecm = ecmAround(request, { source: sourceIp, destination, sourcePort: local.port });
    const bytes = encode(ecm);
    for (let attempt = 0; attempt < options.attempts; attempt++) {
      const answer = await exchange(socket, () => socket.send(bytes), 'map-reply', nonce, options.timeoutMs);
      if (answer) return { reply: answer.message, from: answer.from, rttMs: answer.rttMs };
    }
    const hint = refused ? ' (the host answered "port unreachable": is livmap running there?)' : '';
    throw new Error(`no Map-Reply from ${endpointString(options.resolver.host, options.resolver.port)} after ${options.attempts} request(s) of ${options.timeoutMs} ms${hint}`);
  } finally {
    socket.close();
  }
}

/** Why EID cannot be looked up (not an IP or MAC address or prefix), or undefined. */
function eidProblem(eid: string): string | undefined {
  try {
    parseEidPrefix(eid, 0);
    return undefined;
  } catch (err) {
    if (err instanceof PrefixError) return `EID ${err.message}`;
    throw err;
  }
}

export function formatLig(eidText: string, result: LigResult): string {
  const lines = [`Received map-reply from ${endpointString(result.from.address, result.from.port)} with rtt ${result.rttMs.toFixed(3)} ms`, ''];
  for (const record of result.reply.records) {
    lines.push(`Mapping entry for EID ${eidText}:`);
    const flags = [record.authoritative ? 'authoritative' : 'not authoritative', `action ${actionName(record.action)}`];
    lines.push(`${formatEidPrefix(record.eid)}, record ttl: ${record.ttl} minute${record.ttl === 1 ? '' : 's'}, ${flags.join(', ')}`);
    if (record.locators.length === 0) {
      lines.push('  (negative reply: no locators)');
      continue;
    }
    lines.push('  Locator                                   State     Priority/Weight');
    for (const l of record.locators) {
      lines.push(`  ${formatAddress(l.rloc).padEnd(41)} ${(l.reachable ? 'up' : 'down').padEnd(9)} ${l.priority}/${l.weight}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const ligVerb: Verb = {
  summary: 'ask a Map-Resolver for an EID (like lig)',
  async run(args) {
    const parsed = verbArgs('lig', HELP, {
      args, allowPositionals: true, strict: true,
      options: {
        mr: { type: 'string', default: '127.0.0.1:4342' }, iid: { type: 'string', default: '0' }, 'source-eid': { type: 'string' },
        timeout: { type: 'string', default: '2000' }, count: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' },
      },
    });
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    const [eid] = positionals;
    const iid = Number(values.iid);
    const timeoutMs = Number(values.timeout);
    const attempts = Number(values.count);
    const problem =
      !eid ? 'give the EID to look up' : positionals.length > 1 ? `unexpected argument '${positionals[1]}'`
      : eidProblem(eid)
      ?? (!Number.isInteger(iid) || iid < 0 || iid > 0xffffffff ? '--iid must be an integer from 0 to 4294967295'
      : !(timeoutMs > 0) ? '--timeout must be a positive number of milliseconds'
      : !Number.isInteger(attempts) || attempts < 1 ? '--count must be a positive integer'
      : values['source-eid'] !== undefined && canonicalIp(values['source-eid']) === null ? `--source-eid '${values['source-eid']}' is not an IP address`
      : undefined);
    if (problem || !eid) {
      process.stderr.write(`livmap lig: ${problem}\n\n${HELP}`);
      return 2;
    }
    let resolver;
    try {
      resolver = await resolveTarget(values.mr, 4342, '--mr');
    } catch (err) {
      process.stderr.write(`livmap lig: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    process.stdout.write(`Send map-request to ${endpointString(resolver.host, resolver.port)} for ${eid}${iid ? ` (IID ${iid})` : ''} ...\n`);
    try {
      const sourceEid = values['source-eid'] ? canonicalIp(values['source-eid']) ?? undefined : undefined;
      const result = await lig({ eid, iid, resolver, timeoutMs, attempts, ...(sourceEid ? { sourceEid } : {}) });
      process.stdout.write(formatLig(eid, result));
      return 0;
    } catch (err) {
      process.stderr.write(`livmap lig: ${(err as Error).message}\n`);
      return 1;
    }
  },
};

// `livmap register`: registers an EID prefix like an ETR does (Map-Register with M bit) and
// waits for the Map-Notify — to try a site's key and prefix without an xTR at hand.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { signMessage, verifyMessage } from '../codec/index.js';
import { exchange } from './exchange.js';
import { canonicalIp } from '../codec/ip.js';
import { AUTH_ALG, type MapRegister } from '../codec/types.js';
import { endpointString, resolveTarget } from './endpoint.js';
import { formatEidPrefix, parseEidPrefix } from '../codec/prefix.js';
import { formatAddress } from './format.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap register --eid PREFIX --rloc IP --key SECRET [options]

Sends one Map-Register (want-map-notify set) as an ETR would, and waits for the
Map-Notify, which it verifies with the same key.

  --ms HOST[:PORT]   Map-Server: IP address or host name (default 127.0.0.1:4342;
                     IPv6 as [addr]:port)
  --eid PREFIX       EID prefix to register, e.g. 10.16.10.0/24 or 10.16.10.50/32
  --iid N            instance ID (default 0)
  --rloc IP          locator (repeat for several)
  --key SECRET       the site's shared key
  --alg ALG          hmac-sha1 (default, what OOR uses) or hmac-sha256
  --ttl MINUTES      record TTL (default 10)
  --no-proxy         do not ask the Map-Server to proxy-reply (P=0)
  --timeout MS       wait this long for the Map-Notify (default 2000)
  --source IP        send from this local address (the Map-Server tells ETRs apart by
                     where they register from: use 127.0.0.2, 127.0.0.3... to play several)
  -h, --help         this help
`;

export const registerVerb: Verb = {
  summary: 'send a Map-Register like an ETR and wait for the Map-Notify',
  async run(args) {
    const parsed = verbArgs('register', HELP, {
      args, strict: true,
      options: {
        ms: { type: 'string', default: '127.0.0.1:4342' }, eid: { type: 'string' }, iid: { type: 'string', default: '0' },
        rloc: { type: 'string', multiple: true }, key: { type: 'string' }, alg: { type: 'string', default: 'hmac-sha1' },
        ttl: { type: 'string', default: '10' }, 'no-proxy': { type: 'boolean' }, timeout: { type: 'string', default: '2000' }, source: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (typeof parsed === 'number') return parsed;
    const { values } = parsed;
    const fail = (problem: string): number => {
      process.stderr.write(`livmap register: ${problem}\n\n${HELP}`);
      return 2;
    };
    if (!values.eid) return fail('--eid is required');
    if (!values.rloc?.length) return fail('--rloc is required');
    if (!values.key) return fail('--key is required');
    if (values.alg !== 'hmac-sha1' && values.alg !== 'hmac-sha256') return fail(`--alg must be hmac-sha1 or hmac-sha256, not '${values.alg}'`);
    const iid = Number(values.iid);
    if (!Number.isInteger(iid) || iid < 0 || iid > 0xffffffff) return fail('--iid must be an integer from 0 to 4294967295');
    const rlocs = values.rloc.map((r) => canonicalIp(r));
    if (rlocs.some((r) => r === null)) return fail(`--rloc must be IP addresses`);
    const ttl = Number(values.ttl);
    const timeoutMs = Number(values.timeout);
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0xffffffff) return fail('--ttl must be a whole number of minutes');
    // Checked before anything is sent: "no Map-Notify within NaN ms" helps nobody.
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return fail(`--timeout must be a positive number of milliseconds, not '${values.timeout}'`);
    const source = values.source === undefined ? undefined : canonicalIp(values.source);
    if (source === null) return fail(`--source '${values.source}' is not an IP address`);
    let ms;
    let eid;
    try {
      eid = parseEidPrefix(values.eid, iid);
      ms = await resolveTarget(values.ms, 4342, '--ms');
    } catch (err) {
      return fail((err as Error).message);
    }

    const algId = values.alg === 'hmac-sha256' ? AUTH_ALG.hmacSha256 : AUTH_ALG.hmacSha1;
    const register: MapRegister = {
      type: 'map-register', proxyReply: !values['no-proxy'], security: false, xtrIdPresent: false, rtr: false, wantMapNotify: true, merge: false,
      nonce: randomBytes(8).readBigUInt64BE(),
      auth: { keyId: 0, algId, authData: new Uint8Array(algId === AUTH_ALG.hmacSha256 ? 32 : 20) },
      records: [{
        eid, ttl, action: 0, authoritative: true, mapVersion: 0,
        locators: rlocs.map((ip) => ({
          priority: 1, weight: 100, mPriority: 255, mWeight: 0, local: true, probed: false, reachable: true,
          rloc: ip!.includes(':') ? { afi: 'ipv6' as const, ip: ip! } : { afi: 'ipv4' as const, ip: ip! },
        })),
      }],
    };
    const socket = dgram.createSocket(ms.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => {});
    try {
      if (source !== undefined) {
        const bound = await new Promise<Error | undefined>((resolve) => {
          socket.once('error', resolve);
          socket.bind(0, source, () => resolve(undefined));
        });
        if (bound) return fail(`--source ${source}: cannot send from there (${(bound as NodeJS.ErrnoException).code ?? bound.message})`);
      }
      const answer = await exchange(socket, () => socket.send(signMessage(register, values.key!), ms.port, ms.host), 'map-notify', register.nonce, timeoutMs);
      process.stdout.write(`Sent Map-Register for ${formatEidPrefix(eid)} -> ${rlocs.join(', ')} to ${endpointString(ms.host, ms.port)}\n`);
      if (!answer) {
        process.stderr.write(`livmap register: no Map-Notify within ${timeoutMs} ms: wrong key, EID outside the site, or no Map-Server there (it refuses silently; see its log or /api/v1/events)\n`);
        return 1;
      }
      const verified = verifyMessage(answer.bytes, values.key);
      const records = answer.message.records.map((r) => `${formatEidPrefix(r.eid)} -> ${r.locators.map((l) => formatAddress(l.rloc)).join(', ')}`);
      process.stdout.write(`Map-Notify received in ${answer.rttMs.toFixed(3)} ms, authentication ${verified ? 'verified' : 'FAILED'}: ${records.join('; ')}\n`);
      return verified ? 0 : 1;
    } finally {
      socket.close();
    }
  },
};

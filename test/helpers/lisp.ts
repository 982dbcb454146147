// Builders for the messages an OOR xTR sends, for tests that play the xTR's part.
import { randomBytes } from 'node:crypto';
import { ecmAround, mapRequest } from '../../mapserver/codec/build.js';
import { encode, signMessage } from '../../mapserver/codec/index.js';
import { LISP_CONTROL_PORT } from '../../mapserver/codec/ports.js';
import type { Address, EidPrefix, MapNotify, MapRegister } from '../../mapserver/codec/types.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { INTEROP_KEY, locator } from './fixtures.js';

export const nonce = (): bigint => randomBytes(8).readBigUInt64BE();
const ip = (text: string): Address => (text.includes(':') ? { afi: 'ipv6', ip: text } : { afi: 'ipv4', ip: text });

export function mapRegisterBytes(options: {
  eid: string; rlocs: string[]; ttl?: number; proxy?: boolean; nonce?: bigint; secret?: string; alg?: 'hmac-sha1' | 'hmac-sha256'; iid?: number; xtrId?: Uint8Array;
  /** More records after the first, with the same locators. */
  alsoEids?: string[];
  /** RFC 9301 T bit: time the registration out by the record TTL. */
  ttlTimeout?: boolean;
}): Buffer {
  const recordOf = (eid: string) => ({ eid: parseEidPrefix(eid, options.iid ?? 0), ttl: options.ttl ?? 10, action: 0, authoritative: true, mapVersion: 0, locators: options.rlocs.map((r) => locator(r)) });
  const register: MapRegister = {
    type: 'map-register', proxyReply: options.proxy ?? true, security: false, xtrIdPresent: options.xtrId !== undefined, rtr: false,
    wantMapNotify: true, merge: false, nonce: options.nonce ?? nonce(),
    auth: options.alg === 'hmac-sha256' ? { keyId: 0, algId: 2, authData: new Uint8Array(32) } : { keyId: 0, algId: 1, authData: new Uint8Array(20) },
    records: [options.eid, ...(options.alsoEids ?? [])].map(recordOf),
    ...(options.ttlTimeout ? { ttlTimeout: true } : {}),
    ...(options.xtrId ? { xtrId: options.xtrId, siteId: new Uint8Array(8) } : {}),
  };
  return signMessage(register, options.secret ?? INTEROP_KEY);
}

/** An ECM Map-Request as OOR sends it: inner IP from the source EID to the requested EID. */
export function ecmRequestBytes(options: {
  eid: string; sourceEid: string; itr: string; port?: number; nonce?: bigint; smrInvoked?: boolean;
  subscribe?: { xtrId: Uint8Array };
}): Buffer {
  const target: EidPrefix = options.eid.includes('/') ? parseEidPrefix(options.eid) : parseEidPrefix(`${options.eid}/${options.eid.includes(':') ? 128 : 32}`);
  const destination = target.address.afi === 'ipv4' || target.address.afi === 'ipv6' ? target.address.ip : options.sourceEid;
  const request = mapRequest({
    smrInvoked: options.smrInvoked ?? false, notifyRequested: options.subscribe !== undefined,
    nonce: options.nonce ?? nonce(), sourceEid: ip(options.sourceEid), itrRlocs: [ip(options.itr)], records: [target],
    ...(options.subscribe ? { xtrId: options.subscribe.xtrId, siteId: new Uint8Array(8) } : {}),
  });
  return encode(ecmAround(request, { source: options.sourceEid, destination, sourcePort: options.port ?? LISP_CONTROL_PORT, ttl: 255 }));
}

/** The Map-Notify-Ack an ETR sends for a Map-Notify it received (same nonce, signed). */
export function notifyAckBytes(notify: MapNotify, secret = INTEROP_KEY): Buffer {
  return signMessage({ ...notify, type: 'map-notify-ack' }, secret);
}

// What Map-Register, Map-Notify and Map-Notify-Ack share after their first three bytes:
//   Record Count | Nonce | key field | auth length | auth data | records | [xTR-ID + site-ID]
import { checkAuth, decodeAuth, encodeAuth } from './auth.js';
import { readXtrSite, writeNonce, writeXtrSite } from './common.js';
import { fail } from './errors.js';
import type { Reader } from './reader.js';
import { decodeRecords, encodeRecords, recordsLength } from './record.js';
import type { Auth, MappingRecord } from './types.js';

export interface AuthenticatedBody {
  readonly xtrIdPresent: boolean;
  readonly nonce: bigint;
  readonly auth: Auth;
  readonly records: readonly MappingRecord[];
  readonly xtrId?: Uint8Array;
  readonly siteId?: Uint8Array;
}

/** Decodes from the message start `at` (the type byte); `xtrIdPresent` comes from the flags. */
export function decodeAuthenticatedBody(r: Reader, at: number, xtrIdPresent: boolean, what: string): Omit<AuthenticatedBody, 'xtrIdPresent'> {
  r.need(16, `${what} header`);
  const count = r.buf[at + 3]!;
  r.pos = at + 4;
  const nonce = r.u64('nonce');
  const auth = decodeAuth(r);
  const records = decodeRecords(r, count, at + 3);
  if (!xtrIdPresent) return { nonce, auth, records };
  const { xtrId, siteId } = readXtrSite(r);
  return { nonce, auth, records, xtrId, siteId };
}

export function authenticatedLength(m: AuthenticatedBody): number {
  return 16 + m.auth.authData.length + recordsLength(m.records) + (m.xtrIdPresent ? 24 : 0);
}

/** Checks the body, then writes from the record count (byte 3) on; the caller writes bytes 0-2. */
export function encodeAuthenticatedBody(m: AuthenticatedBody, buf: Buffer, o: number): number {
  if (m.records.length > 255) fail(o + 3, `${m.records.length} records do not fit the 8-bit count`);
  if (!m.xtrIdPresent && (m.xtrId !== undefined || m.siteId !== undefined)) fail(o, 'xtrId/siteId given without the I bit (xtrIdPresent)');
  checkAuth(m.auth, o + 12);
  buf[o + 3] = m.records.length;
  writeNonce(buf, o + 4, m.nonce);
  let p = encodeAuth(m.auth, buf, o + 12);
  p = encodeRecords(m.records, buf, p);
  if (m.xtrIdPresent) p = writeXtrSite(buf, p, m.xtrId, m.siteId);
  return p;
}

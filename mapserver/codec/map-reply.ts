// Map-Reply (type 2), RFC 9301 §5.4: Type=2 |P|E|S| Reserved(17) | Record Count, nonce, records.
import { writeNonce } from './common.js';
import { fail } from './errors.js';
import type { Reader } from './reader.js';
import { decodeRecords, encodeRecords, recordsLength } from './record.js';
import type { MapReply } from './types.js';

export function decodeMapReply(r: Reader): MapReply {
  const at = r.pos;
  r.need(12, 'Map-Reply header');
  const b0 = r.buf[at]!;
  const count = r.buf[at + 3]!;
  r.pos = at + 4;
  const nonce = r.u64('nonce');
  return {
    type: 'map-reply',
    probe: (b0 & 0x08) !== 0,
    echoNonce: (b0 & 0x04) !== 0,
    security: (b0 & 0x02) !== 0,
    nonce,
    records: decodeRecords(r, count, at + 3),
  };
}

export function mapReplyLength(m: MapReply): number {
  return 12 + recordsLength(m.records);
}

export function encodeMapReply(m: MapReply, buf: Buffer, o: number): number {
  if (m.records.length > 255) fail(o + 3, `${m.records.length} records do not fit the 8-bit count`);
  buf[o] = 0x20 | (m.probe ? 0x08 : 0) | (m.echoNonce ? 0x04 : 0) | (m.security ? 0x02 : 0);
  buf[o + 1] = 0;
  buf[o + 2] = 0;
  buf[o + 3] = m.records.length;
  writeNonce(buf, o + 4, m.nonce);
  return encodeRecords(m.records, buf, o + 12);
}

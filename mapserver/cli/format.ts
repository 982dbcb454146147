// Human-readable trees and JSON for LISP messages. Shared by `livmap decode`, `livmap lig` and
// the server's logs, so a message looks the same wherever it is printed.
import { formatAddress } from '../codec/text.js';
import { actionName, type Auth, type EidPrefix, type LispMessage, type Locator, type MappingRecord } from '../codec/types.js';
import type { InnerPacketSummary, LispDataHeader, LispDataPacket } from '../codec/data-header.js';
import { formatEidPrefix } from '../codec/prefix.js';
import { MESSAGE_TYPE_NUMBER } from '../codec/message.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const MESSAGE_NAME: Readonly<Record<LispMessage['type'], string>> = {
  'map-request': 'Map-Request',
  'map-reply': 'Map-Reply',
  'map-register': 'Map-Register',
  'map-notify': 'Map-Notify',
  'map-notify-ack': 'Map-Notify-Ack',
  ecm: 'Encapsulated Control Message',
};

export { actionName };

/**
 * The HMAC an authentication field holds, named by its algorithm and length: algorithm 1 is
 * RFC 9301's HMAC-SHA-1-96 (12 bytes), but OOR and others send the full 20-byte HMAC-SHA-1;
 * likewise HMAC-SHA-256-128 (16 bytes) and the full HMAC-SHA-256 (32).
 */
export function hmacLabel(algId: number, length: number): string | undefined {
  if (algId === 0) return length === 0 ? 'none' : undefined;
  if (algId === 1) return length === 20 ? 'HMAC-SHA-1, full 20-byte digest' : length === 12 ? 'HMAC-SHA-1-96' : undefined;
  if (algId === 2) return length === 32 ? 'HMAC-SHA-256, full 32-byte digest' : length === 16 ? 'HMAC-SHA-256-128' : undefined;
  return undefined;
}

/** 64-bit nonce as `0x` + 16 hex digits. */
export function nonceHex(nonce: bigint): string {
  return `0x${nonce.toString(16).padStart(16, '0')}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Text of any wire address; LCAFs are spelled out so nothing is hidden. */
export { formatAddress };

const bit = (name: string, on: boolean): string => `${name}=${on ? 1 : 0}`;

/** One line for logs: type, nonce and the first EID. */
export function summarizeMessage(msg: LispMessage): string {
  if (msg.type === 'ecm') return `ECM ${msg.inner.source}:${msg.inner.sourcePort} -> ${msg.inner.destination}:${msg.inner.destinationPort} [${summarizeMessage(msg.message)}]`;
  const eids = msg.type === 'map-request' ? msg.records.map(formatEidPrefix) : msg.records.map((r) => formatEidPrefix(r.eid));
  const what = eids.length === 0 ? 'no records' : eids.length === 1 ? eids[0]! : `${eids[0]!} +${eids.length - 1}`;
  return `${MESSAGE_NAME[msg.type]} nonce ${nonceHex(msg.nonce)} ${what}`;
}

/** An indented tree (two spaces per level) of every field of the message. */
export function describeMessage(msg: LispMessage): string[] {
  const lines: string[] = [];
  const add = (depth: number, text: string): void => void lines.push(`${'  '.repeat(depth)}${text}`);
  lines.push(`${MESSAGE_NAME[msg.type]} (type ${MESSAGE_TYPE_NUMBER[msg.type]})`);
  switch (msg.type) {
    case 'map-request': {
      add(1, `Flags: ${[
        bit('A', msg.authoritative), bit('M', msg.mapDataPresent), bit('P', msg.probe), bit('S', msg.smr), bit('p', msg.pitr),
        bit('s', msg.smrInvoked), bit('I', msg.siteId !== undefined), bit('N', msg.notifyRequested), bit('L', msg.localXtr), bit('D', msg.dontMapReply),
      ].join(' ')}${flagNotes([[msg.smr, 'SMR'], [msg.smrInvoked, 'SMR-invoked'], [msg.probe, 'RLOC-probe'], [msg.notifyRequested, 'subscribe']])}`);
      add(1, `Nonce: ${nonceHex(msg.nonce)}`);
      add(1, `Source EID: ${formatAddress(msg.sourceEid)}`);
      add(1, `ITR-RLOCs: ${msg.itrRlocs.length} (IRC ${msg.itrRlocs.length - 1})`);
      for (const rloc of msg.itrRlocs) add(2, `ITR-RLOC: ${formatAddress(rloc)}`);
      add(1, `Records: ${msg.records.length}`);
      for (const eid of msg.records) add(2, `EID prefix: ${formatEid(eid)}`);
      if (msg.mapReply) {
        add(1, 'Map-Reply record:');
        describeRecord(msg.mapReply, 2, add);
      }
      describeXtrSite(msg.xtrId, msg.siteId, add);
      break;
    }
    case 'map-reply':
      add(1, `Flags: ${[bit('P', msg.probe), bit('E', msg.echoNonce), bit('S', msg.security)].join(' ')}`);
      add(1, `Nonce: ${nonceHex(msg.nonce)}`);
      describeRecords(msg.records, add);
      break;
    case 'map-register':
      add(1, `Flags: ${[bit('P', msg.proxyReply), bit('S', msg.security), bit('I', msg.xtrIdPresent), bit('R', msg.rtr), bit('M', msg.wantMapNotify), bit('m', msg.merge), bit('E', msg.eidNotify === true), bit('T', msg.ttlTimeout === true)].join(' ')}${flagNotes([[msg.proxyReply, 'proxy-reply'], [msg.wantMapNotify, 'want-map-notify']])}`);
      add(1, `Nonce: ${nonceHex(msg.nonce)}`);
      describeAuth(msg.auth, add);
      describeRecords(msg.records, add);
      describeXtrSite(msg.xtrId, msg.siteId, add);
      break;
    case 'map-notify':
    case 'map-notify-ack':
      add(1, `Flags: ${[bit('I', msg.xtrIdPresent), bit('R', msg.rtr)].join(' ')}`);
      add(1, `Nonce: ${nonceHex(msg.nonce)}`);
      describeAuth(msg.auth, add);
      describeRecords(msg.records, add);
      describeXtrSite(msg.xtrId, msg.siteId, add);
      break;
    case 'ecm': {
      add(1, `Flags: ${[bit('S', msg.security), bit('D', msg.ddt), bit('E', msg.toEtr === true), bit('M', msg.toMs === true)].join(' ')}`);
      const inner = msg.inner;
      add(1, `Inner IPv${inner.version}: ${inner.source} -> ${inner.destination}, ${inner.version === 4 ? 'TTL' : 'hop limit'} ${inner.ttl}${inner.badIpChecksum ? ', BAD header checksum' : ''}`);
      add(1, `Inner UDP: ${inner.sourcePort} -> ${inner.destinationPort}${inner.badUdpChecksum ? ', BAD checksum' : inner.udpChecksumZero ? ', no checksum' : ''}`);
      for (const line of describeMessage(msg.message)) add(1, line);
      break;
    }
  }
  return lines;
}

function flagNotes(notes: ReadonlyArray<[boolean, string]>): string {
  const on = notes.filter(([set]) => set).map(([, name]) => name);
  return on.length ? ` (${on.join(', ')})` : '';
}

/** `[iid] prefix/len`: the IID is always shown, so IID 0 and other IIDs line up. */
function formatEid(eid: EidPrefix): string {
  const text = formatEidPrefix(eid);
  return eid.iid === 0 ? `[0] ${text}` : text;
}

type Add = (depth: number, text: string) => void;

function describeAuth(auth: Auth, add: Add): void {
  add(1, `Key ID: ${auth.keyId}, Algorithm ID: ${auth.algId} (${hmacLabel(auth.algId, auth.authData.length) ?? `unknown: ${auth.authData.length} bytes`})`);
  add(1, `Authentication data (${auth.authData.length} bytes): ${hex(auth.authData) || '(none)'}`);
}

function describeRecords(records: readonly MappingRecord[], add: Add): void {
  add(1, `Records: ${records.length}`);
  records.forEach((record, i) => {
    add(2, `Record ${i + 1}:`);
    describeRecord(record, 3, add);
  });
}

function describeRecord(record: MappingRecord, depth: number, add: Add): void {
  add(depth, `EID prefix: ${formatEid(record.eid)}`);
  add(depth, `TTL: ${record.ttl === 0xffffffff ? 'never expires (0xffffffff)' : `${record.ttl} min`}`);
  add(depth, `Action: ${record.action} (${actionName(record.action)}), ${bit('A', record.authoritative)} (${record.authoritative ? 'authoritative' : 'not authoritative'}), map-version ${record.mapVersion}`);
  add(depth, `Locators: ${record.locators.length}${record.locators.length === 0 ? ' (negative)' : ''}`);
  record.locators.forEach((locator, i) => describeLocator(locator, i + 1, depth + 1, add));
}

function describeLocator(locator: Locator, n: number, depth: number, add: Add): void {
  add(depth, `Locator ${n}: ${formatAddress(locator.rloc)}`);
  add(depth + 1, `Priority ${locator.priority}, weight ${locator.weight}, multicast priority ${locator.mPriority}, multicast weight ${locator.mWeight}`);
  add(depth + 1, `Flags: ${[bit('L', locator.local), bit('p', locator.probed), bit('R', locator.reachable)].join(' ')}`);
}

function describeXtrSite(xtrId: Uint8Array | undefined, siteId: Uint8Array | undefined, add: Add): void {
  if (xtrId) add(1, `xTR-ID: ${hex(xtrId)}`);
  if (siteId) add(1, `Site-ID: ${hex(siteId)}`);
}

/**
 * The message as JSON-safe values: every field kept, bigint nonces as `0x` + 16 hex digits,
 * byte fields (auth data, xTR-ID, LCAF payloads) as hex strings.
 */
export function messageToJson(msg: LispMessage): JsonValue {
  return toJson(msg);
}

/** JSON of a data packet: the header fields and the inner packet summary. */
export function dataPacketToJson(packet: LispDataPacket): JsonValue {
  return toJson({ type: 'data', ...packet });
}

function toJson(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return nonceHex(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, field] of Object.entries(value)) if (field !== undefined) out[key] = toJson(field);
    return out;
  }
  return String(value);
}

/** Tree lines for a LISP data packet (UDP 4341). */
export function describeDataPacket(packet: LispDataPacket): string[] {
  const lines = ['LISP data header', ...describeDataHeader(packet.header).map((line) => `  ${line}`)];
  lines.push(packet.inner ? describeInner(packet.inner) : 'Inner packet: not IPv4/IPv6');
  return lines;
}

function describeDataHeader(h: LispDataHeader): string[] {
  const flags = [bit('N', h.noncePresent), bit('L', h.lsbEnabled), bit('E', h.echoNonceRequest), bit('V', h.mapVersionPresent), bit('I', h.instanceIdPresent)];
  if (h.reservedBit) flags.push('R=1');
  if (h.keyId) flags.push(`KK=${h.keyId}`);
  const lines = [`Flags: ${flags.join(' ')}`];
  if (h.noncePresent) lines.push(`Nonce: 0x${h.nonce.toString(16).padStart(6, '0')}`);
  if (h.mapVersionPresent) lines.push(`Map-Version: source ${h.sourceMapVersion}, destination ${h.destMapVersion}`);
  if (h.instanceIdPresent) lines.push(`Instance ID: ${h.instanceId}`);
  if (h.lsbEnabled) lines.push(`Locator-Status-Bits: 0x${h.locatorStatusBits.toString(16).padStart(h.instanceIdPresent ? 2 : 8, '0')}`);
  return lines;
}

const ICMP_NAMES: Readonly<Record<number, string>> = { 0: 'echo reply', 3: 'destination unreachable', 8: 'echo request', 11: 'time exceeded' };
const ICMPV6_NAMES: Readonly<Record<number, string>> = { 1: 'destination unreachable', 3: 'time exceeded', 128: 'echo request', 129: 'echo reply', 135: 'neighbor solicitation', 136: 'neighbor advertisement' };
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

function describeInner(inner: InnerPacketSummary): string {
  const protocol = PROTOCOL_NAMES[inner.protocol] ?? `protocol ${inner.protocol}`;
  let what = protocol;
  if (inner.icmp) {
    const name = (inner.protocol === 1 ? ICMP_NAMES : ICMPV6_NAMES)[inner.icmp.type];
    what = `${protocol} ${name ?? 'type'} (type ${inner.icmp.type}, code ${inner.icmp.code})`;
    if (inner.icmp.id !== undefined) what += ` id 0x${inner.icmp.id.toString(16).padStart(4, '0')} seq ${inner.icmp.sequence}`;
  } else if (inner.ports) {
    what = `${protocol} ${inner.ports.source} -> ${inner.ports.destination}`;
  }
  return `Inner IPv${inner.version}: ${inner.source} -> ${inner.destination}, ${what}, ${inner.version === 4 ? 'TTL' : 'hop limit'} ${inner.ttl}, ${inner.length} bytes`;
}

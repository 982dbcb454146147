// Open Overlay Router 1.3's local API ("LMAPI"), as far as replacing a running xTR's local EID
// database needs it. Learned from OOR's public source (oor/config/oor_api.h, oor_api_internals.c
// and the NETCONF glue netconf/oor_api_netconf.c); nothing is copied from it.
//
// Transport: a ZeroMQ REQ/REP socket; OOR binds the REP end at the fixed path ipc:///tmp/oor-ipc,
// so two OOR daemons on one host need separate /tmp directories (mount namespaces).
// Message: an 8-byte header {device u8, target u8, operation u8, type u8, datalen u32 in the
// host's byte order (OOR memcpy()s a C struct)} then `datalen` bytes of data. OOR reads at most
// 4096 bytes per message and would parse a longer one truncated, so longer ones are refused here.
// A request's data is XML; the reply is a RESULT header whose 4-byte data is 0 (OK) or 1 (ERR).
//
// MAPDB CREATE is a replace: OOR parses every <local-eid>, and only if all are valid empties its
// local database, installs the new mappings and at once sends a Map-Register burst for all of them.
//
// OOR looks at the API socket (non-blocking) once per turn of its main loop, after select() on
// its own sockets returns. OOR 1.3 gives that select() a 1 ms timeout (DEFAULT_SELECT_TIMEOUT
// is 1000, commented "ms" but used as microseconds), so it answers within a few ms by itself;
// a build whose loop sleeps longer only wakes for a packet. So when no reply has come after
// 20 ms we "nudge" it with a datagram on its LISP control port that it reads and drops: 4 zero
// bytes, LISP type 0, which OOR logs as an unidentified control message and ignores.
import { existsSync } from 'node:fs';
import dgram from 'node:dgram';
import { endianness } from 'node:os';
import { isIPv4 } from 'node:net';
import type { OorXtrConf } from './oor-conf-reader.js';

export const OOR_API_ENDPOINT = 'ipc:///tmp/oor-ipc';
/** OOR's receive buffer (MAX_API_PKT_LEN): the whole message, header included. */
export const OOR_API_MAX_MESSAGE = 4096;
export const OOR_API_HEADER_LENGTH = 8;

export const OorApiDevice = { xtr: 0, ms: 1, mr: 2, rtr: 3 } as const;
export const OorApiTarget = { mapResolvers: 0, mapServers: 1, proxyEtrs: 2, mapCache: 3, mapDb: 4 } as const;
export const OorApiOperation = { create: 0, read: 1, update: 2, delete: 3 } as const;
export const OorApiType = { request: 0, result: 1 } as const;
export const OorApiResult = { ok: 0, err: 1 } as const;

export interface OorApiHeader {
  readonly device: number;
  readonly target: number;
  readonly operation: number;
  readonly type: number;
  readonly dataLength: number;
}

export type ByteOrder = 'LE' | 'BE';
/** OOR writes the length field in its own (this host's) byte order. */
export const HOST_BYTE_ORDER: ByteOrder = endianness();

export type OorLocator =
  | { readonly kind: 'address'; readonly address: string; readonly priority: number; readonly weight: number }
  | { readonly kind: 'interface'; readonly interface: string; readonly priority: number; readonly weight: number };

export interface OorLocalEid {
  /** `address/length`, e.g. `10.16.50.50/32` (no instance ID in the text). */
  readonly eidPrefix: string;
  readonly iid: number;
  /** Record TTL in minutes; OOR keeps its default when absent. */
  readonly ttl?: number;
  readonly locators: readonly OorLocator[];
}

export class OorApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OorApiError';
  }
}

// ---- Pure encoding -------------------------------------------------------------------------

const XML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const xmlText = (text: string): string => text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
const el = (name: string, content: string): string => `<${name}>${content}</${name}>`;

function splitPrefix(prefix: string): { address: string; length: number } {
  const slash = prefix.lastIndexOf('/');
  if (slash < 0) throw new OorApiError(`EID '${prefix}' needs a prefix length (address/length)`);
  const address = prefix.slice(0, slash);
  const length = Number(prefix.slice(slash + 1));
  const max = isIPv4(address) ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix.slice(slash + 1)) || length > max) throw new OorApiError(`EID '${prefix}': bad prefix length`);
  return { address, length };
}

/** <afi>ipv4</afi><ipv4>…</ipv4>, the address shape OOR's XML reader takes. */
function addressXml(address: string): string {
  const afi = isIPv4(address) ? 'ipv4' : 'ipv6';
  return el('afi', afi) + el(afi, xmlText(address));
}

function checkPriorityWeight(what: string, priority: number, weight: number): void {
  // OOR reads these with atoi() and drops a locator outside 0..255 (priority 255 = do not use).
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw new OorApiError(`${what}: priority ${priority} is outside 0..255`);
  if (!Number.isInteger(weight) || weight < 0 || weight > 255) throw new OorApiError(`${what}: weight ${weight} is outside 0..255`);
}

/**
 * The XML body of a MAPDB request: `<config><local-eids><local-eid>…` with the element names of
 * OOR's reader (eid-address{afi, ipv4|ipv6, mask, instance-id}, record-ttl, rlocs/rloc{name,
 * locator-address|interface, priority, weight}). Compact: OOR's 4096-byte limit counts every byte.
 */
export function localEidsXml(eids: readonly OorLocalEid[]): string {
  const items = eids.map((eid, i) => {
    const { address, length } = splitPrefix(eid.eidPrefix);
    if (!Number.isInteger(eid.iid) || eid.iid < 0 || eid.iid > 0xffffff) throw new OorApiError(`EID ${eid.eidPrefix}: instance ID ${eid.iid} is outside 0..16777215`);
    if (eid.locators.length === 0) throw new OorApiError(`EID ${eid.eidPrefix}: no locator`);
    const eidAddress = addressXml(address) + el('mask', String(length)) + (eid.iid !== 0 ? el('instance-id', String(eid.iid)) : '');
    const rlocs = eid.locators.map((loc, j) => {
      checkPriorityWeight(`EID ${eid.eidPrefix} locator ${j + 1}`, loc.priority, loc.weight);
      const where = loc.kind === 'address' ? el('locator-address', addressXml(loc.address)) : el('interface', xmlText(loc.interface));
      return el('rloc', el('name', `r${j}`) + where + el('priority', String(loc.priority)) + el('weight', String(loc.weight)));
    });
    if (eid.ttl !== undefined && (!Number.isInteger(eid.ttl) || eid.ttl < 1)) throw new OorApiError(`EID ${eid.eidPrefix}: ttl ${eid.ttl} is not a positive number of minutes`);
    const ttl = eid.ttl !== undefined ? el('record-ttl', String(eid.ttl)) : '';
    return el('local-eid', el('id', `e${i}`) + el('eid-address', eidAddress) + el('rlocs', rlocs.join('')) + ttl);
  });
  return el('config', el('local-eids', items.join('')));
}

export function encodeHeader(header: OorApiHeader, order: ByteOrder = HOST_BYTE_ORDER): Buffer {
  const b = Buffer.alloc(OOR_API_HEADER_LENGTH);
  b.writeUInt8(header.device, 0);
  b.writeUInt8(header.target, 1);
  b.writeUInt8(header.operation, 2);
  b.writeUInt8(header.type, 3);
  if (order === 'LE') b.writeUInt32LE(header.dataLength, 4);
  else b.writeUInt32BE(header.dataLength, 4);
  return b;
}

export function decodeHeader(bytes: Uint8Array, order: ByteOrder = HOST_BYTE_ORDER): OorApiHeader {
  if (bytes.length < OOR_API_HEADER_LENGTH) throw new OorApiError(`OOR API message of ${bytes.length} bytes is shorter than its 8-byte header`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { device: b[0]!, target: b[1]!, operation: b[2]!, type: b[3]!, dataLength: order === 'LE' ? b.readUInt32LE(4) : b.readUInt32BE(4) };
}

/** A MAPDB CREATE request of the xTR device: replaces the whole local EID database. */
export function encodeReplaceLocalDb(eids: readonly OorLocalEid[], order: ByteOrder = HOST_BYTE_ORDER): Buffer {
  if (eids.length === 0) throw new OorApiError('no EID to install: OOR would be left serving nothing');
  const body = Buffer.from(localEidsXml(eids), 'utf8');
  const message = Buffer.concat([
    encodeHeader({ device: OorApiDevice.xtr, target: OorApiTarget.mapDb, operation: OorApiOperation.create, type: OorApiType.request, dataLength: body.length }, order),
    body,
  ]);
  if (message.length > OOR_API_MAX_MESSAGE) {
    throw new OorApiError(`the request is ${message.length} bytes; OOR reads at most ${OOR_API_MAX_MESSAGE} (about ${Math.floor((OOR_API_MAX_MESSAGE - 40) / 330)} single-locator EIDs)`);
  }
  return message;
}

export interface OorApiReply {
  readonly header: OorApiHeader;
  readonly ok: boolean;
}

/** Decodes OOR's RESULT message; throws on anything else. */
export function decodeResult(bytes: Uint8Array, order: ByteOrder = HOST_BYTE_ORDER): OorApiReply {
  const header = decodeHeader(bytes, order);
  if (header.type !== OorApiType.result) throw new OorApiError(`OOR API reply has type ${header.type}, not RESULT (1)`);
  if (header.dataLength !== 4 || bytes.length < OOR_API_HEADER_LENGTH + 4) {
    throw new OorApiError(`OOR API RESULT carries ${bytes.length - OOR_API_HEADER_LENGTH} data bytes (length field ${header.dataLength}), not a 4-byte result code`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const code = order === 'LE' ? b.readUInt32LE(8) : b.readUInt32BE(8);
  if (code !== OorApiResult.ok && code !== OorApiResult.err) throw new OorApiError(`OOR API RESULT code ${code} is neither OK (0) nor ERR (1)`);
  return { header, ok: code === OorApiResult.ok };
}

/**
 * The local EIDs of an OOR xTR config (`database-mapping` sections, OOR's defaults applied).
 * An `rloc-iface` becomes an interface locator: OOR's API then adds it for IPv4 and IPv6 alike.
 */
export function localEidsFromConf(conf: OorXtrConf): OorLocalEid[] {
  return conf.databaseMappings.map((m) => {
    if (m.eidPrefix === undefined) throw new OorApiError(`line ${m.line}: database-mapping without eid-prefix`);
    const locators: OorLocator[] = [
      ...m.rlocAddresses.map((r): OorLocator => {
        if (r.address === undefined) throw new OorApiError(`line ${r.line}: rloc-address without address`);
        return { kind: 'address', address: r.address, priority: r.priority, weight: r.weight };
      }),
      ...m.rlocIfaces.map((r): OorLocator => {
        if (r.interface === undefined) throw new OorApiError(`line ${r.line}: rloc-iface without interface`);
        return { kind: 'interface', interface: r.interface, priority: r.priority, weight: r.weight };
      }),
    ];
    return { eidPrefix: m.eidPrefix, iid: m.iid, ttl: m.ttl, locators };
  });
}

// ---- The socket client ---------------------------------------------------------------------

export interface ReplaceOptions {
  /** ZeroMQ endpoint of OOR's API (default ipc:///tmp/oor-ipc). */
  readonly endpoint?: string;
  /** OOR's LISP control port to wake it (address, port); undefined = do not nudge. */
  readonly nudge?: { readonly address: string; readonly port: number };
  readonly timeoutMs: number;
}

export interface ReplaceOutcome {
  readonly ok: boolean;
  /** From sending the request to OOR's reply. */
  readonly replyMs: number;
  readonly nudges: number;
  readonly requestBytes: number;
}

// Nudge delays after the request left. Measured with OOR 1.3 the reply comes after 3-15 ms with
// no nudge at all, so the first one waits past that; the request must be in OOR's socket before
// the datagram wakes it (else OOR finds nothing and sleeps again), hence the repeats.
const NUDGE_SCHEDULE_MS = [20, 50, 100, 300];
const NUDGE_EVERY_MS = 500;
const NUDGE_BYTES = Buffer.alloc(4);

/** Sends one request message to OOR's API and returns its raw reply, nudging OOR meanwhile. */
export async function oorApiExchange(message: Buffer, options: ReplaceOptions): Promise<{ reply: Buffer; replyMs: number; nudges: number }> {
  const endpoint = options.endpoint ?? OOR_API_ENDPOINT;
  if (endpoint.startsWith('ipc://') && !existsSync(endpoint.slice('ipc://'.length))) {
    throw new OorApiError(`no OOR API socket at ${endpoint.slice('ipc://'.length)}: is oor running, in this mount namespace (its own /tmp)?`);
  }
  // Loaded here so that the other verbs never load the native addon.
  const zmq = await import('zeromq');
  const socket = new zmq.Request({ linger: 0, sendTimeout: options.timeoutMs, receiveTimeout: options.timeoutMs });
  const udp = options.nudge ? dgram.createSocket(isIPv4(options.nudge.address) ? 'udp4' : 'udp6') : undefined;
  const timers: NodeJS.Timeout[] = [];
  let nudges = 0;
  try {
    socket.connect(endpoint);
    const started = performance.now();
    try {
      await socket.send(message);
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') throw new OorApiError(`OOR at ${endpoint} did not take the request within ${options.timeoutMs} ms`);
      throw err;
    }
    const target = options.nudge;
    if (udp && target) {
      const nudge = (): void => {
        nudges++;
        udp.send(NUDGE_BYTES, target.port, target.address);
      };
      for (const ms of NUDGE_SCHEDULE_MS) timers.push(setTimeout(nudge, ms));
      timers.push(setTimeout(() => timers.push(setInterval(nudge, NUDGE_EVERY_MS)), NUDGE_SCHEDULE_MS.at(-1)!));
    }
    try {
      const [reply] = (await socket.receive()) as [Buffer];
      return { reply, replyMs: performance.now() - started, nudges };
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') throw new OorApiError(`no reply from OOR at ${endpoint} within ${options.timeoutMs} ms`);
      throw err;
    }
  } finally {
    for (const t of timers) clearTimeout(t);
    udp?.close();
    socket.close();
  }
}

/** Replaces OOR's whole local EID database (MAPDB CREATE) and reports OOR's OK/ERR. */
export async function replaceLocalDatabase(eids: readonly OorLocalEid[], options: ReplaceOptions): Promise<ReplaceOutcome> {
  const message = encodeReplaceLocalDb(eids);
  const { reply, replyMs, nudges } = await oorApiExchange(message, options);
  const { ok } = decodeResult(reply);
  return { ok, replyMs, nudges, requestBytes: message.length };
}

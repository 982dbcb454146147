// POST /api/v1/moves → the first SMR on the wire: how long after a migration tool tells livmap
// of a switchover the ITRs that cached the VM hear of it. livmap runs as `bin/livmap serve` in
// its own process; an xTR per site registers its site prefix (and the local one the VM), an ITR
// caches the VM, then the VM is moved back and forth by site through the REST API. Baseline in
// the same run: an authenticated GET of the same API (the HTTP round trip alone).
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode, signMessage } from '../../mapserver/codec/index.js';
import type { MapRegister, MapRequest } from '../../mapserver/codec/types.js';
import type { ConfigJson } from '../../mapserver/config/schema.js';
import { parseEidPrefix } from '../../mapserver/db/prefix.js';
import { randomNonce } from '../../mapserver/control/mobility.js';
import { freeTcpPort, freeUdpPort, startLivmap, stop } from './server.js';

export interface PostSmrResult {
  readonly moves: number;
  /** POST sent → first SMR received at the ITR, ms, per move (after warm-up). */
  readonly postToSmrMs: number[];
  /** POST sent → its 200 response received, ms. */
  readonly postToResponseMs: number[];
  /** Authenticated GET /api/v1/lookup round trips, ms: the HTTP floor. */
  readonly getMs: number[];
  /** The server's own fan-out time for each move (from the POST's answer), ms. */
  readonly fanoutMs: number[];
}

const VM = '10.16.10.50';
const XTR = { local: '127.0.0.11', cloud: '127.0.0.12' } as const;
const ITR = '127.0.0.13';

function udp(address: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve) => socket.bind(port, address, () => resolve(socket)));
}

function next(socket: dgram.Socket, accept: (bytes: Buffer) => boolean, timeoutMs = 5000): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off('message', on); reject(new Error('timed out')); }, timeoutMs);
    const on = (bytes: Buffer): void => {
      if (!accept(bytes)) return;
      clearTimeout(timer);
      socket.off('message', on);
      resolve(process.hrtime.bigint());
    };
    socket.on('message', on);
  });
}

function register(eid: string, rloc: string, secret: string): Buffer {
  const message: MapRegister = {
    type: 'map-register', proxyReply: true, security: false, xtrIdPresent: false, rtr: false, wantMapNotify: true, merge: false,
    nonce: randomNonce(), auth: { keyId: 0, algId: 2, authData: new Uint8Array(32) },
    records: [{ eid: parseEidPrefix(eid), ttl: eid.endsWith('/32') ? 1 : 10, action: 0, authoritative: true, mapVersion: 0,
      locators: [{ priority: 1, weight: 100, mPriority: 255, mWeight: 0, local: true, probed: false, reachable: true, rloc: { afi: 'ipv4', ip: rloc } }] }],
  };
  return signMessage(message, secret);
}

function request(smrInvoked: boolean): Buffer {
  const message: MapRequest = {
    type: 'map-request', authoritative: false, mapDataPresent: false, probe: false, smr: false, pitr: false, smrInvoked,
    notifyRequested: false, localXtr: false, dontMapReply: false, nonce: randomNonce(),
    sourceEid: { afi: 'ipv4', ip: '172.16.30.10' }, itrRlocs: [{ afi: 'ipv4', ip: ITR }], records: [parseEidPrefix(`${VM}/32`)],
  };
  return encode({ type: 'ecm', security: false, ddt: false, inner: { version: 4, source: '172.16.30.10', destination: VM, sourcePort: 4342, destinationPort: 4342, ttl: 255 }, message });
}

const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

export async function measurePostToSmr(o: { dir: string; secret: string; sites: NonNullable<ConfigJson['sites']>; moves: number }): Promise<PostSmrResult> {
  const port = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const dataDir = join(o.dir, 'data');
  const livmap = await startLivmap({ dataDir, port, apiPort, sites: o.sites, probeEid: VM, logLevel: 'warn' });
  const sockets: dgram.Socket[] = [];
  try {
    const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
    const api = `http://127.0.0.1:${apiPort}/api/v1`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const itr = await udp(ITR, 4342);
    sockets.push(itr);
    const isType = (type: string) => (bytes: Buffer): boolean => { try { return decode(bytes).type === type; } catch { return false; } };
    for (const [site, rloc] of Object.entries(XTR)) {
      const xtr = await udp(rloc);
      sockets.push(xtr);
      const eids = site === 'local' ? ['10.16.10.0/24', `${VM}/32`] : ['192.168.20.0/24'];
      for (const eid of eids) {
        const notified = next(xtr, isType('map-notify'));
        xtr.send(register(eid, rloc, o.secret), port, '127.0.0.1');
        await notified;
      }
    }
    const resolve = async (smrInvoked: boolean): Promise<void> => {
      const replied = next(itr, isType('map-reply'));
      itr.send(request(smrInvoked), port, '127.0.0.1');
      await replied;
    };
    await resolve(false);
    const isSmr = (bytes: Buffer): boolean => { try { const m = decode(bytes); return m.type === 'map-request' && m.smr; } catch { return false; } };
    const result: PostSmrResult = { moves: 0, postToSmrMs: [], postToResponseMs: [], getMs: [], fanoutMs: [] };
    const warmup = 5;
    for (let i = 0; i < warmup + o.moves; i++) {
      const site = i % 2 === 0 ? 'cloud' : 'local';
      const smr = next(itr, isSmr);
      const sent = process.hrtime.bigint();
      const response = await fetch(`${api}/moves`, { method: 'POST', headers, body: JSON.stringify({ eid: VM, site }) });
      const answered = process.hrtime.bigint();
      const body = (await response.json()) as { smrs?: number; fanoutMs?: number; message?: string };
      if (!response.ok) throw new Error(`POST /moves: ${response.status} ${body.message ?? ''}`);
      const smrAt = await smr;
      const getStart = process.hrtime.bigint();
      await (await fetch(`${api}/lookup?eid=${VM}`, { headers: { authorization: headers.authorization } })).json();
      const getEnd = process.hrtime.bigint();
      if (i >= warmup) {
        result.postToSmrMs.push(ms(sent, smrAt));
        result.postToResponseMs.push(ms(sent, answered));
        result.getMs.push(ms(getStart, getEnd));
        result.fanoutMs.push(body.fanoutMs ?? 0);
      }
      await resolve(true); // the ITR answers the SMR as OOR does, and stays a requester
      await new Promise((r) => setTimeout(r, 20));
    }
    return { ...result, moves: result.postToSmrMs.length };
  } finally {
    for (const socket of sockets) socket.close();
    await stop(livmap);
  }
}

// POST /api/v1/moves → the first SMR on the wire: how long after a migration tool tells livmap
// of a switchover the ITRs that cached the VM hear of it. livmap runs as `bin/livmap serve` in
// its own process; an xTR per site registers its site prefix (and the local one the VM), an ITR
// caches the VM, then the VM is moved back and forth by site through the REST API.
// Clocks: the POST is one write of the whole request on a kept-alive connection, timed just
// before it; the SMR is timed by a small receiver process bound to the ITR's address (the same
// monotonic clock across processes), so neither the HTTP client's work nor this process's event
// loop sits between the SMR leaving livmap and its timestamp. Baseline in the same run: the
// same connection's authenticated GET round trip.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ecmAround, mapRequest } from '../../mapserver/codec/build.js';
import { decode, encode, signMessage } from '../../mapserver/codec/index.js';
import { LISP_CONTROL_PORT } from '../../mapserver/codec/ports.js';
import type { MapRegister } from '../../mapserver/codec/types.js';
import type { ConfigJson } from '../../mapserver/json/schema.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
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
  const message = mapRequest({
    smrInvoked, nonce: randomNonce(),
    sourceEid: { afi: 'ipv4', ip: '172.16.30.10' }, itrRlocs: [{ afi: 'ipv4', ip: ITR }], records: [parseEidPrefix(`${VM}/32`)],
  });
  return encode(ecmAround(message, { source: '172.16.30.10', destination: VM, sourcePort: LISP_CONTROL_PORT, ttl: 255 }));
}

const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

/** The ITR's socket in a process of its own: prints `<hrtime ns> <hex datagram>` per datagram received. */
const RECEIVER = `
const dgram = require('node:dgram');
const socket = dgram.createSocket('udp4');
socket.on('message', (m) => process.stdout.write(process.hrtime.bigint() + ' ' + m.toString('hex') + '\\n'));
socket.bind(4342, process.argv[1], () => process.stdout.write('ready\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

/** A kept-alive HTTP/1.1 connection that sends each request in one write and reads Content-Length bodies. */
class RawHttp {
  private buffered = Buffer.alloc(0);
  private waiter: ((response: { status: number; body: string }) => void) | undefined;

  private constructor(private readonly socket: Socket, private readonly host: string) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0 || !this.waiter) return;
      const head = this.buffered.subarray(0, end).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buffered.length < end + 4 + length) return;
      const body = this.buffered.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffered = this.buffered.subarray(end + 4 + length);
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ status: Number(head.split(' ')[1]), body });
    });
  }

  static async open(host: string, port: number): Promise<RawHttp> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject));
    return new RawHttp(socket, `${host}:${port}`);
  }

  /** Sends the request; `sent` is the hrtime just before the write. */
  request(method: string, path: string, headers: Record<string, string>, body?: string): { sent: bigint; response: Promise<{ status: number; body: string }> } {
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${this.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (body !== undefined) lines.push(`content-length: ${Buffer.byteLength(body)}`);
    const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
    const response = new Promise<{ status: number; body: string }>((resolve) => (this.waiter = resolve));
    const sent = process.hrtime.bigint();
    this.socket.write(bytes);
    return { sent, response };
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function measurePostToSmr(o: { dir: string; secret: string; sites: NonNullable<ConfigJson['sites']>; moves: number }): Promise<PostSmrResult> {
  const port = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const dataDir = join(o.dir, 'data');
  const livmap = await startLivmap({ dataDir, port, apiPort, sites: o.sites, probeEid: VM, logLevel: 'warn' });
  const sockets: dgram.Socket[] = [];
  const receiver = spawn(process.execPath, ['-e', RECEIVER, ITR], { stdio: ['pipe', 'pipe', 'inherit'] });
  let http: RawHttp | undefined;
  try {
    // Datagrams the ITR receives, with the receiver's timestamp.
    const arrivals: Array<{ at: bigint; bytes: Buffer }> = [];
    let notify: (() => void) | undefined;
    const lines = createInterface({ input: receiver.stdout! });
    const ready = new Promise<void>((resolve) => lines.on('line', (line) => {
      if (line === 'ready') return resolve();
      const [at, hex] = line.split(' ');
      arrivals.push({ at: BigInt(at!), bytes: Buffer.from(hex!, 'hex') });
      notify?.();
    }));
    await ready;
    const nextArrival = async (accept: (bytes: Buffer) => boolean, timeoutMs = 5000): Promise<bigint> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = arrivals.findIndex((a) => accept(a.bytes));
        if (i >= 0) return arrivals.splice(0, i + 1)[i]!.at;
        if (Date.now() > deadline) throw new Error('timed out waiting at the ITR');
        await new Promise<void>((resolve) => { notify = resolve; setTimeout(resolve, 50); });
      }
    };
    const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
    const auth = { authorization: `Bearer ${token}` };
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
    // The ITR's requests leave from here with the ITR's address as ITR-RLOC: answers go to the receiver.
    const asker = await udp('127.0.0.1');
    sockets.push(asker);
    const resolve = async (smrInvoked: boolean): Promise<void> => {
      asker.send(request(smrInvoked), port, '127.0.0.1');
      await nextArrival(isType('map-reply'));
    };
    await resolve(false);
    const isSmr = (bytes: Buffer): boolean => { try { const m = decode(bytes); return m.type === 'map-request' && m.smr; } catch { return false; } };
    http = await RawHttp.open('127.0.0.1', apiPort);
    const result: PostSmrResult = { moves: 0, postToSmrMs: [], postToResponseMs: [], getMs: [], fanoutMs: [] };
    const warmup = 5;
    for (let i = 0; i < warmup + o.moves; i++) {
      const site = i % 2 === 0 ? 'cloud' : 'local';
      const post = http.request('POST', '/api/v1/moves', { ...auth, 'content-type': 'application/json' }, JSON.stringify({ eid: VM, site }));
      const response = await post.response;
      const answered = process.hrtime.bigint();
      const body = JSON.parse(response.body) as { smrs?: number; fanoutMs?: number; message?: string };
      if (response.status !== 200) throw new Error(`POST /moves: ${response.status} ${body.message ?? ''}`);
      const smrAt = await nextArrival(isSmr);
      const get = http.request('GET', `/api/v1/lookup?eid=${VM}`, auth);
      await get.response;
      const getEnd = process.hrtime.bigint();
      if (i >= warmup) {
        result.postToSmrMs.push(ms(post.sent, smrAt));
        result.postToResponseMs.push(ms(post.sent, answered));
        result.getMs.push(ms(get.sent, getEnd));
        result.fanoutMs.push(body.fanoutMs ?? 0);
      }
      await resolve(true); // the ITR answers the SMR as OOR does, and stays a requester
      await new Promise((r) => setTimeout(r, 20));
    }
    return { ...result, moves: result.postToSmrMs.length };
  } finally {
    http?.close();
    for (const socket of sockets) socket.close();
    receiver.stdin?.end();
    receiver.kill();
    await stop(livmap);
  }
}

// Overload: livmap under a flood of three times the Map-Request capacity measured a moment
// before, while a legitimate ITR asks steadily. Two floods:
//   - "many ITRs": the per-ITR reply limit is set so high that it never refuses, as when the
//     flood comes from more ITR-RLOCs than the limit can tell apart; the kernel drops what the
//     server cannot read, and the server answers what it reads;
//   - "one spoofed ITR-RLOC" (reflection): the default limit; the server reads the flood and
//     refuses it cheaply.
// Reports goodput as a share of capacity, the legitimate client's answered share, RSS, and the
// accounting: sent = read + dropped by the kernel; read = answered + dropped by reason.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '../../mapserver/codec/index.js';
import { DEFAULT_RATE_LIMIT } from '../../mapserver/control/rate-limit.js';
import type { ConfigJson } from '../../mapserver/json/schema.js';
import { payloadFile, runLoad } from './loadgen.js';
import { ECM_CHECKSUM_OFFSET, ECM_NONCE_OFFSET, ECM_PORT_OFFSET, NONCE_OFFSET, ecmMapRequest, hostV4, mapRequestPayloads } from './payloads.js';
import { fillStore, freeTcpPort, freeUdpPort, startLivmap, stop } from './server.js';

export interface OverloadOptions {
  readonly dir: string;
  readonly binary: string;
  readonly mappings: number;
  readonly seconds: number;
  readonly sites: NonNullable<ConfigJson['sites']>;
}

export interface FloodResult {
  readonly flood: 'many-itrs' | 'one-spoofed-itr';
  readonly capacityRps: number;
  /** What the generator actually sent per second (asked for: 3× capacity). */
  readonly offeredRps: number;
  readonly sent: number;
  /** Datagrams livmap read, answered, dropped by reason, and the kernel dropped for it. */
  readonly read: number;
  readonly answered: number;
  readonly droppedByReason: Record<string, number>;
  readonly kernelDrops: number;
  /** Answers per second while the flood ran (from the server's counters). */
  readonly goodputRps: number;
  /** Datagrams read per second while the flood ran, answered or refused. */
  readonly readRps: number;
  readonly client: { readonly sent: number; readonly answered: number; readonly p50Ms: number | undefined };
  readonly rssMb: { readonly before: number; readonly after: number; readonly peak: number };
  /** sent = read + kernel drops, and read = answered + dropped by reason. */
  readonly accounted: boolean;
}

type Counters = Map<string, number>;

/** Distinct requests in the flood file: the generator's window can be no larger. */
const FLOOD_PAYLOADS = 65_536;

/** Prometheus text → "name{labels}" → value. The API starts listening just after the UDP side: retried for 10 s. */
async function scrape(apiPort: number): Promise<Counters> {
  let text: string | undefined;
  for (const deadline = Date.now() + 10_000; text === undefined;) {
    try {
      text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const out: Counters = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

function sum(counters: Counters, name: string): number {
  let total = 0;
  for (const [series, value] of counters) if (series === name || series.startsWith(`${name}{`)) total += value;
  return total;
}

/** Scrapes until two scrapes 300 ms apart have read the same number of datagrams. */
async function drained(apiPort: number): Promise<Counters> {
  let counters = await scrape(apiPort);
  for (let last = -1; sum(counters, 'livmap_datagrams_received_total') !== last;) {
    last = sum(counters, 'livmap_datagrams_received_total');
    await new Promise((resolve) => setTimeout(resolve, 300));
    counters = await scrape(apiPort);
  }
  return counters;
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** A legitimate ITR on its own address: one ECM Map-Request every `everyMs`, each with its own nonce. */
async function steadyClient(target: number, everyMs: number): Promise<{ stop(): Promise<{ sent: number; answered: number; p50Ms: number | undefined }> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.9.7', () => resolve()));
  const port = socket.address().port;
  const sentAt = new Map<bigint, number>();
  const latencies: number[] = [];
  socket.on('message', (bytes) => {
    try {
      const reply = decode(bytes);
      const at = reply.type === 'map-reply' ? sentAt.get(reply.nonce) : undefined;
      if (at !== undefined) latencies.push(performance.now() - at);
    } catch {
      // not a Map-Reply: not an answer
    }
  });
  let n = 0;
  const timer = setInterval(() => {
    const nonce = 0x5354454144000000n + BigInt(++n);
    sentAt.set(nonce, performance.now());
    socket.send(ecmMapRequest(hostV4(n % 1000), nonce, '127.0.9.7', port), target, '127.0.0.1');
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      socket.close();
      latencies.sort((a, b) => a - b);
      return { sent: n, answered: latencies.length, p50Ms: latencies[Math.floor(latencies.length / 2)] };
    },
  };
}

async function flood(o: OverloadOptions, kind: FloodResult['flood'], dataDir: string, file: string, knownCapacityRps?: number): Promise<FloodResult> {
  const port = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const server = await startLivmap({
    dataDir, port, apiPort, sites: o.sites, probeEid: hostV4(0), logLevel: 'warn',
    ...(kind === 'one-spoofed-itr' ? { rateLimit: DEFAULT_RATE_LIMIT } : {}),
  });
  try {
    const shape = {
      target: { host: '127.0.0.1', port }, payloadFile: file,
      requestNonceOffset: ECM_NONCE_OFFSET, replyNonceOffset: NONCE_OFFSET, portOffset: ECM_PORT_OFFSET, checksumOffset: ECM_CHECKSUM_OFFSET,
    };
    // Capacity is measured where the limiter cannot refuse (the generator is one ITR-RLOC, which
    // the default limit would hold to 1000/s), and reused for the reflection flood.
    const capacityRps = knownCapacityRps ?? (await runLoad(o.binary, { ...shape, window: 64, durationMs: 2000, warmupMs: 500 })).rps;
    const pid = server.child.pid!;
    // The capacity run may end with requests still queued for the server: counted once read.
    const before = await drained(apiPort);
    const rssBefore = rssMb(pid, 'VmRSS');
    const client = await steadyClient(port, 20);
    // Open loop: unanswered requests (most of them) free their window slot after 20 ms, so the
    // window never holds the rate below 3× capacity.
    const started = performance.now();
    const load = await runLoad(o.binary, { ...shape, rate: Math.round(3 * capacityRps), window: FLOOD_PAYLOADS, timeoutMs: 20, durationMs: o.seconds * 1000, warmupMs: 0 });
    const floodSeconds = (performance.now() - started) / 1000;
    const mid = await scrape(apiPort);
    const legit = await client.stop();
    const after = await drained(apiPort);
    const delta = (name: string): number => sum(after, name) - sum(before, name);
    const read = delta('livmap_datagrams_received_total');
    const answered = delta('livmap_map_replies_total');
    const kernelDrops = delta('livmap_udp_receive_buffer_drops_total');
    const droppedByReason: Record<string, number> = {};
    for (const [series, value] of after) {
      const reason = /^livmap_messages_dropped_total\{reason="([^"]+)"\}$/.exec(series)?.[1];
      const d = value - (before.get(series) ?? 0);
      if (reason && d > 0) droppedByReason[reason] = d;
    }
    const dropped = Object.values(droppedByReason).reduce((a, b) => a + b, 0);
    const answeredDuringFlood = sum(mid, 'livmap_map_replies_total') - sum(before, 'livmap_map_replies_total');
    return {
      flood: kind,
      capacityRps,
      offeredRps: load.sent / load.duration_s,
      sent: load.sent,
      read,
      answered,
      droppedByReason,
      kernelDrops,
      goodputRps: answeredDuringFlood / floodSeconds,
      readRps: (sum(mid, 'livmap_datagrams_received_total') - sum(before, 'livmap_datagrams_received_total')) / floodSeconds,
      client: legit,
      rssMb: { before: rssBefore, after: rssMb(pid, 'VmRSS'), peak: rssMb(pid, 'VmHWM') },
      accounted: load.sent + legit.sent === read + kernelDrops && read === answered + dropped,
    };
  } finally {
    await stop(server);
  }
}

export async function measureOverload(o: OverloadOptions): Promise<FloodResult[]> {
  const dataDir = join(o.dir, 'data');
  await fillStore(dataDir, o.mappings);
  const file = payloadFile(o.dir, 'flood', mapRequestPayloads({ payloads: FLOOD_PAYLOADS, registered: o.mappings }).payloads);
  const many = await flood(o, 'many-itrs', dataDir, file);
  return [many, await flood(o, 'one-spoofed-itr', dataDir, file, many.capacityRps)];
}

// Fallback load generator in Node, for machines without a C compiler. Same options and result
// as bench/loadgen.c, but it shares the event loop with JavaScript timers and pays a syscall per
// datagram, so it saturates well below the C one: figures taken with it understate both the
// server and the baseline (the ratio is still meaningful while the generator is not the limit).
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { LoadOptions, LoadResult } from './loadgen.js';

const HIST_US = 100_000;

export function isLoopback(host: string): boolean {
  const v = isIP(host);
  if (v === 4) return host.startsWith('127.');
  if (v === 6) return host === '::1' || /^(0{0,4}:){2,7}0{0,3}1$/.test(host);
  return false;
}

export function readPayloadFile(path: string): Buffer[] {
  const data = readFileSync(path);
  if (data.length < 12 || data.toString('latin1', 0, 8) !== 'LVMLOAD1') throw new Error(`${path}: bad payload file header`);
  const count = data.readUInt32LE(8);
  const out: Buffer[] = [];
  let o = 12;
  for (let i = 0; i < count; i++) {
    if (o + 2 > data.length) throw new Error(`${path}: truncated`);
    const length = data.readUInt16LE(o);
    if (o + 2 + length > data.length) throw new Error(`${path}: truncated`);
    out.push(Buffer.from(data.subarray(o + 2, o + 2 + length)));
    o += 2 + length;
  }
  return out;
}

/** RFC 1624 eqn. 3: checksum after a 16-bit word changed from `old` to `now`. */
function updateChecksum(checksum: number, old: number, now: number): number {
  let sum = (~checksum & 0xffff) + (~old & 0xffff) + now;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const result = ~sum & 0xffff;
  return result === 0 ? 0xffff : result;
}

export async function runNodeLoadgen(o: LoadOptions): Promise<LoadResult> {
  if (!isLoopback(o.target.host)) throw new Error(`refusing a non-loopback target ${o.target.host} (only 127.0.0.0/8 or ::1)`);
  const payloads = readPayloadFile(o.payloadFile);
  if (payloads.length < o.window) throw new Error('need at least WINDOW distinct payloads');
  const durationMs = Math.min(Math.max(o.durationMs, 1), 600_000);
  const warmupMs = Math.min(Math.max(o.warmupMs ?? 0, 0), 60_000);
  const timeoutNs = BigInt(Math.min(Math.max(o.timeoutMs ?? 500, 1), 10_000)) * 1_000_000n;
  const v6 = o.target.host.includes(':');
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, v6 ? '::1' : '127.0.0.1', () => resolve()));
  await new Promise<void>((resolve) => socket.connect(o.target.port, o.target.host, () => resolve()));
  const myPort = socket.address().port;

  const index = new Map<bigint, number>();
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!;
    if (o.portOffset !== undefined) {
      const old = p.readUInt16BE(o.portOffset);
      p.writeUInt16BE(myPort, o.portOffset);
      if (o.checksumOffset !== undefined) {
        const c = p.readUInt16BE(o.checksumOffset);
        if (c !== 0) p.writeUInt16BE(updateChecksum(c, old, myPort), o.checksumOffset);
      }
    }
    const nonce = p.readBigUInt64BE(o.requestNonceOffset);
    if (index.has(nonce)) throw new Error('two payloads share a nonce');
    index.set(nonce, i);
  }

  const sentAt = new Map<number, { at: bigint; measured: boolean }>();
  const hist = new Float64Array(HIST_US + 1);
  let sent = 0, received = 0, lost = 0, late = 0, unmatched = 0, sendErrors = 0;
  let latSum = 0, latMax = 0;
  let cursor = 0;
  const t0 = process.hrtime.bigint();
  const measureStart = t0 + BigInt(warmupMs) * 1_000_000n;
  const end = measureStart + BigInt(durationMs) * 1_000_000n;
  const count = o.count ?? 0;
  let stopped = false;
  /** Count mode: when the last reply came; the rate is over that span, as in loadgen.c. */
  let finished = end;

  const sendOne = (): void => {
    const now = process.hrtime.bigint();
    if (stopped || now >= end || (count && now >= measureStart && sent >= count)) return;
    for (let tries = 0; tries < payloads.length; tries++) {
      const idx = cursor;
      cursor = cursor + 1 === payloads.length ? 0 : cursor + 1;
      if (sentAt.has(idx)) continue;
      const measured = now >= measureStart;
      sentAt.set(idx, { at: now, measured });
      if (measured) sent++;
      socket.send(payloads[idx]!, (err) => { if (err) sendErrors++; });
      return;
    }
  };

  socket.on('message', (msg) => {
    const now = process.hrtime.bigint();
    if (msg.length < o.replyNonceOffset + 8) { unmatched++; return; }
    const idx = index.get(msg.readBigUInt64BE(o.replyNonceOffset));
    if (idx === undefined) { unmatched++; return; }
    const s = sentAt.get(idx);
    if (!s) { late++; return; }
    sentAt.delete(idx);
    if (s.measured && now <= end) {
      const lat = Number(now - s.at);
      received++;
      latSum += lat;
      if (lat > latMax) latMax = lat;
      hist[Math.min(Math.floor(lat / 1000), HIST_US)]!++;
    }
    if (!o.rate) sendOne();
  });

  const rate = Math.max(0, o.rate ?? 0);
  await new Promise<void>((resolve) => {
    let banked = 0;
    let last = process.hrtime.bigint();
    const tick = setInterval(() => {
      const now = process.hrtime.bigint();
      for (const [idx, s] of sentAt) {
        if (now - s.at >= timeoutNs) { sentAt.delete(idx); if (s.measured) lost++; }
      }
      if (rate) {
        banked = Math.min(banked + (rate * Number(now - last)) / 1e9, rate / 1000 + 1);
        while (banked >= 1 && sentAt.size < o.window) { sendOne(); banked--; }
      } else {
        while (sentAt.size < o.window && now < end) {
          const before = sentAt.size;
          sendOne();
          if (sentAt.size === before) break;
        }
      }
      last = now;
      const doneByCount = count > 0 && sent >= count && (sentAt.size === 0 || now - end > 0n);
      if (now >= end || doneByCount) {
        if (count > 0) finished = now;
        stopped = true;
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const inFlight = sentAt.size;
  socket.close();

  const percentile = (q: number): number => {
    if (received === 0) return 0;
    const need = Math.ceil(received * q);
    let cum = 0;
    for (let b = 0; b <= HIST_US; b++) {
      cum += hist[b]!;
      if (cum >= need) return b < HIST_US ? b + 0.5 : latMax / 1000;
    }
    return latMax / 1000;
  };
  const durationS = Number(finished - measureStart) / 1e9;
  return {
    generator: 'node',
    sent, received, lost, late, unmatched, send_errors: sendErrors, in_flight_end: inFlight,
    duration_s: durationS,
    rps: received / durationS,
    window: o.window,
    rate,
    payloads: payloads.length,
    local_port: myPort,
    latency_us: { p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: latMax / 1000, mean: received ? latSum / received / 1000 : 0 },
  };
}

// livmap beside OOR's own Map-Server, in the same run, in the lab (bench/lib/lab.ts): both
// configured with the same site (prefix, HMAC-SHA-1 key: OOR's MS has no other), both given the
// same registration by a Map-Register from the generator's namespace (P bit set, as xTR B of the
// OOR captures: the Map-Server answers with proxy Map-Replies), both checked to answer the same
// probe with the same Map-Reply and Map-Notify, then both driven by the same C generator from the
// same namespace (from 4 source ports, as 4 ITRs), alternating with a bare Node echo: ECM
// Map-Request → proxy Map-Reply, and Map-Register → Map-Notify, at 8 and 32 requests in flight. The per-ITR rate limit is off in
// livmap, since OOR has none.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '../../mapserver/codec/index.js';
import type { LispMessage } from '../../mapserver/codec/types.js';
import { createLab, LAB, labUnavailable, LISP_PORT } from './lab.js';
import { payloadFile, ratio, runLoad, type LoadOptions, type LoadResult } from './loadgen.js';
import { ECM_CHECKSUM_OFFSET, ECM_NONCE_OFFSET, ECM_PORT_OFFSET, NONCE_OFFSET, ecmMapRequest, nonceOf, prefixRecord, signedRegister } from './payloads.js';
import { rate, times, us, type Row } from './report.js';
import { startEchoProcess, startLivmap, stop, type Livmap } from './server.js';

export const LAB_SITE = { prefix: '10.16.10.0/24', key: 'livmap-bench-lab-key' } as const;
export const WINDOWS = [8, 32] as const;
/** Source ports the generator sends from (as that many ITRs): the kernel hashes each flow to one of livmap's workers' sockets. */
export const LAB_SOCKETS = 4;

export interface VsOorOptions {
  readonly binary: string | undefined;
  readonly dir: string;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly repeats: number;
  /** livmap worker counts to measure ([1], or [1, 2] once `serve --workers` exists). */
  readonly workers: readonly number[];
  /** Whether to pass --workers at all (false: the server predates the option). */
  readonly passWorkers: boolean;
  readonly log: (text: string) => void;
}

export interface Side {
  readonly echo: LoadResult;
  readonly livmap: LoadResult;
  readonly oor: LoadResult;
}

export interface VsOorResult {
  readonly skipped?: string;
  readonly rows: Row[];
  readonly raw: Record<string, unknown>;
}

/** Every field of a decoded message, bigints as text, for comparing two servers' answers. */
export function messageFields(message: LispMessage): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  const walk = (value: unknown, path: string): void => {
    if (typeof value === 'bigint') flat[path] = `0x${value.toString(16)}`;
    else if (value instanceof Uint8Array) flat[path] = Buffer.from(value).toString('hex');
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    else flat[path] = value;
  };
  walk(message, '');
  return flat;
}

/** The fields in which two answers differ, as "field: a ≠ b" (empty: the same message). */
export function fieldDifferences(a: LispMessage, b: LispMessage): string[] {
  const fa = messageFields(a);
  const fb = messageFields(b);
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  return keys.filter((k) => fa[k] !== fb[k]).map((k) => `${k}: ${String(fa[k])} ≠ ${String(fb[k])}`);
}

export async function measureVsOor(o: VsOorOptions): Promise<VsOorResult> {
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const why = o.binary === undefined ? 'needs the C load generator (cc)' : labUnavailable();
  if (why !== undefined) {
    rows.push({ figure: 'livmap beside OOR Map-Server (network namespaces)', value: `not measured: ${why}`, baseline: '', ratio: '', goal: '' });
    return { skipped: why, rows, raw };
  }
  // Enough for every run of every worker count, with a wide margin; the lab kills what outlives it.
  const lifetime = Math.ceil((o.workers.length * 4 * WINDOWS.length * o.repeats * 3 * (o.durationMs + o.warmupMs)) / 1000) + 600;
  const lab = createLab(lifetime);
  let echo: Awaited<ReturnType<typeof startEchoProcess>> | undefined;
  let livmap: Livmap | undefined;
  try {
    echo = await startEchoProcess({ netns: lab.ns('echo'), host: LAB.echo, port: LISP_PORT });
    lab.startOor(LAB_SITE);
    const record = prefixRecord(LAB_SITE.prefix, LAB.gen);
    let registerSeq = 0;
    /** One Map-Register of the site prefix from the generator's namespace; the Map-Notify. */
    const register = async (host: string, timeoutMs = 15_000): Promise<Buffer> => {
      const payload = signedRegister(record, nonceOf(++registerSeq, 0x4c414200), LAB_SITE.key, 1);
      const reply = await lab.probe(`${host}:${LISP_PORT}`, payload.toString('hex'), { nonceOffset: NONCE_OFFSET, timeoutMs });
      if (decode(reply).type !== 'map-notify') throw new Error(`${host} answered a Map-Register with a ${decode(reply).type}`);
      return reply;
    };
    let probeSeq = 0;
    const request = async (host: string): Promise<Buffer> => {
      const payload = ecmMapRequest('10.16.10.10', nonceOf(++probeSeq, 0x4c415200), LAB.gen);
      return lab.probe(`${host}:${LISP_PORT}`, payload.toString('hex'), {
        nonceOffset: ECM_NONCE_OFFSET, portOffset: ECM_PORT_OFFSET, checksumOffset: ECM_CHECKSUM_OFFSET, timeoutMs: 5000,
      });
    };
    try {
      await register(LAB.oor, 20_000);
    } catch (err) {
      throw new Error(`OOR's Map-Server did not answer: ${(err as Error).message}\n${lab.oorLog()}`);
    }

    const requestFile = payloadFile(o.dir, 'lab-map-request', Array.from({ length: 20_000 }, (_, i) =>
      ecmMapRequest(`10.16.10.${1 + (i % 254)}`, nonceOf(i, 0x4c414d00), LAB.gen)));
    const requestShape = { requestNonceOffset: ECM_NONCE_OFFSET, replyNonceOffset: NONCE_OFFSET, portOffset: ECM_PORT_OFFSET, checksumOffset: ECM_CHECKSUM_OFFSET };
    const registerShape = { requestNonceOffset: NONCE_OFFSET, replyNonceOffset: NONCE_OFFSET };
    // livmap refuses a Map-Register nonce it accepted before (replay protection), so every run
    // against a Map-Server gets never-sent registrations, as many as the run can use.
    let fileSalt = 0;
    const freshRegisters = (expectedRps: number): string => {
      const n = Math.max(1000, Math.ceil((expectedRps * 1.4 * (o.durationMs + o.warmupMs)) / 1000));
      const salt = 0x4c000000 + (++fileSalt << 16);
      return payloadFile(o.dir, `lab-register-${fileSalt}`, Array.from({ length: n }, (_, i) => signedRegister(record, nonceOf(i, salt), LAB_SITE.key, 1)));
    };
    const echoRegisterFile = payloadFile(o.dir, 'lab-register-echo', Array.from({ length: 20_000 }, (_, i) => signedRegister(record, nonceOf(i, 0x4b000000), LAB_SITE.key, 1)));

    const load = (target: string, file: string, shape: Omit<LoadOptions, 'target' | 'payloadFile' | 'window' | 'durationMs' | 'warmupMs'>, window: number): Promise<LoadResult> =>
      runLoad(o.binary, { target: { host: target, port: LISP_PORT }, payloadFile: file, window, durationMs: o.durationMs, warmupMs: o.warmupMs, sockets: LAB_SOCKETS, ...shape }, lab.ns('gen'));

    for (const workers of o.workers) {
      const label = `${workers} worker${workers === 1 ? '' : 's'}`;
      livmap = await startLivmap({
        dataDir: join(o.dir, `lab-data-${workers}`),
        port: LISP_PORT,
        sites: [{ name: 'bench', keys: [{ alg: 'hmac-sha1', secret: LAB_SITE.key }], prefixes: [{ eid: LAB_SITE.prefix, acceptMoreSpecifics: true }] }],
        probeEid: '10.16.10.10',
        logLevel: 'warn',
        ...(o.passWorkers ? { workers } : {}),
        lab: { netns: lab.ns('liv'), host: LAB.livmap, ready: async (timeoutMs) => void (await register(LAB.livmap, timeoutMs)) },
      });
      o.log(`lab: livmap (${label}) and OOR's Map-Server up; comparing their answers`);

      // Same probe, same answers? Both hold the same registration (refreshed just now).
      const notifyLivmap = await register(LAB.livmap);
      const notifyOor = await register(LAB.oor);
      // The two Map-Notifies answer different Map-Registers (nonces differ): compare all but the nonce and the HMAC.
      const notifyDiff = fieldDifferences(decode(notifyLivmap), decode(notifyOor)).filter((d) => !d.startsWith('nonce:') && !d.startsWith('auth.authData:'));
      const replyLivmap = await request(LAB.livmap);
      const replyOor = await request(LAB.oor);
      const replyDiff = fieldDifferences(decode(replyLivmap), decode(replyOor)).filter((d) => !d.startsWith('nonce:'));
      const nonceEchoed = (reply: Buffer, seq: number): boolean => reply.readBigUInt64BE(NONCE_OFFSET) === nonceOf(seq, 0x4c415200);
      const echoedBoth = nonceEchoed(replyLivmap, probeSeq - 1) && nonceEchoed(replyOor, probeSeq);
      raw[`probe-${workers}`] = { replyLivmap: replyLivmap.toString('hex'), replyOor: replyOor.toString('hex'), replyDiff, notifyLivmap: notifyLivmap.toString('hex'), notifyOor: notifyOor.toString('hex'), notifyDiff };
      rows.push({
        figure: `lab, ${label}: the same ECM Map-Request and Map-Register to livmap and to OOR's Map-Server`,
        value: replyDiff.length === 0 && notifyDiff.length === 0 && echoedBoth
          ? `same Map-Reply (${replyLivmap.length} B, every field; nonce echoed by both) and same Map-Notify`
          : `DIFFERENT: ${[...replyDiff.map((d) => `Map-Reply ${d}`), ...notifyDiff.map((d) => `Map-Notify ${d}`), ...(echoedBoth ? [] : ['a nonce was not echoed'])].join('; ')}`,
        baseline: '',
        ratio: '',
        goal: 'identical answers',
        pass: replyDiff.length === 0 && notifyDiff.length === 0 && echoedBoth,
      });

      const best = (list: LoadResult[]): LoadResult => list.reduce((a, b) => (b.rps > a.rps ? b : a));
      for (const kind of ['map-request', 'map-register'] as const) {
        for (const window of WINDOWS) {
          o.log(`lab, ${label}: ${kind}, ${window} in flight: echo, livmap and OOR, best of ${o.repeats}`);
          const runs = { echo: [] as LoadResult[], livmap: [] as LoadResult[], oor: [] as LoadResult[] };
          for (let r = 0; r < o.repeats; r++) {
            if (kind === 'map-request') {
              // The registration lives 3 minutes: refreshed before every run, on both.
              await register(LAB.livmap);
              await register(LAB.oor);
              runs.echo.push(await load(LAB.echo, requestFile, { ...requestShape, replyNonceOffset: ECM_NONCE_OFFSET }, window));
              runs.livmap.push(await load(LAB.livmap, requestFile, requestShape, window));
              runs.oor.push(await load(LAB.oor, requestFile, requestShape, window));
            } else {
              const e = await load(LAB.echo, echoRegisterFile, registerShape, window);
              runs.echo.push(e);
              for (const side of ['livmap', 'oor'] as const) {
                const file = freshRegisters(e.rps);
                runs[side].push(await load(side === 'livmap' ? LAB.livmap : LAB.oor, file, registerShape, window));
                rmSync(file, { force: true });
              }
            }
          }
          const side: Side = { echo: best(runs.echo), livmap: best(runs.livmap), oor: best(runs.oor) };
          raw[`${kind}-w${window}-workers${workers}`] = { best: side, all: runs };
          const loss = (r: LoadResult): string => (r.lost ? ` (${((100 * r.lost) / Math.max(1, r.sent)).toFixed(2)}% lost)` : '');
          rows.push({
            figure: `lab, ${label}: ${kind === 'map-request' ? 'ECM Map-Request→proxy Map-Reply' : 'Map-Register→Map-Notify (HMAC-SHA-1)'}, one prefix, ${window} in flight`,
            value: `${rate(side.livmap.rps)}${loss(side.livmap)}, p50/p99 ${us(side.livmap.latency_us.p50)} / ${us(side.livmap.latency_us.p99)}`,
            baseline: `echo ${rate(side.echo.rps)}; OOR ${rate(side.oor.rps)}${loss(side.oor)}, p50/p99 ${us(side.oor.latency_us.p50)} / ${us(side.oor.latency_us.p99)}`,
            ratio: times(ratio(side.livmap, side.echo)),
            ratioOor: times(ratio(side.livmap, side.oor)),
            goal: '',
          });
        }
      }
      await stop(livmap);
      livmap = undefined;
    }
  } finally {
    if (livmap) await stop(livmap);
    if (echo) await stop(echo);
    lab.close();
  }
  return { rows, raw };
}

// The migration scenario on loopback, as users run it: livmap in-process, three emulated xTRs,
// and one VM that moves back and forth within one lab (local -> cloud -> local -> ...) while a
// correspondent probes it every millisecond, one probe stream for the whole series.
//
//   corr (172.16.30.0/24, host 172.16.30.10) --probe--> VM 10.16.10.50
//   local xTR (10.16.10.0/24, P=0)   cloud xTR (192.168.20.0/24, P=1)   -- as in the OOR lab
//
// Each series starts from fresh state: a new livmap (temp data dir) and new xTRs on a random
// 127.A.B.0/24 block (RLOCs .1 local, .2 cloud, .3 corr; ports 4342/4341). The xTRs behave like
// OOR 1.3: a move is a change of their local database, so the old site's xTR sends a burst that
// no longer lists the VM and the new site's a burst that does; nobody withdraws.
// The runner records raw facts only (probe send times and RTTs, move steps, events); outages are
// computed by the shared results step (results.ts), as for every other emulator.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { resolveConfig } from '../mapserver/config/load.js';
import { formatEidPrefix } from '../mapserver/codec/prefix.js';
import { startService, type Service } from '../mapserver/compose/service.js';
import { buildUdpPacket, parseUdpPacket } from './inner.js';
import type { MoveRecord, ProbeLog, SeriesEvent } from './results.js';
import { round } from './stats.js';
import { EmulatedXtr, type UdpEndpoint, type XtrConfig, type XtrEvent } from './xtr.js';

export const SIM_KEY = 'livmap-sim-key';
export const VM_EID = '10.16.10.50';
export const CORR_HOST = '172.16.30.10';
export const SITES = {
  local: '10.16.10.0/24',
  cloud: '192.168.20.0/24',
  corr: '172.16.30.0/24',
} as const;
const PROBE_PORT = 7000;

export interface SeriesOptions {
  /** Ask the server for mobility (SMRs, Map-Notify to old ETRs); false = TTL expiry only. */
  readonly mobility: boolean;
  /** xTR map-cache TTL scale (1 = real minutes). */
  readonly timeScale: number;
  readonly vmTtlMinutes: number;
  readonly probeIntervalMs: number;
  /** Moves in the series: local -> cloud, cloud -> local, ... */
  readonly moves: number;
  /** Seconds from one move to the next, cycled (move 2 comes gapsS[0] after move 1, ...). */
  readonly gapsS: readonly number[];
  /** Probing before the first move, after the first answered probe. */
  readonly preMoveMs: number;
  /** A uniformly random extra wait before the first move. */
  readonly preMoveJitterMs: number;
  /**
   * A uniformly random extra wait added to every gap, so that a move falls anywhere in the
   * correspondent's map-cache TTL cycle (mobility off); the measured time between moves is kept.
   */
  readonly gapJitterMs: number;
  /** After the last move: probe at least this long, then until traffic has been back for `settleMs`. */
  readonly postMoveMs: number;
  readonly settleMs: number;
  /** Hard stop after the last move (it is then reported as not recovered). */
  readonly maxPostMoveMs: number;
  /** The old xTR keeps re-registering the VM's /32 this long after it left (0 = its burst omits it at once). */
  readonly keepOldRegisteringMs: number;
  readonly registerIntervalMs: number;
  /**
   * The cloud xTR already holds a map-cache entry for the correspondent (another host of the
   * cloud site talked to it), so the VM's first answers are not dropped on a reverse-path miss.
   * Only the first move can differ: after it, both site xTRs have resolved the correspondent.
   */
  readonly warmCloudCache: boolean;
}

export const DEFAULT_SERIES: SeriesOptions = {
  mobility: true,
  timeScale: 1,
  vmTtlMinutes: 1,
  probeIntervalMs: 1,
  moves: 6,
  gapsS: [1, 2, 5],
  preMoveMs: 300,
  preMoveJitterMs: 100,
  gapJitterMs: 0,
  postMoveMs: 300,
  settleMs: 100,
  maxPostMoveMs: 5000,
  keepOldRegisteringMs: 0,
  registerIntervalMs: 60_000,
  warmCloudCache: false,
};

/** What the runner saw around one move, besides the probes. */
export interface MoveFacts {
  readonly index: number;
  /** The correspondent's map-cache entry covering the VM at the move, and how long it had left. */
  readonly corrCacheAtMove: { readonly prefix: string; readonly rlocs: readonly string[]; readonly remainingTtlMs: number } | null;
  /** SMRs the correspondent's xTR received from this move until the next. */
  readonly smrsReceivedByCorr: number;
  /** The server's 'moved' events for the VM in this move's window (ms after the move). */
  readonly serverMoves: ReadonlyArray<{ readonly t: number; readonly to: readonly string[]; readonly smrs: number; readonly notifies: number }>;
}

export interface SeriesRun {
  readonly mobility: boolean;
  readonly timeScale: number;
  readonly probe: ProbeLog;
  readonly moves: readonly MoveRecord[];
  readonly facts: readonly MoveFacts[];
  readonly events: readonly SeriesEvent[];
  /** Epoch ms when probing stopped. */
  readonly probeEndAt: number;
  readonly totals: {
    readonly probesSent: number;
    readonly probesAnswered: number;
    readonly smrsReceivedByCorr: number;
    readonly smrInvokedSentByCorr: number;
    readonly notifiesIgnoredByLocal: number;
    readonly notifiesIgnoredByCloud: number;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

function randomBlock(): string {
  return `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`;
}

interface Lab {
  readonly service: Service;
  readonly dataDir: string;
  readonly ms: UdpEndpoint;
  readonly local: EmulatedXtr;
  readonly cloud: EmulatedXtr;
  readonly corr: EmulatedXtr;
  close(): Promise<void>;
}

async function startLab(options: SeriesOptions, onEvent: (e: XtrEvent) => void): Promise<Lab> {
  const dataDir = await mkdtemp(join(tmpdir(), 'livmap-sim-'));
  const config = resolveConfig({
    dataDir,
    lisp: { listen: ['127.0.0.1:0'] },
    api: { listen: '127.0.0.1:0', token: 'simulation-token' },
    sites: Object.entries(SITES).map(([name, eid]) => ({
      name,
      keys: [{ alg: 'hmac-sha1', secret: SIM_KEY }],
      prefixes: [{ eid, acceptMoreSpecifics: true }],
    })),
  });
  let service: Service;
  try {
    service = await startService(config, { logger: pino({ level: 'silent' }), mobility: { enabled: options.mobility } });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const ms = service.lisp.addresses()[0]!;
  const xtrs: EmulatedXtr[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(xtrs.map((x) => x.close()));
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // A random block per lab keeps concurrent runs (tests) off each other's 4342/4341.
    let block = randomBlock();
    const common = (name: string, octet: number, eid: string, proxyReply: boolean): XtrConfig => ({
      name, rloc: `${block}.${octet}`, eidPrefixes: [eid], mapServer: ms, key: SIM_KEY, proxyReply,
      registerIntervalMs: options.registerIntervalMs, timeScale: options.timeScale, hostTtlMinutes: options.vmTtlMinutes,
      mapRequestRetryMs: 500, onEvent,
    });
    for (let attempt = 0; ; attempt++) {
      try {
        xtrs.push(await EmulatedXtr.start(common('local', 1, SITES.local, false)));
        xtrs.push(await EmulatedXtr.start(common('cloud', 2, SITES.cloud, true)));
        xtrs.push(await EmulatedXtr.start(common('corr', 3, SITES.corr, false)));
        break;
      } catch (err) {
        await Promise.all(xtrs.splice(0).map((x) => x.close()));
        if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        block = randomBlock();
      }
    }
    const [local, cloud, corr] = xtrs as [EmulatedXtr, EmulatedXtr, EmulatedXtr];
    return { service, dataDir, ms, local, cloud, corr, close };
  } catch (err) {
    await close();
    throw err;
  }
}

interface SentProbe {
  readonly sentAt: number;
  answeredAt?: number;
}

/** performance.now() as epoch ms: monotonic, and comparable with other emulators' records. */
function epoch(at: number): number {
  return round(performance.timeOrigin + at, 3);
}

/** xTR events drawn on the timelines (the first of each per move), by `xtr:type`. */
const XTR_EVENT_LABELS: Readonly<Record<string, string>> = {
  'corr:smr-received': 'corr: SMR received',
  'corr:smr-invoked-sent': 'corr: SMR-invoked Map-Request',
  'corr:cache-updated': 'corr: cache updated',
  'corr:cache-expired': 'corr: cache expired',
  'corr:cache-installed': 'corr: cache installed',
  'cloud:cache-installed': 'cloud: reverse path resolved',
  'local:cache-installed': 'local: reverse path resolved',
  'cloud:registered': 'cloud: Map-Notify',
  'local:registered': 'local: Map-Notify',
};

/** Whether an xTR event concerns the VM (or, for a reverse-path resolution, the correspondent). */
function aboutVm(e: XtrEvent): boolean {
  if (e.type === 'smr-received' || e.type === 'smr-invoked-sent') return true;
  if (e.xtr === 'corr') return e.detail.startsWith(VM_EID) || e.detail.startsWith(SITES.local) || e.detail.startsWith(SITES.cloud);
  if (e.type === 'cache-installed') return e.detail.startsWith(SITES.corr);
  return e.detail.startsWith(`${VM_EID}/32`);
}

/**
 * One lab, one probe stream, `moves` moves of the VM back and forth. Resolves with the raw record
 * of the series; a move that does not recover is no error (the results step reports it).
 */
export async function runSeries(partial: Partial<SeriesOptions> = {}): Promise<SeriesRun> {
  const o: SeriesOptions = { ...DEFAULT_SERIES, ...partial };
  if (o.moves < 1) throw new Error('a series needs at least one move');
  if (o.gapsS.length === 0 || o.gapsS.some((g) => !(g > 0))) throw new Error('gaps must be positive seconds');
  const xtrEvents: XtrEvent[] = [];
  let recording = false;
  const lab = await startLab(o, (e) => {
    if (recording && xtrEvents.length < 50_000 && aboutVm(e)) xtrEvents.push(e);
  });
  const serverEvents: Array<{ at: number; type: string; detail: string; smrs?: number; notifies?: number; to?: readonly string[] }> = [];
  lab.service.lisp.events.on('event', (event) => {
    if (!recording) return;
    const at = performance.now();
    if (event.type === 'moved' && formatEidPrefix(event.eid) === `${VM_EID}/32`) {
      serverEvents.push({ at, type: 'moved', detail: `${event.from.join(',')} -> ${event.to.join(',')}`, smrs: event.smrs, notifies: event.notifies, to: event.to });
    } else if ((event.type === 'contested' || event.type === 'left') && formatEidPrefix(event.eid) === `${VM_EID}/32`) {
      serverEvents.push({ at, type: event.type, detail: event.type === 'left' ? event.etrId : `${event.claimant} vs ${event.holders.join(',')}` });
    }
  });
  try {
    const { local, cloud, corr } = lab;
    const siteXtr = { local, cloud } as const;
    let vmSite: EmulatedXtr = local;
    const probes: SentProbe[] = [];

    // The VM answers every probe from wherever it is now.
    const vm = (packet: Buffer): void => {
      const udp = parseUdpPacket(packet);
      if (!udp) return;
      vmSite.send(buildUdpPacket({ source: VM_EID, destination: udp.source, sourcePort: udp.destinationPort, destinationPort: udp.sourcePort, payload: udp.payload }));
    };
    corr.attachHost(CORR_HOST, (packet, at) => {
      const udp = parseUdpPacket(packet);
      if (!udp || udp.destinationPort !== PROBE_PORT || udp.payload.length < 4) return;
      const probe = probes[Buffer.from(udp.payload).readUInt32BE(0)];
      if (probe && probe.answeredAt === undefined) probe.answeredAt = at;
    }, { register: false });
    local.attachHost(VM_EID, vm, { ttlMinutes: o.vmTtlMinutes });

    // Registered everywhere: site prefixes of the three xTRs and the VM's /32.
    await waitFor('Map-Notify for every registration', () => local.stats.notifiesAccepted >= 2 && cloud.stats.notifiesAccepted >= 1 && corr.stats.notifiesAccepted >= 1, 5000);
    if (o.warmCloudCache) {
      const other = '192.168.20.10';
      cloud.send(buildUdpPacket({ source: other, destination: CORR_HOST, sourcePort: PROBE_PORT + 1, destinationPort: PROBE_PORT + 1, payload: Buffer.alloc(4) }));
      await waitFor('the cloud xTR to resolve the correspondent', () => cloud.lookupCache(CORR_HOST) !== undefined, 3000);
    }

    let stop = false;
    const payload = Buffer.alloc(16);
    const ticker = setInterval(() => {
      if (stop) return;
      payload.writeUInt32BE(probes.length, 0);
      probes.push({ sentAt: performance.now() });
      corr.send(buildUdpPacket({ source: CORR_HOST, destination: VM_EID, sourcePort: PROBE_PORT, destinationPort: PROBE_PORT, payload }));
    }, o.probeIntervalMs);
    const records: MoveRecord[] = [];
    const moveAts: number[] = [];
    const smrsAtMove: number[] = [];
    const cacheAtMove: Array<MoveFacts['corrCacheAtMove']> = [];
    let probeEnd = 0;
    try {
      await waitFor('the first answered probe', () => probes.some((p) => p.answeredAt !== undefined), 5000);
      recording = true;
      await sleep(o.preMoveMs + Math.random() * o.preMoveJitterMs);

      let from: 'local' | 'cloud' = 'local';
      for (let index = 1; index <= o.moves; index++) {
        const to: 'local' | 'cloud' = from === 'local' ? 'cloud' : 'local';
        const gapS = index === 1 ? 0 : o.gapsS[(index - 2) % o.gapsS.length]!;
        if (index > 1) await sleepUntil(moveAts[index - 2]! + gapS * 1000 + Math.random() * o.gapJitterMs);

        // The move, as a hypervisor hook would do it: the VM is at the new site and both site
        // xTRs' databases change at once (old site first); each change sends its burst.
        const moveAt = performance.now();
        const entry = corr.lookupCache(VM_EID);
        cacheAtMove.push(entry ? {
          prefix: formatEidPrefix(entry.prefix),
          rlocs: entry.locators.map((l) => (l.rloc.afi === 'ipv4' ? l.rloc.ip : l.rloc.afi)),
          remainingTtlMs: round(entry.expiresAt - moveAt),
        } : null);
        smrsAtMove.push(corr.stats.smrsReceived);
        siteXtr[from].detachHost(VM_EID, o.keepOldRegisteringMs > 0 ? { keepRegisteringMs: o.keepOldRegisteringMs } : {});
        const oldUpdatedAt = performance.now();
        vmSite = siteXtr[to];
        const linkMovedAt = performance.now();
        siteXtr[to].attachHost(VM_EID, vm, { ttlMinutes: o.vmTtlMinutes });
        const newUpdatedAt = performance.now();
        moveAts.push(moveAt);
        records.push({
          index, from, to, gapS,
          moveAt: epoch(moveAt),
          linkMovedAt: epoch(linkMovedAt),
          newXtrUpdatedAt: epoch(newUpdatedAt),
          ...(o.keepOldRegisteringMs > 0 ? {} : { oldXtrUpdatedAt: epoch(oldUpdatedAt) }),
          notes: [
            entry
              ? `corr's map-cache at the move: ${formatEidPrefix(entry.prefix)} -> ${cacheAtMove[index - 1]!.rlocs.join(',')}, ${cacheAtMove[index - 1]!.remainingTtlMs} ms of TTL left`
              : "corr's map-cache had no entry for the VM at the move",
            ...(o.keepOldRegisteringMs > 0 ? [`the old site's xTR kept registering the VM for ${o.keepOldRegisteringMs} ms`] : []),
          ],
        });
        from = to;
      }

      // After the last move: probe until traffic has been back for settleMs (at least postMoveMs), or give up.
      const lastMoveAt = moveAts[moveAts.length - 1]!;
      for (;;) {
        await sleep(10);
        const now = performance.now();
        const since = now - lastMoveAt;
        if (since >= o.maxPostMoveMs) break;
        if (since < o.postMoveMs) continue;
        const recent = probes.filter((p) => p.sentAt > lastMoveAt && p.sentAt < now - 20);
        if (recent.length > 0 && recentAnsweredFor(recent, o.settleMs)) break;
      }
      stop = true;
      clearInterval(ticker);
      probeEnd = performance.now();
      await sleep(50); // answers in flight
      recording = false;
    } finally {
      stop = true;
      clearInterval(ticker);
    }

    const windowOf = (i: number): [number, number] => [moveAts[i]!, i + 1 < moveAts.length ? moveAts[i + 1]! : probeEnd];
    const facts: MoveFacts[] = moveAts.map((moveAt, i) => {
      const [start, end] = windowOf(i);
      const nextSmrs = i + 1 < smrsAtMove.length ? smrsAtMove[i + 1]! : corr.stats.smrsReceived;
      return {
        index: i + 1,
        corrCacheAtMove: cacheAtMove[i]!,
        smrsReceivedByCorr: nextSmrs - smrsAtMove[i]!,
        serverMoves: serverEvents
          .filter((e) => e.type === 'moved' && e.at >= start && e.at < end)
          .map((e) => ({ t: round(e.at - moveAt), to: e.to ?? [], smrs: e.smrs ?? 0, notifies: e.notifies ?? 0 })),
      };
    });

    // Events for the timelines and results.json: the server's, and the first of each xTR kind per move.
    const moveOf = (at: number): number => {
      let k = -1;
      for (let i = 0; i < moveAts.length && moveAts[i]! - 50 <= at; i++) k = i;
      return k;
    };
    const events: SeriesEvent[] = serverEvents.map((e) => ({
      type: e.type === 'moved' ? `server: binding moved, ${e.smrs} SMR` : `server: ${e.type}`,
      at: epoch(e.at),
      move: moveOf(e.at) + 1,
      detail: e.detail,
    }));
    const seen = new Set<string>();
    for (const e of xtrEvents) {
      const label = XTR_EVENT_LABELS[`${e.xtr}:${e.type}`];
      const move = moveOf(e.at);
      const key = `${move}:${e.xtr}:${e.type}`;
      if (!label || move < 0 || seen.has(key)) continue;
      seen.add(key);
      events.push({ type: label, at: epoch(e.at), move: move + 1, detail: e.detail });
    }
    events.sort((a, b) => a.at - b.at);

    return {
      mobility: o.mobility,
      timeScale: o.timeScale,
      probe: {
        intervalMs: o.probeIntervalMs,
        sendWall: probes.map((p) => epoch(p.sentAt)),
        rttMs: probes.map((p) => (p.answeredAt === undefined ? null : round(p.answeredAt - p.sentAt))),
      },
      moves: records,
      facts,
      events,
      probeEndAt: epoch(probeEnd),
      totals: {
        probesSent: probes.length,
        probesAnswered: probes.filter((p) => p.answeredAt !== undefined).length,
        smrsReceivedByCorr: corr.stats.smrsReceived,
        smrInvokedSentByCorr: corr.stats.smrInvokedSent,
        notifiesIgnoredByLocal: local.stats.notifiesIgnored,
        notifiesIgnoredByCloud: cloud.stats.notifiesIgnored,
      },
    };
  } finally {
    await lab.close();
  }
}

async function sleepUntil(at: number): Promise<void> {
  const ms = at - performance.now();
  if (ms > 0) await sleep(ms);
}

/** The last `ms` worth of probes were all answered. */
function recentAnsweredFor(recent: readonly SentProbe[], ms: number): boolean {
  const last = recent[recent.length - 1]!;
  const from = last.sentAt - ms;
  if (recent[0]!.sentAt > from) return false;
  for (let i = recent.length - 1; i >= 0 && recent[i]!.sentAt >= from; i--) if (recent[i]!.answeredAt === undefined) return false;
  return true;
}

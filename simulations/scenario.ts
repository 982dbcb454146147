// The migration scenario on loopback: livmap in-process, three emulated xTRs, a VM that moves
// from the local site to the cloud site while a correspondent probes it every millisecond.
//
//   corr (172.16.30.0/24, host 172.16.30.10) --probe--> VM 10.16.10.50
//   local xTR (10.16.10.0/24, P=0)   cloud xTR (192.168.20.0/24, P=1)   -- as in the OOR lab
//
// Every run starts from fresh state: a new livmap (temp data dir) and new xTRs on a random
// 127.A.B.0/24 block (RLOCs .1 local, .2 cloud, .3 corr; ports 4342/4341).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { resolveConfig } from '../mapserver/config/load.js';
import { formatEidPrefix } from '../mapserver/db/prefix.js';
import { startService, type Service } from '../mapserver/service.js';
import { buildUdpPacket, parseUdpPacket } from './inner.js';
import { measureOutage, round, type Outage, type Probe } from './stats.js';
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

export interface RunOptions {
  /** Ask the server for mobility (SMRs, Map-Notify to old ETRs); false = TTL expiry only. */
  readonly mobility: boolean;
  /** xTR map-cache TTL scale (1 = real minutes). */
  readonly timeScale: number;
  readonly vmTtlMinutes: number;
  readonly probeIntervalMs: number;
  /** Probing before the move, after the first answered probe. */
  readonly preMoveMs: number;
  /** A uniformly random extra wait before the move, so the move falls anywhere in a TTL cycle. */
  readonly preMoveJitterMs: number;
  /** Minimum probing after the move; probing goes on until traffic has been back for `settleMs`. */
  readonly postMoveMs: number;
  readonly settleMs: number;
  /** Hard stop after the move (the outage is then censored). */
  readonly maxPostMoveMs: number;
  /** The old xTR keeps re-registering the VM's /32 this long after it left (0 = stops at once). */
  readonly keepOldRegisteringMs: number;
  readonly registerIntervalMs: number;
  /** Probes from this long before the move count for the outage. */
  readonly windowBeforeMs: number;
  /**
   * The cloud xTR already holds a map-cache entry for the correspondent (another host of the
   * cloud site talked to it), so the VM's first answers are not dropped on a reverse-path miss.
   */
  readonly warmCloudCache: boolean;
}

export const DEFAULT_RUN: RunOptions = {
  mobility: true,
  timeScale: 1,
  vmTtlMinutes: 1,
  probeIntervalMs: 1,
  preMoveMs: 300,
  preMoveJitterMs: 100,
  postMoveMs: 300,
  settleMs: 100,
  maxPostMoveMs: 5000,
  keepOldRegisteringMs: 0,
  registerIntervalMs: 60_000,
  windowBeforeMs: 50,
  warmCloudCache: false,
};

export interface RunEvent {
  /** ms relative to the move */
  readonly t: number;
  readonly xtr: string;
  readonly type: string;
  readonly detail: string;
}

export interface RunResult {
  readonly mobility: boolean;
  readonly timeScale: number;
  readonly outage: Outage;
  readonly downtimeMs: number;
  readonly probesSent: number;
  readonly probesAnswered: number;
  /** The correspondent's map-cache entry for the VM at the move, and how long it had left. */
  readonly corrCacheAtMove: { readonly prefix: string; readonly remainingTtlMs: number } | null;
  readonly smrsReceivedByCorr: number;
  readonly smrInvokedSentByCorr: number;
  readonly notifiesIgnoredByLocal: number;
  /** Server 'moved' events: SMRs and Map-Notifies the server reports. */
  readonly serverMoves: ReadonlyArray<{ readonly t: number; readonly smrs: number; readonly notifies: number }>;
  /** Control-plane events of all xTRs around the move (periodic registrations left out). */
  readonly events: readonly RunEvent[];
  /** Probes from `windowBeforeMs` before the move: send time relative to the move, RTT or null. */
  readonly timeline: { readonly t: number[]; readonly rttMs: Array<number | null> };
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

async function startLab(options: RunOptions, onEvent: (e: XtrEvent) => void): Promise<Lab> {
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

/** One move of the VM from the local site to the cloud site, with fresh state. */
export async function runOnce(partial: Partial<RunOptions> = {}): Promise<RunResult> {
  const options: RunOptions = { ...DEFAULT_RUN, ...partial };
  const allEvents: XtrEvent[] = [];
  const lab = await startLab(options, (e) => {
    if (allEvents.length < 20_000) allEvents.push(e);
  });
  const serverMoves: Array<{ at: number; smrs: number; notifies: number }> = [];
  lab.service.lisp.events.on('event', (event) => {
    if (event.type === 'moved') serverMoves.push({ at: performance.now(), smrs: event.smrs, notifies: event.notifies });
  });
  try {
    const { local, cloud, corr } = lab;
    let vmSite: EmulatedXtr = local;
    const probes: Probe[] = [];

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
    local.attachHost(VM_EID, vm, { ttlMinutes: options.vmTtlMinutes });

    // Registered everywhere: site prefixes of the three xTRs and the VM's /32.
    await waitFor('Map-Notify for every registration', () => local.stats.notifiesAccepted >= 2 && cloud.stats.notifiesAccepted >= 1 && corr.stats.notifiesAccepted >= 1, 5000);
    if (options.warmCloudCache) {
      const other = '192.168.20.10';
      cloud.send(buildUdpPacket({ source: other, destination: CORR_HOST, sourcePort: PROBE_PORT + 1, destinationPort: PROBE_PORT + 1, payload: Buffer.alloc(4) }));
      await waitFor('the cloud xTR to resolve the correspondent', () => cloud.lookupCache(CORR_HOST) !== undefined, 3000);
    }

    let stop = false;
    const payload = Buffer.alloc(16);
    const sendProbe = (): void => {
      const seq = probes.length;
      payload.writeUInt32BE(seq, 0);
      const sentAt = performance.now();
      probes.push({ sentAt });
      corr.send(buildUdpPacket({ source: CORR_HOST, destination: VM_EID, sourcePort: PROBE_PORT, destinationPort: PROBE_PORT, payload }));
    };
    const ticker = setInterval(() => {
      if (!stop) sendProbe();
    }, options.probeIntervalMs);
    try {
      await waitFor('the first answered probe', () => probes.some((p) => p.answeredAt !== undefined), 5000);
      await sleep(options.preMoveMs + Math.random() * options.preMoveJitterMs);

      // The move: the VM leaves the local site and appears at the cloud site in the same instant.
      const moveAt = performance.now();
      const entry = corr.lookupCache(VM_EID);
      const corrCacheAtMove = entry ? { prefix: formatEidPrefix(entry.prefix), remainingTtlMs: round(entry.expiresAt - moveAt) } : null;
      local.detachHost(VM_EID, options.keepOldRegisteringMs > 0 ? { keepRegisteringMs: options.keepOldRegisteringMs } : {});
      vmSite = cloud;
      cloud.attachHost(VM_EID, vm, { ttlMinutes: options.vmTtlMinutes });

      // Probe until traffic has been back for settleMs (and at least postMoveMs), or give up.
      for (;;) {
        await sleep(10);
        const now = performance.now();
        const since = now - moveAt;
        if (since >= options.maxPostMoveMs) break;
        if (since < options.postMoveMs) continue;
        const recent = probes.filter((p) => p.sentAt > moveAt && p.sentAt < now - 20);
        const back = recent.length > 0 && recentAnsweredFor(recent, options.settleMs);
        if (back) break;
      }
      stop = true;
      clearInterval(ticker);
      await sleep(50); // answers in flight
      const outage = measureOutage(probes, moveAt, options.windowBeforeMs);
      const window = probes.filter((p) => p.sentAt >= moveAt - options.windowBeforeMs);
      const rel = (at: number): number => round(at - moveAt, 3);
      return {
        mobility: options.mobility,
        timeScale: options.timeScale,
        outage: { ...outage, downtimeMs: round(outage.downtimeMs), gapFromMs: round(outage.gapFromMs), gapToMs: round(outage.gapToMs), medianSpacingMs: round(outage.medianSpacingMs) },
        downtimeMs: round(outage.downtimeMs),
        probesSent: probes.length,
        probesAnswered: probes.filter((p) => p.answeredAt !== undefined).length,
        corrCacheAtMove,
        smrsReceivedByCorr: corr.stats.smrsReceived,
        smrInvokedSentByCorr: corr.stats.smrInvokedSent,
        notifiesIgnoredByLocal: local.stats.notifiesIgnored,
        serverMoves: serverMoves.map((m) => ({ t: rel(m.at), smrs: m.smrs, notifies: m.notifies })),
        events: allEvents
          .filter((e) => e.at >= moveAt - options.windowBeforeMs && e.type !== 'register-sent' && e.type !== 'registered')
          .concat(allEvents.filter((e) => e.at >= moveAt && (e.type === 'register-sent' || e.type === 'registered') && e.detail.startsWith(VM_EID)))
          .sort((a, b) => a.at - b.at)
          .slice(0, 200)
          .map((e) => ({ t: rel(e.at), xtr: e.xtr, type: e.type, detail: e.detail })),
        timeline: {
          t: window.map((p) => rel(p.sentAt)),
          rttMs: window.map((p) => (p.answeredAt === undefined ? null : round(p.answeredAt - p.sentAt))),
        },
      };
    } finally {
      stop = true;
      clearInterval(ticker);
    }
  } finally {
    await lab.close();
  }
}

/** The last `ms` worth of probes were all answered. */
function recentAnsweredFor(recent: readonly Probe[], ms: number): boolean {
  const last = recent[recent.length - 1]!;
  const from = last.sentAt - ms;
  if (recent[0]!.sentAt > from) return false;
  for (let i = recent.length - 1; i >= 0 && recent[i]!.sentAt >= from; i--) if (recent[i]!.answeredAt === undefined) return false;
  return true;
}

// A back-and-forth migration series on the Docker lab: the VM's link moves between the site
// xTRs (as a GNS3 user re-links it), both site xTRs get the VM's new placement through
// `livmap oor-update` (OOR's local API, no restart), optionally `POST /api/v1/moves` tells livmap
// at once, and a 1 ms UDP probe from the correspondent host measures each outage.
import { spawn } from 'node:child_process';
import type { Lab, LabVm } from '../../xtr-config/lab.js';
import { measureOutage, round, summarize, type Probe } from '../stats.js';
import type { DockerLab } from './docker-lab.js';

export interface SeriesOptions {
  readonly moves: number;
  /** Probing before each move (the probe process starts first). */
  readonly beforeMs?: number;
  /** Probing after each move: a move not recovered by then is reported as not recovered. */
  readonly afterMs?: number;
  readonly probeIntervalMs?: number;
  /** Also POST /api/v1/moves to livmap right after re-linking. */
  readonly postMoves?: boolean;
  /** Pause between the end of one move's probing and the next move. */
  readonly gapMs?: number;
  readonly log?: (line: string) => void;
}

export interface MoveResult {
  readonly move: number;
  readonly from: string;
  readonly to: string;
  readonly direction: string;
  /** Re-link + both oor-update (+ POST /moves): how long the move's commands took. */
  readonly moveCommandsMs: number;
  readonly oorUpdate: Record<string, { readonly ok: boolean; readonly ms: number; readonly output: string }>;
  readonly downtimeMs: number;
  /** First answered probe after the gap, counted from the end of the move commands; null if none. */
  readonly backAfterMoveDoneMs: number | null;
  readonly lostProbes: number;
  readonly probesSent: number;
  readonly probesAnswered: number;
  readonly answeredAfterMove: number;
  /** Traffic came back after the move (answered probes after the last loss). */
  readonly recovered: boolean;
  readonly gapFromMs: number;
  readonly gapToMs: number;
  /** The probe's send times and RTTs (ms since the move), for timelines. */
  readonly timeline: { readonly sentMs: number[]; readonly rttMs: Array<number | null> };
}

export interface SeriesResult {
  readonly emulator: 'containers';
  readonly vm: string;
  readonly probe: { readonly from: string; readonly to: string; readonly intervalMs: number };
  readonly moves: MoveResult[];
  readonly summary: { readonly count: number; readonly recovered: number; readonly medianMs: number; readonly p95Ms: number; readonly maxMs: number };
  readonly failedMoves: number[];
}

interface ProbeOutput {
  readonly sendWall: number[];
  readonly rttMs: Array<number | null>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs the probe inside the correspondent host; resolves with its JSON line. */
function probe(dl: DockerLab, node: string, args: readonly string[]): { done: Promise<ProbeOutput> } {
  const child = spawn('docker', ['exec', dl.containerName(node), 'livmap-host', 'probe', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<ProbeOutput>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`probe failed (${code}): ${err.trim()} ${out.trim()}`));
      else resolve(JSON.parse(line) as ProbeOutput);
    });
  });
  return { done };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: Error }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (err) {
    return { ms: performance.now() - t0, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** Until the correspondent reaches the VM (OOR registered, map-caches filled), or the deadline. */
export async function waitForReachability(dl: DockerLab, lab: Lab, vm: LabVm, deadlineMs: number): Promise<boolean> {
  const corr = lab.correspondent!;
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const out = await probe(dl, corr.node, ['--bind', corr.address, '--to', `${vm.address}:7000`, '--interval-ms', '50', '--duration-ms', '1000']).done;
    if (out.rttMs.slice(-5).some((r) => r !== null)) return true;
  }
  return false;
}

async function apiToken(dl: DockerLab, lab: Lab): Promise<string> {
  const { stdout } = await dl.exec(lab.mapServer.node, ['cat', '/var/lib/livmap/api-token']);
  return stdout.trim();
}

export async function runSeries(dl: DockerLab, lab: Lab, options: SeriesOptions): Promise<SeriesResult> {
  const vm = lab.vms[0]!;
  const corr = lab.correspondent;
  if (!corr) throw new Error('the lab has no correspondent host to probe from');
  if (vm.placements.length < 2) throw new Error(`VM ${vm.node} may run at one site only`);
  const beforeMs = options.beforeMs ?? 1000;
  const afterMs = options.afterMs ?? 6000;
  const interval = options.probeIntervalMs ?? 1;
  const log = options.log ?? (() => undefined);
  const token = options.postMoves ? await apiToken(dl, lab) : '';
  const rlocOf = (xtr: string): string => lab.nodes.find((n) => n.name === xtr)!.interfaces[0]!.address.split('/')[0]!;

  let at = vm.placements.find((p) => p.site === vm.startSite)!;
  const moves: MoveResult[] = [];
  for (let i = 1; i <= options.moves; i++) {
    const to = vm.placements[(vm.placements.indexOf(at) + 1) % vm.placements.length]!;
    const p = probe(dl, corr.node, ['--bind', corr.address, '--to', `${vm.address}:7000`, '--interval-ms', String(interval), '--duration-ms', String(beforeMs + afterMs + 1500)]);
    // docker exec and Node's start take a few hundred ms before the first probe leaves.
    await sleep(beforeMs + 1500 - 200);
    const moveAt = Date.now();
    await dl.disconnect(at.port);
    await dl.connect(to.port, { node: vm.node, adapter: 0 });
    const updates = await Promise.all(
      [to.port.node, at.port.node].map(async (xtr) => {
        const r = await timed(() => dl.exec(xtr, ['livmap', 'oor-update', '--conf', to.oorConf, '--nudge', `${rlocOf(xtr)}:4342`]));
        const output = r.error ? r.error.message : `${r.value!.stdout}${r.value!.stderr}`.trim();
        return [xtr, { ok: !r.error, ms: round(r.ms), output }] as const;
      }),
    );
    if (options.postMoves) {
      const body = JSON.stringify({ eid: vm.eid, site: to.site });
      const script = `fetch('http://127.0.0.1:${lab.mapServer.apiPort}/api/v1/moves',{method:'POST',headers:{'content-type':'application/json',authorization:'Bearer ${token}'},body:process.argv[1]}).then(async r=>{console.log(r.status,await r.text());process.exit(r.ok?0:1)})`;
      const r = await timed(() => dl.exec(lab.mapServer.node, ['node', '-e', script, body]));
      log(`move ${i}: POST /moves ${r.error ? `failed: ${r.error.message}` : r.value!.stdout.trim()}`);
    }
    const moveDone = Date.now();
    const out = await p.done;
    const probes: Probe[] = out.sendWall.map((sentAt, k) => {
      const rtt = out.rttMs[k];
      return rtt === null || rtt === undefined ? { sentAt } : { sentAt, answeredAt: sentAt + rtt };
    });
    if (probes.length === 0 || probes[0]!.sentAt > moveAt - 50) throw new Error(`move ${i}: the probe started too late (first probe ${probes[0] ? round(probes[0].sentAt - moveAt) : 'none'} ms after the move)`);
    const outage = measureOutage(probes, moveAt, 50);
    const answeredAfterMove = probes.filter((q) => q.sentAt > moveDone && q.answeredAt !== undefined).length;
    const result: MoveResult = {
      move: i,
      from: at.site,
      to: to.site,
      direction: `${at.site}-to-${to.site}`,
      moveCommandsMs: moveDone - moveAt,
      oorUpdate: Object.fromEntries(updates),
      downtimeMs: round(outage.downtimeMs),
      backAfterMoveDoneMs: outage.censored ? null : round(Math.max(0, outage.gapToMs - (moveDone - moveAt))),
      lostProbes: outage.lostProbes,
      probesSent: probes.length,
      probesAnswered: probes.filter((q) => q.answeredAt !== undefined).length,
      answeredAfterMove,
      recovered: !outage.censored && answeredAfterMove > 0,
      gapFromMs: round(outage.gapFromMs),
      gapToMs: round(outage.gapToMs),
      timeline: { sentMs: out.sendWall.map((s) => round(s - moveAt)), rttMs: out.rttMs },
    };
    moves.push(result);
    log(
      `move ${i} ${result.direction}: ${result.recovered ? `${result.downtimeMs} ms lost, traffic back ${result.backAfterMoveDoneMs} ms after the move commands (${result.moveCommandsMs} ms)` : `NOT RECOVERED within ${afterMs} ms`}; oor-update ${updates.map(([x, u]) => `${x} ${u.ok ? 'ok' : 'FAILED'} ${u.ms} ms`).join(', ')}`,
    );
    at = to;
    if (options.gapMs) await sleep(options.gapMs);
  }
  const recovered = moves.filter((m) => m.recovered);
  const s = summarize(recovered.map((m) => m.downtimeMs));
  return {
    emulator: 'containers',
    vm: `${vm.node} ${vm.address}`,
    probe: { from: `${corr.node} ${corr.address}`, to: `${vm.address}:7000`, intervalMs: interval },
    moves,
    summary: { count: moves.length, recovered: recovered.length, medianMs: round(s.median), p95Ms: round(s.p95), maxMs: round(s.max) },
    failedMoves: moves.filter((m) => !m.recovered).map((m) => m.move),
  };
}

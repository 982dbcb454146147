// A back-and-forth migration series on the Docker lab: the VM's link moves between the site
// xTRs (as a GNS3 user re-links it), both site xTRs get the VM's new placement through
// `livmap oor-update` (OOR's local API, no restart), optionally `POST /api/v1/moves` tells livmap
// at once, and one continuous 1 ms UDP probe stream from the correspondent host to the VM
// covers the whole series. The runner records raw facts only; simulations/results.ts derives
// every outage, the same way as for the other emulators.
import { spawn } from 'node:child_process';
import { DEFAULT_ECHO_PORT, type Lab, type LabVm, type VmPlacement } from '../../xtr-config/lab.js';
import type { MoveRecord, ProbeLog, SeriesInput } from '../results.js';
import type { DockerLab } from './docker-lab.js';

export interface SeriesOptions {
  readonly moves: number;
  /** Time from one move to the next: the window in which a move must recover. */
  readonly periodMs?: number;
  /** Probing before the first move. */
  readonly beforeMs?: number;
  readonly probeIntervalMs?: number;
  /** Also POST /api/v1/moves to livmap right after re-linking (switchover "api"). */
  readonly postMoves?: boolean;
  readonly log?: (line: string) => void;
}

export interface ContainerSeries {
  readonly input: SeriesInput;
  /** What each `livmap oor-update` printed, per move and xTR. */
  readonly updates: ReadonlyArray<Record<string, { readonly ok: boolean; readonly output: string }>>;
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
}

/** Runs the probe inside the correspondent host; `done` resolves with its JSON output. */
function probe(dl: DockerLab, node: string, args: readonly string[]): Promise<ProbeLog> {
  const child = spawn('docker', ['exec', dl.containerName(node), 'livmap-host', 'probe', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise<ProbeLog>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`probe failed (${code}): ${err.trim()} ${out.trim().slice(0, 300)}`));
      else resolve(JSON.parse(line) as ProbeLog);
    });
  });
}

function probeArgs(lab: Lab, vm: LabVm, intervalMs: number, durationMs: number): string[] {
  const corr = lab.correspondent!;
  return ['--bind', corr.address, '--to', `${vm.address}:${DEFAULT_ECHO_PORT}`, '--interval-ms', String(intervalMs), '--duration-ms', String(durationMs)];
}

/** Until the correspondent reaches the VM (OOR registered, map-caches filled), or the deadline. */
export async function waitForReachability(dl: DockerLab, lab: Lab, vm: LabVm, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const out = await probe(dl, lab.correspondent!.node, probeArgs(lab, vm, 50, 1000));
    if (out.rttMs.slice(-5).some((r) => r !== null)) return true;
  }
  return false;
}

/** GET /api/v1/lookup for an EID inside the livmap node, summarized as site and RLOCs. */
async function lookup(dl: DockerLab, lab: Lab, eid: string, token: string): Promise<string> {
  const script = `fetch('http://127.0.0.1:${lab.mapServer.apiPort}/api/v1/lookup?eid='+process.argv[1],{headers:{authorization:'Bearer '+process.argv[2]}}).then(async r=>{console.log(r.status,await r.text())})`;
  try {
    const { stdout } = await dl.exec(lab.mapServer.node, ['node', '-e', script, eid, token]);
    return stdout.trim().slice(0, 600);
  } catch (err) {
    return `lookup failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export async function runSeries(dl: DockerLab, lab: Lab, options: SeriesOptions): Promise<ContainerSeries> {
  const vm = lab.vms[0]!;
  if (!lab.correspondent) throw new Error('the lab has no correspondent host to probe from');
  if (vm.placements.length < 2) throw new Error(`VM ${vm.node} may run at one site only`);
  const period = options.periodMs ?? 8000;
  const before = options.beforeMs ?? 1000;
  const interval = options.probeIntervalMs ?? 1;
  const log = options.log ?? (() => undefined);
  const rlocOf = (xtr: string): string => lab.nodes.find((n) => n.name === xtr)!.interfaces[0]!.address.split('/')[0]!;
  const token = (await dl.exec(lab.mapServer.node, ['cat', '/var/lib/livmap/api-token'])).stdout.trim();

  // docker exec and Node's start take a few hundred ms before the first probe leaves.
  const startup = 1500;
  const probing = probe(dl, lab.correspondent.node, probeArgs(lab, vm, interval, before + options.moves * period));
  // If a move throws, the probe is still running; its failure must not surface unhandled.
  probing.catch(() => undefined);
  const firstMove = Date.now() + startup + before;
  const vmEnd = { node: vm.node, adapter: 0 };
  const linkedAt = vm.placements.find((p) => dl.linked(p.port, vmEnd));
  if (!linkedAt) throw new Error(`VM ${vm.node} is linked to no site xTR`);
  let at: VmPlacement = linkedAt;
  const records: MoveRecord[] = [];
  const updates: Array<Record<string, { ok: boolean; output: string }>> = [];
  let previous: number | undefined;
  for (let i = 1; i <= options.moves; i++) {
    const to: VmPlacement = vm.placements[(vm.placements.indexOf(at) + 1) % vm.placements.length]!;
    await sleepUntil(firstMove + (i - 1) * period);
    const moveAt = Date.now();
    await dl.relink(vmEnd, to.port);
    const linkMovedAt = Date.now();
    const times: Record<string, number> = {};
    const moveUpdates: Record<string, { ok: boolean; output: string }> = {};
    await Promise.all(
      [to.port.node, at.port.node].map(async (xtr) => {
        try {
          const r = await dl.exec(xtr, ['livmap', 'oor-update', '--conf', to.oorConf, '--nudge', `${rlocOf(xtr)}:4342`]);
          moveUpdates[xtr] = { ok: true, output: `${r.stdout}${r.stderr}`.trim() };
          times[xtr] = Date.now();
        } catch (err) {
          moveUpdates[xtr] = { ok: false, output: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const notes = Object.entries(moveUpdates).flatMap(([x, u]) => (u.ok ? [] : [`oor-update on ${x} failed: ${u.output}`]));
    let apiMoveAt: number | undefined;
    if (options.postMoves) {
      const script = `fetch('http://127.0.0.1:${lab.mapServer.apiPort}/api/v1/moves',{method:'POST',headers:{'content-type':'application/json',authorization:'Bearer '+process.argv[2]},body:process.argv[1]}).then(async r=>{console.log(r.status,await r.text());process.exit(r.ok?0:1)})`;
      try {
        await dl.exec(lab.mapServer.node, ['node', '-e', script, JSON.stringify({ eid: vm.eid, site: to.site }), token]);
        apiMoveAt = Date.now();
      } catch (err) {
        notes.push(`POST /moves failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    records.push({
      index: i,
      from: at.site,
      to: to.site,
      gapS: previous === undefined ? 0 : Math.round((moveAt - previous) / 100) / 10,
      moveAt,
      linkMovedAt,
      ...(times[to.port.node] !== undefined ? { newXtrUpdatedAt: times[to.port.node]! } : {}),
      ...(times[at.port.node] !== undefined ? { oldXtrUpdatedAt: times[at.port.node]! } : {}),
      ...(apiMoveAt !== undefined ? { apiMoveAt } : {}),
      notes,
    });
    updates.push(moveUpdates);
    log(`move ${i} ${at.site} -> ${to.site}: link ${linkMovedAt - moveAt} ms, oor-update ${Object.entries(moveUpdates).map(([x, u]) => `${x} ${u.ok ? `ok ${times[x]! - moveAt} ms` : 'FAILED'}`).join(', ')}`);
    previous = moveAt;
    at = to;
    // livmap's view near the end of the window: which RLOCs it answers for the VM (why a move did not recover).
    await sleepUntil(moveAt + period - 1500);
    notes.push(`livmap near the end of the window: ${await lookup(dl, lab, vm.address, token)}`);
  }
  const probeLog = await probing;
  if (probeLog.sendWall.length === 0 || probeLog.sendWall[0]! > records[0]!.moveAt - 50) {
    throw new Error('the probe started after the first move: raise the start-up allowance');
  }
  return {
    input: {
      emulator: 'containers',
      xtr: 'oor',
      switchover: options.postMoves ? 'api' : 'register',
      variants: ['docker', 'oor-update'],
      probe: probeLog,
      moves: records,
    },
    updates,
  };
}

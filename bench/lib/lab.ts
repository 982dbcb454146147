// The lab where livmap and OOR's own Map-Server are measured side by side: Linux network
// namespaces joined by a bridge, every server on its own namespace and address, the load
// generator in another, so each server is reached over the same kind of path (veth → bridge →
// veth). Addresses are from 198.18.0.0/15, the RFC 2544 benchmarking range, which the load
// generator accepts besides loopback and which exists only inside these namespaces.
//
//   <P>-br   bridge br0 (no address)
//   <P>-gen  198.18.0.1  load generator, probes (the "xTR": ITR-RLOC and registering ETR)
//   <P>-echo 198.18.0.2  bare Node dgram echo (bench/echo.ts)
//   <P>-liv  198.18.0.3  livmap serve
//   <P>-oor  198.18.0.4  /usr/sbin/oor, operating-mode = MS, its own /tmp (unshare -m + tmpfs)
//
// Everything the lab creates is removed on close(), on exit, and on SIGINT/SIGTERM: the processes
// it started (each its own process group), the namespaces (`ip netns del`), and with OOR's mount
// namespace its tmpfs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { outputOf, repoRoot } from './loadgen.js';

export const LAB_PREFIX = '198.18.0';
export const LAB = {
  gen: `${LAB_PREFIX}.1`,
  echo: `${LAB_PREFIX}.2`,
  livmap: `${LAB_PREFIX}.3`,
  oor: `${LAB_PREFIX}.4`,
} as const;
export const LISP_PORT = 4342;
const ROLES = ['gen', 'echo', 'liv', 'oor'] as const;
type Role = (typeof ROLES)[number];
const ADDRESS: Record<Role, string> = { gen: LAB.gen, echo: LAB.echo, liv: LAB.livmap, oor: LAB.oor };

export interface OorSite {
  readonly prefix: string;
  /** OOR's MS takes HMAC-SHA-1 keys only (key-type 1). */
  readonly key: string;
}

export interface Lab {
  /** Namespace name of a role. */
  ns(role: Role): string;
  /** Starts OOR as a Map-Server for `site` in the oor namespace. */
  startOor(site: OorSite): void;
  /** Sends `payloadHex` from the generator's namespace until `target` answers with the nonce; the reply. */
  probe(target: string, payloadHex: string, o: ProbeOptions): Promise<Buffer>;
  /** OOR's log so far (for errors). */
  oorLog(): string;
  close(): void;
}

export interface ProbeOptions {
  readonly nonceOffset: number;
  readonly replyNonceOffset?: number;
  readonly portOffset?: number;
  readonly checksumOffset?: number;
  readonly timeoutMs?: number;
}

/** Why the lab cannot run here, or undefined when it can (root, ip, unshare, OOR, netns support). */
export function labUnavailable(oorBinary = '/usr/sbin/oor'): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces)';
  for (const cmd of ['ip', 'unshare', 'timeout']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `needs '${cmd}' on PATH`;
  }
  if (!existsSync(oorBinary)) return `needs OOR at ${oorBinary} (apt-get install -y openoverlayrouter)`;
  const probe = `lvbprobe${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return "'ip netns add' failed (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)";
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

function run(args: readonly string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
}

/** OOR's MS configuration: one lisp-site, more-specifics accepted (as the capture lab's MS). */
export function oorMsConfig(site: OorSite): string {
  return [
    'debug = 0',
    'operating-mode = MS',
    'control-iface = eth0',
    'lisp-site {',
    `    eid-prefix = ${site.prefix}`,
    '    key-type = 1',
    `    key = ${site.key}`,
    '    iid = 0',
    '    accept-more-specifics = true',
    '}',
    '',
  ].join('\n');
}

/**
 * Builds the lab. `lifetimeSeconds` bounds every process it starts (`timeout`), so nothing
 * outlives a bench killed with SIGKILL by more than that.
 */
export function createLab(lifetimeSeconds: number, oorBinary = '/usr/sbin/oor'): Lab {
  const prefix = `lvb${process.pid}`;
  const ns = (role: Role | 'br'): string => `${prefix}-${role}`;
  // Not under /tmp: OOR's tmpfs on /tmp would hide its config.
  const work = mkdtempSync('/var/tmp/livmap-bench-lab.');
  const children: ChildProcess[] = [];
  let oorLog = '';
  let closed = false;

  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const role of [...ROLES, 'br' as const]) spawnSync('ip', ['netns', 'del', ns(role)]);
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    close();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', close);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    run(['ip', 'netns', 'add', ns('br')]);
    run(['ip', '-n', ns('br'), 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', ns('br'), 'link', 'set', 'br0', 'up']);
    for (const role of ROLES) {
      const here = `${prefix}${role}a`.slice(-15);
      const there = `${prefix}${role}b`.slice(-15);
      run(['ip', 'netns', 'add', ns(role)]);
      run(['ip', 'link', 'add', here, 'type', 'veth', 'peer', 'name', there]);
      run(['ip', 'link', 'set', here, 'netns', ns(role)]);
      run(['ip', 'link', 'set', there, 'netns', ns('br')]);
      run(['ip', '-n', ns('br'), 'link', 'set', there, 'master', 'br0', 'up']);
      run(['ip', '-n', ns(role), 'link', 'set', here, 'name', 'eth0']);
      run(['ip', '-n', ns(role), 'addr', 'add', `${ADDRESS[role]}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns(role), 'link', 'set', 'eth0', 'up']);
      run(['ip', '-n', ns(role), 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    close();
    throw err;
  }

  return {
    ns,
    startOor(site) {
      const conf = join(work, 'oor.conf');
      writeFileSync(conf, oorMsConfig(site));
      // A private mount namespace with a tmpfs on /tmp: OOR's API socket path (ipc:///tmp/oor-ipc)
      // is fixed, and the host's /tmp stays untouched. The tmpfs goes with the mount namespace.
      const script = 'mount --make-rprivate / && mount -t tmpfs -o size=4m tmpfs /tmp && exec ip netns exec "$1" timeout "$2" "$3" -f "$4"';
      const child = spawn('unshare', ['-m', 'sh', '-c', script, 'oor-ms', ns('oor'), String(lifetimeSeconds), oorBinary, conf], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const keep = (c: Buffer): void => void (oorLog = (oorLog + c.toString('utf8')).slice(-4000));
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
    },
    async probe(target, payloadHex, o) {
      const args = [
        'netns', 'exec', ns('gen'), process.execPath, join(repoRoot(), 'dist/bench/lab-probe.js'),
        '--target', target, '--payload-hex', payloadHex, '--nonce-offset', String(o.nonceOffset),
        '--reply-nonce-offset', String(o.replyNonceOffset ?? 4), '--timeout-ms', String(o.timeoutMs ?? 10_000),
      ];
      if (o.portOffset !== undefined) args.push('--port-offset', String(o.portOffset));
      if (o.checksumOffset !== undefined) args.push('--checksum-offset', String(o.checksumOffset));
      const env = { ...process.env };
      delete env['NODE_OPTIONS'];
      const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
      children.push(child);
      const { code, stdout, stderr } = await outputOf(child);
      if (code !== 0) throw new Error(`probe of ${target}: ${stderr.trim() || `exit ${code}`}`);
      return Buffer.from((JSON.parse(stdout) as { replyHex: string }).replyHex, 'hex');
    },
    oorLog: () => oorLog,
    close,
  };
}

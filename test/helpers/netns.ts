// Network namespaces and real OOR daemons for tests. Each OOR gets its own mount namespace
// with a tmpfs on /tmp, because its API socket path (/tmp/oor-ipc) is fixed. Everything started
// here is bounded by `timeout` and must be stopped by the caller's teardown.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHILD_ENV } from './cli.js';

export const OOR_BIN = ['/usr/sbin/oor', '/usr/bin/oor', '/usr/local/sbin/oor'].find((p) => existsSync(p));

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** Why a real-OOR namespace test cannot run here, or undefined when it can. */
export function realOorMissing(): string | undefined {
  if (!OOR_BIN) return 'no oor binary (apt-get install -y openoverlayrouter)';
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces)';
  for (const cmd of ['ip', 'unshare', 'nsenter', 'timeout']) if (!onPath(cmd)) return `needs '${cmd}' on PATH`;
  const probe = `lvprobe${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return "'ip netns add' failed: needs CAP_SYS_ADMIN and CAP_NET_ADMIN";
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** Under CI=true a missing prerequisite is a failure; elsewhere the test skips with the reason. */
export function ciMustRun(): boolean {
  return process.env.CI === 'true';
}

export function sh(script: string): void {
  const r = spawnSync('sh', ['-ec', script], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`shell step failed (${r.status}): ${script}\n${r.stderr}`);
}

export interface Daemon {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a process, collecting its output; stop() sends TERM, then KILL after 2 s. */
export function daemon(cmd: string, args: readonly string[]): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * `oor -f CONF` inside network namespace NS, with a private /tmp. unshare, sh and `ip netns exec`
 * all exec, so the child's pid is oor's: its API socket is /proc/PID/root/tmp/oor-ipc.
 * CONF may live anywhere: it is read before the tmpfs hides /tmp.
 */
export function startOor(ns: string, conf: string, lifetimeS: number): Daemon {
  if (!OOR_BIN) throw new Error('no oor binary');
  // The config is read before the tmpfs hides /tmp (it may live there), then handed to OOR inside it.
  const script = `c=$(cat "$2") && mount --make-rprivate / && mount -t tmpfs -o size=4m tmpfs /tmp && printf '%s\\n' "$c" >/tmp/oor.conf && exec ip netns exec "$1" timeout ${lifetimeS} ${OOR_BIN} -f /tmp/oor.conf`;
  return daemon('unshare', ['-m', 'sh', '-c', script, 'oor-in-ns', ns, conf]);
}

/** The pid whose namespaces (mount and network) a command must join to reach this OOR. */
export function oorPid(oor: Daemon): number {
  // unshare, sh and `ip netns exec` exec one another: the child is `timeout`, already inside both
  // namespaces, and oor is its child in the same ones.
  if (oor.child.pid === undefined) throw new Error('oor did not start');
  return oor.child.pid;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `node -e SCRIPT` inside a namespace and returns its stdout (for REST calls to namespace addresses). */
export function nodeIn(ns: string, script: string, args: readonly string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV, timeout: 10_000 });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`node in ${ns} exited ${code}: ${err}`))));
  });
}

const FETCH_JSON = `
const [url, token] = process.argv.slice(1);
fetch(url, { headers: { authorization: 'Bearer ' + token } }).then(async (r) => {
  if (!r.ok) throw new Error(r.status + ' ' + (await r.text()));
  process.stdout.write(await r.text());
}).catch((e) => { console.error(String(e)); process.exit(1); });`;

/** GET a livmap REST path from inside the namespace its API listens in. */
export async function apiGet<T>(ns: string, base: string, token: string, path: string): Promise<T> {
  return JSON.parse(await nodeIn(ns, FETCH_JSON, [`${base}${path}`, token])) as T;
}

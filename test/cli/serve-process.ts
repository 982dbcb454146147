// A real `livmap serve` child process for the CLI tests: started with any arguments, resolved
// once the operator API listens, with its config, data directory, token and output at hand.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHILD_ENV, LIVMAP_BIN, livmap, type CliRun } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/udp.js';


export interface ServeProcess {
  readonly child: ChildProcess;
  readonly api: string;
  readonly lispPort: number;
  readonly token: string;
  readonly configFile: string;
  output(): string;
  /** Resolves when the output (from now on, or from the start with `already`) matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Runs `livmap ARGS --api URL --token TOKEN`. */
  cli(args: readonly string[]): Promise<CliRun>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export const TOKEN = 'cli-test-token-0123456789';

export const DEMO_SITES = [
  { name: 'local', keys: [{ alg: 'hmac-sha1', secret: 'local-key' }], prefixes: [{ eid: '10.16.10.0/24', acceptMoreSpecifics: true }] },
  { name: 'cloud', keys: [{ alg: 'hmac-sha1', secret: 'cloud-key' }], prefixes: [{ eid: '192.168.20.0/24', acceptMoreSpecifics: true }] },
];

/** Writes a config in `dir` (merged over a two-site one on free loopback ports) and runs serve on it. */
export async function serveWith(dir: string, extra: Record<string, unknown> = {}, args: readonly string[] = []): Promise<ServeProcess> {
  const lispPort = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const config = {
    dataDir: 'data',
    lisp: { listen: [`127.0.0.1:${lispPort}`] },
    api: { listen: `127.0.0.1:${apiPort}`, token: TOKEN },
    sites: DEMO_SITES,
    ...extra,
  };
  const configFile = join(dir, 'livmap.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return startServeProcess(['--config', configFile, ...args], { api: `http://127.0.0.1:${apiPort}`, lispPort, token: TOKEN, configFile });
}

export function startServeProcess(
  args: readonly string[],
  known: { api: string; lispPort: number; token: string; configFile: string },
  cwd?: string,
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [LIVMAP_BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV, ...(cwd ? { cwd } : {}) });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (pattern: RegExp, timeoutMs = 20_000, from = 0): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(out.slice(from))) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out}`));
      }, timeoutMs);
      waiters.add(check);
      check();
      void exited.then((code) => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}) before ${pattern}; output:\n${out}`));
      });
    });
  const process_: ServeProcess = {
    child,
    ...known,
    output: () => out,
    waitFor: (pattern, timeoutMs) => waitFor(pattern, timeoutMs, out.length),
    cli: (cliArgs) => livmap([...cliArgs, '--api', known.api, '--token', known.token]),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, ms: 0 };
      const started = performance.now();
      child.kill(signal);
      const code = await exited;
      return { code, ms: performance.now() - started };
    },
  };
  return waitFor(/operator API listening/).then(() => process_);
}

/** A UDP port free a moment ago on ::1 (the shared helper binds IPv4 only). */
export async function freeUdp6Port(): Promise<number> {
  const socket = dgram.createSocket('udp6');
  await new Promise<void>((resolve) => socket.bind(0, '::1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

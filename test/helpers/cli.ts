// Runs the real `bin/livmap` as a child process. It runs the build in dist/ that `npm test`
// makes first (pretest); run `npm run build` before running a CLI test file on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LIVMAP_BIN = fileURLToPath(new URL('../../bin/livmap', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../dist/mapserver/cli/main.js', import.meta.url));

// tap's TypeScript loader must not leak into the compiled CLI, or any process, we spawn.
export const CHILD_ENV = { ...process.env, NODE_OPTIONS: '' };

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd` to its end (killed after `timeoutMs` if given) and collects what it printed. */
export function runProcess(cmd: string, args: readonly string[], options: { readonly cwd?: string; readonly timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV,
      ...(options.cwd ? { cwd: options.cwd } : {}), ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function livmap(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<CliRun> {
  if (!existsSync(ENTRY)) throw new Error('dist/ is missing: run `npm run build` (npm test does it)');
  return runProcess(process.execPath, [LIVMAP_BIN, ...args], options);
}

/**
 * `livmap serve --config FILE` as a child process, resolved once it listens; `output()` is
 * everything it has printed so far (log lines on stdout, errors on stderr).
 */
export function startServe(configPath: string): Promise<ChildProcess & { output(): string }> {
  const child = spawn(process.execPath, [LIVMAP_BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 15_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('LISP control plane listening')) {
        clearTimeout(timer);
        resolve(Object.assign(child, { output: () => out }));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

/** Sends `signal` and resolves with the exit code. */
export function killed(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

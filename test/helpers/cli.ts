// Runs the real `bin/livmap` as a child process. It runs the build in dist/ that `npm test`
// makes first (pretest); run `npm run build` before running a CLI test file on its own.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LIVMAP_BIN = fileURLToPath(new URL('../../bin/livmap', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../dist/mapserver/cli/main.js', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function livmap(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<CliRun> {
  if (!existsSync(ENTRY)) throw new Error('dist/ is missing: run `npm run build` (npm test does it)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LIVMAP_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// The bench entry points refuse a mistyped option with one line and the usage (exit 2), before
// they build or load anything; --help prints the usage. Runs the build in dist/ (npm test builds it).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = (file: string): string => fileURLToPath(new URL(`../../dist/bench/${file}`, import.meta.url));
const run = (file: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  if (!existsSync(dist(file))) throw new Error('dist/ is missing: run `npm run build` (npm test does it)');
  const r = spawnSync(process.execPath, [dist(file), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

for (const [file, args, says] of [
  ['run.js', ['--bogus'], "Unknown option '--bogus'"],
  ['run.js', ['--only', 'map-request,nope'], "--only: unknown part 'nope' (db, map-request, map-register, oor, cold-start, mobility, post-smr, overload)"],
  ['profile.js', ['--mappings', 'lots'], "--mappings must be a whole number from 1 to 2000000, got 'lots'"],
  ['profile.js', ['--scenario', 'echo'], "--scenario is map-request or map-register, got 'echo'"],
  ['profile.js', ['--phase', 'later'], "--phase is load or startup, got 'later'"],
] as const) {
  t.test(`${file} ${args.join(' ')}: one line and the usage, exit 2`, async (t) => {
    const r = run(file, ...args);
    t.equal(r.status, 2);
    t.equal(r.stderr.split('\n')[0], says);
    t.match(r.stderr, /^usage: npm run bench/m);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
}

for (const file of ['run.js', 'profile.js']) {
  t.test(`${file} --help prints the usage and exits 0`, async (t) => {
    const r = run(file, '--help');
    t.equal(r.status, 0);
    t.match(r.stdout, /^usage: npm run bench/);
    t.equal(r.stderr, '');
  });
}

// The in-process paths, tiny: they load the build's modules by path, which a move of a module
// breaks silently (register-path looked for mapserver/server.js after it moved to compose/).
for (const [file, args, says] of [
  ['register-path.js', ['--hosts', '50', '--rounds', '1'], /^ {2}this build \(.+\): \d+\.\d+ µs CPU per Map-Register/m],
  ['hot-path.js', ['--mappings', '50', '--rounds', '1'], /^ {2}this build \(.+\): \d+\.\d+ µs CPU per request; decode alone \d+\.\d+ µs/m],
] as const) {
  t.test(`${file} ${args.join(' ')} measures this build`, async (t) => {
    const r = run(file, ...args);
    t.equal(r.stderr, '', 'nothing on stderr');
    t.equal(r.status, 0);
    t.match(r.stdout, says);
  });
}

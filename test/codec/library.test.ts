// The codec as a library: the README's example, run as it stands through the package name
// (`livmap/codec`, resolved by package.json's `exports`), and its types seen by a TypeScript consumer.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function readmeExample(): { code: string; expected: string } {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The codec as a library'));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README: no js block in "The codec as a library"');
  const code = block[1]!;
  const expected = /\/\/ -> (.*)\n/.exec(code);
  if (!expected) throw new Error('README example: no "// -> expected output" line');
  return { code, expected: expected[1]! };
}

t.test('the README example runs through the package name and prints what it says', async (t) => {
  const { code, expected } = readmeExample();
  // A module inside the package's own folder reaches it by name (package self-reference).
  const file = join(root, 'dist', `readme-example-${process.pid}.mjs`);
  writeFileSync(file, code);
  t.teardown(() => run('rm', ['-f', file]));
  const { stdout } = await run(process.execPath, [file], { cwd: root });
  t.equal(stdout.trim(), expected);
});

t.test('the entry is typed: a TypeScript consumer compiles against dist/ declarations', async (t) => {
  t.ok(existsSync(join(root, 'dist', 'mapserver', 'codec', 'index.d.ts')), 'declarations are built');
  const file = join(root, 'dist', `consumer-${process.pid}.mts`);
  writeFileSync(file, [
    "import { decode, parseEidPrefix, type MapRequest } from 'livmap/codec';",
    "const prefix = parseEidPrefix('10.0.0.0/8');",
    'const length: number = prefix.length;',
    "export function firstRecord(bytes: Uint8Array): string { const m = decode(bytes); return m.type === 'map-request' ? String((m as MapRequest).records.length) : String(length); }",
    // A type error must be reported, or this check could not fail.
    "export const wrong: string = prefix.length;",
    '',
  ].join('\n'));
  t.teardown(() => run('rm', ['-f', file]));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', file];
  const failed = await run(process.execPath, [tsc, ...args], { cwd: root }).then(() => undefined, (err: { stdout: string }) => err.stdout);
  const lines = (failed ?? '').split('\n').filter((l) => l.includes('error TS'));
  t.equal(lines.length, 1, `exactly the planted error: ${lines.join(' | ')}`);
  t.match(lines[0] ?? '', /wrong|not assignable to type 'string'/);
});

// The README's tour is run as written, so it cannot drift: every `$ command` of its ```console
// blocks runs, in order, in one shell, against `bin/livmap serve` started as the README's first
// line starts it (demo config, default ports, ./data). A fresh network namespace gives it
// 127.0.0.1:4342 and :8080 to itself. The output must match the README's, with numbers and
// times (RTTs, ports, ids, ages) and runs of spaces (table widths) compared loosely.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface TourStep {
  readonly command: string;
  readonly expected: string[];
}

/** The `$ ` commands (with `\` continuation lines) and their printed output, from ```console blocks. */
export function tourSteps(readme: string, heading = '## A tour, with real output'): TourStep[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no '${heading}' section`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: TourStep[] = [];
  for (const block of section.matchAll(/```console\n([^]*?)```/g)) {
    const lines = block[1]!.split('\n');
    if (lines.at(-1) === '') lines.pop();
    let current: { command: string; expected: string[] } | undefined;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.startsWith('$ ')) {
        let command = line.slice(2);
        while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
        current = { command, expected: [] };
        steps.push(current);
      } else if (current) {
        current.expected.push(line);
      } else {
        throw new Error(`console block line before any command: ${line}`);
      }
    }
  }
  return steps;
}

/** Numbers, ISO times and space runs vary from run to run; the words must not. */
export function normalize(lines: readonly string[]): string[] {
  return lines
    .map((line) => line
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
      .replace(/\d+(\.\d+)?/g, 'N')
      .replace(/\s+/g, ' ')
      .trimEnd())
    .filter((line, i, all) => line !== '' || i < all.length - 1);
}

t.test('the tour parser reads commands, continuations and outputs', async (t) => {
  const steps = tourSteps('# x\n\n## A tour, with real output\n\n```console\n$ echo a \\\n    b\na b\n$ true\n```\n\n```sh\n$ not-run\n```\n\n## Next\n```console\n$ later\n```\n');
  t.same(steps, [{ command: 'echo a  b', expected: ['a b'] }, { command: 'true', expected: [] }]);
  t.same(normalize(['took 3.5 ms at 2026-12-02T12:00:00.123Z,   port 4342  ']), ['took N ms at <time>, port N']);
});

const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0;
const ci = process.env.CI === 'true';

t.test('README tour: every command prints what the README shows', { skip: !canUnshare && !ci ? 'needs root for unshare -n' : false }, async (t) => {
  t.ok(canUnshare, 'unshare -n works (root): required under CI');
  const steps = tourSteps(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  t.ok(steps.length >= 10, `${steps.length} commands in the tour`);
  const dir = t.testdir();
  for (const name of ['bin', 'test', 'xtr-config']) symlinkSync(join(ROOT, name), join(dir, name));
  mkdirSync(join(dir, 'steps'));
  steps.forEach((step, i) => writeFileSync(join(dir, 'steps', `${i}.sh`), `${step.command}\n`));
  const script = `
ip link set lo up
bin/livmap serve > serve.log 2>&1 &
PID=$!
for i in $(seq 150); do grep -q 'operator API listening' serve.log && break; sleep 0.2; done
i=0
while [ -f steps/$i.sh ]; do . ./steps/$i.sh > steps/$i.out 2>&1; i=$((i + 1)); done
kill -TERM $PID
wait $PID
`;
  const run = spawnSync('unshare', ['-n', 'sh', '-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 100_000 });
  t.equal(run.status, 0, 'the tour ran and serve stopped cleanly');
  if (run.status !== 0) t.comment(`${run.stdout}\n${run.stderr}\n${readFileSync(join(dir, 'serve.log'), 'utf8')}`);
  steps.forEach((step, i) => {
    const actual = readFileSync(join(dir, 'steps', `${i}.out`), 'utf8').split('\n');
    t.same(normalize(actual), normalize(step.expected), `$ ${step.command}`);
  });
});

// The bench's CPU reading (bench/lib/process-cpu.ts) against a real child process whose own
// CPU use is known: it burns 300 ms of CPU (by its own process.cpuUsage), says so, then idles.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { measureCpu, processCpuSeconds } from '../../bench/lib/process-cpu.js';

const CHILD = `
const burn = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const start = burn();
process.stdin.once('data', () => {
  while (burn() - start < 300) {}
  process.stdout.write('burned\\n');
  process.stdin.once('data', () => process.exit(0));
});
process.stdout.write('ready\\n');
`;

t.test('reads the CPU time a process used, from /proc', async (t) => {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill());
  const lines = child.stdout.setEncoding('utf8');
  await once(lines, 'data');
  const idle = await measureCpu(child.pid, () => new Promise((resolve) => setTimeout(resolve, 300)));
  t.ok(idle.cores !== undefined && idle.cores < 0.2, `an idle process: ${idle.cores?.toFixed(3)} cores`);
  const before = processCpuSeconds(child.pid);
  child.stdin.write('go\n');
  await once(lines, 'data');
  const after = processCpuSeconds(child.pid);
  t.ok(before !== undefined && after !== undefined, 'readable while the process lives');
  const used = after! - before!;
  // The child counted 300 ms of its own CPU; /proc counts in clock ticks (10 ms) and sees the
  // same time, plus its writes.
  t.ok(used >= 0.28 && used <= 0.6, `burned ${used.toFixed(3)} s of CPU (the child measured 0.300 s)`);
  child.stdin.write('exit\n');
  await once(child, 'exit');
  t.equal(processCpuSeconds(child.pid), undefined, 'a process that is gone: undefined, not a number');
  t.equal(processCpuSeconds(undefined), undefined, 'no pid: undefined');
  const none = await measureCpu(undefined, async () => 7);
  t.same(none, { result: 7, cores: undefined }, 'the run still runs without a pid');
});

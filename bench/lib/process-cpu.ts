// How busy a server process was during a run: its CPU time (all threads, user + system) from
// /proc, so a latency figure can be read beside the load it was measured at. A paced run at half
// of a server's closed-loop throughput is not half of its CPU: without the batching of a full
// receive queue, each datagram costs the wake-up and the poll a batch shares.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** The kernel's clock tick (USER_HZ), which /proc/<pid>/stat counts CPU time in. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
    const n = Number(out);
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** CPU seconds process `pid` has used so far (every thread), or undefined without /proc or the process. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicks();
}

/** `run`'s result and the share of one core `pid` used while it ran (undefined when unreadable). */
export async function measureCpu<T>(pid: number | undefined, run: () => Promise<T>): Promise<{ readonly result: T; readonly cores: number | undefined }> {
  const before = processCpuSeconds(pid);
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const after = processCpuSeconds(pid);
  return { result, cores: before === undefined || after === undefined || seconds <= 0 ? undefined : (after - before) / seconds };
}
